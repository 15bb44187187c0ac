/**
 * A live capture counts from its first packet by walking its rules' trees, with its prefilter as
 * kernel filter, and one second after the sockets serve switches to the generated code and
 * narrows the kernel filter to the OR of its rules (src/engine/deferred-builds.ts). Frames sent
 * steadily from the moment the socket answers until well after both switches must be counted
 * exactly as libpcap counts them: none lost, none counted twice, the same meaning on both sides.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { CAPTURE_RULES, COMMON_RULES } from './capture-rules';
import { formatLines, runLiveCase } from '../support/live-count';
import { busiestUnicastMac, readClassicPcap } from '../support/pcap';
import { TEST_PCAPS } from '../support/paths';
import { suiteLink } from '../support/suite-link';

/** Trace lines: `trace: <ms since start> ms ... <phase>`. */
function traceMs(log: string, phase: string): number | undefined {
  const line = log.split('\n').find((l) => l.startsWith('trace: ') && l.endsWith(phase));
  return line === undefined ? undefined : Number(/^trace: (\d+) ms/.exec(line)?.[1]);
}

describe('live: counting across the switch to generated code and the narrower kernel filter', () => {
  const veth = suiteLink();

  for (const name of ['eapon1.pcap', 'dcb_ets.pcap']) {
    test(`${name} replayed for 3 s from the first answer: counts equal libpcap's`, async () => {
      const path = join(TEST_PCAPS, name);
      const capture = readClassicPcap(path);
      const pps = 1000;
      const loop = Math.ceil((3 * pps) / capture.frames.length);
      const before = process.env.BPFCOUNTD_TRACE_STARTUP;
      process.env.BPFCOUNTD_TRACE_STARTUP = '1';
      let r: Awaited<ReturnType<typeof runLiveCase>>;
      const started = Date.now();
      let replayMs = 0;
      try {
        r = await runLiveCase(veth(), {
          capture: path,
          rules: [...(CAPTURE_RULES[name] ?? []), ...COMMON_RULES],
          mac: busiestUnicastMac(capture) ?? '02:b0:cf:00:00:10',
          replay: { pps, loop },
          duringReplay: async (_socket, replayDone) => {
            const from = Date.now();
            while (!replayDone()) await new Promise((resolve) => setTimeout(resolve, 20));
            replayMs = Date.now() - from;
          },
        });
      } finally {
        if (before === undefined) delete process.env.BPFCOUNTD_TRACE_STARTUP;
        else process.env.BPFCOUNTD_TRACE_STARTUP = before;
      }
      assert.deepEqual(formatLines(r.actual), formatLines(r.expected), `daemon (left) vs libpcap (right); log: ${r.daemonStderr}`);
      // The switch happened while frames were arriving: after serving, within the replay.
      const serving = traceMs(r.daemonStderr, ' serving');
      const generated = traceMs(r.daemonStderr, 'generated matcher in use');
      const narrowed = r.daemonStderr.split('\n').find((l) => / kernel filter narrowed \(\d+ chars\)$/.test(l));
      const narrowedMs = narrowed === undefined ? undefined : Number(/^trace: (\d+) ms/.exec(narrowed)?.[1]);
      assert.ok(serving !== undefined && generated !== undefined && narrowedMs !== undefined,
        `no serving/switch/narrowing trace lines: ${r.daemonStderr}`);
      const last = Math.max(generated, narrowedMs) - serving;
      assert.ok(Math.min(generated, narrowedMs) - serving >= 900, `switched ${generated - serving} / narrowed ${narrowedMs - serving} ms after serving began`);
      assert.ok(replayMs >= 2500 && last <= replayMs - 500,
        `the replay (${replayMs} ms, started after the first answer) must span both switches (the last ${last} ms after serving); run took ${Date.now() - started} ms`);
    });
  }
});
