/**
 * A live capture counts from its first packet by walking its rules' trees and switches to the
 * generated code one second after the sockets serve (src/engine/deferred-code.ts). Frames sent
 * steadily from the moment the socket answers until well after that switch must be counted
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

describe('live: counting across the switch to generated code', () => {
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
      const switched = traceMs(r.daemonStderr, 'generated matcher in use');
      assert.ok(serving !== undefined && switched !== undefined, `no serving/switch trace lines: ${r.daemonStderr}`);
      assert.ok(switched - serving >= 900, `switched ${switched - serving} ms after serving began`);
      assert.ok(replayMs >= 2500 && switched - serving <= replayMs - 500,
        `the replay (${replayMs} ms, started after the first answer) must span the switch (${switched - serving} ms after serving); run took ${Date.now() - started} ms`);
    });
  }
});
