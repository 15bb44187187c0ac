/**
 * Every Ethernet capture of test/data/pcaps, replayed over a silent veth into
 * the daemon (started as a user runs it: -i -f -b -u), must give EXACTLY
 * libpcap's packets and wire bytes per rule.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { CAPTURE_RULES, COMMON_RULES } from './capture-rules';
import { formatLines, runLiveCase } from '../support/live-count';
import { recvVlanOffload } from '../support/netns';
import { busiestUnicastMac, readClassicPcap } from '../support/pcap';
import { TEST_PCAPS, captureNames } from '../support/paths';
import { replayProblem } from '../support/replayable';
import { suiteLink } from '../support/suite-link';

describe('live: shared Ethernet captures through a veth, counts equal libpcap', () => {
  const veth = suiteLink();

  test('the receiving veth: VLAN offload state (informational, see README of test/live)', (t) => {
    t.diagnostic(`ethtool -k: ${recvVlanOffload(veth()) || 'ethtool not installed'}`);
  });

  const names = captureNames('EN10MB');
  let replayed = 0;
  test('the index lists every Ethernet capture of test/data/pcaps', () => {
    // INDEX.tsv holds 23 Ethernet captures: a shorter list would let the replays below pass on less.
    assert.ok(names.length >= 23, `INDEX.tsv lists ${names.length} Ethernet captures`);
  });

  for (const name of names) {
    test(name, async (t) => {
      const path = join(TEST_PCAPS, name);
      const capture = readClassicPcap(path);
      const problem = replayProblem(capture);
      assert.equal(problem, undefined, `${name} cannot be replayed faithfully: ${problem}`);
      const own = CAPTURE_RULES[name];
      assert.ok(own, `no live rule set for ${name}: add one to test/live/capture-rules.ts`);
      const r = await runLiveCase(veth(), {
        capture: path,
        rules: [...own, ...COMMON_RULES],
        mac: busiestUnicastMac(capture) ?? '02:b0:cf:00:00:10',
      });
      t.diagnostic(`$MAC=${r.mac}, ${capture.frames.length} frames + ${r.probesCounted} probe(s) counted (${r.probesSent} sent)`);
      assert.deepEqual(formatLines(r.actual), formatLines(r.expected), `daemon (left) vs libpcap (right); daemon stderr: ${r.daemonStderr}`);
      assert.equal(r.recvTxDuringRun, 0, 'the receiving veth sent frames: the link is not silent');
      assert.deepEqual(r.exit, { code: 0, signal: null }, `SIGTERM must end the daemon with exit 0; stderr: ${r.daemonStderr}`);
      assert.ok(r.socketRemoved, 'the socket file must be removed on SIGTERM');
      replayed++;
    });
  }

  test('every listed capture was replayed and compared', () => {
    assert.equal(replayed, names.length, `${replayed} of ${names.length} captures compared`);
  });
});
