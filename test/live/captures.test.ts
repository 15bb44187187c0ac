/**
 * Every Ethernet capture of ../shared/pcaps, replayed over a silent veth into
 * the daemon (started as a user runs it: -i -f -b -u), must give EXACTLY
 * libpcap's packets and wire bytes per rule.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CAPTURE_RULES, COMMON_RULES } from './capture-rules';
import { formatLines, runLiveCase } from '../support/live-count';
import { createLink, destroyLink, recvVlanOffload, type VethLink } from '../support/netns';
import { ensureOracle } from '../support/oracle';
import { busiestUnicastMac, readClassicPcap } from '../support/pcap';
import { SHARED_PCAPS } from '../support/paths';
import { requireLiveEnvironment } from '../support/root';
import { replayProblem } from '../support/replayable';

function ethernetCaptures(): string[] {
  const rows = readFileSync(join(SHARED_PCAPS, 'INDEX.tsv'), 'utf8').split('\n').slice(1);
  return rows.map((r) => r.split('\t')).filter((cols) => cols[1]?.startsWith('EN10MB')).map((cols) => cols[0]);
}

describe('live: shared Ethernet captures through a veth, counts equal libpcap', () => {
  let link: VethLink | undefined;
  before(() => {
    requireLiveEnvironment();
    ensureOracle();
    link = createLink();
  });
  after(() => {
    if (link) destroyLink(link);
  });

  test('the receiving veth: VLAN offload state (informational, see README of test/live)', (t) => {
    assert.ok(link);
    t.diagnostic(`ethtool -k: ${recvVlanOffload(link) || 'ethtool not installed'}`);
  });

  for (const name of ethernetCaptures()) {
    test(name, async (t) => {
      assert.ok(link, 'no veth link');
      const path = join(SHARED_PCAPS, name);
      const capture = readClassicPcap(path);
      const problem = replayProblem(capture);
      assert.equal(problem, undefined, `${name} cannot be replayed faithfully: ${problem}`);
      const own = CAPTURE_RULES[name];
      assert.ok(own, `no live rule set for ${name}: add one to test/live/capture-rules.ts`);
      const r = await runLiveCase(link, {
        capture: path,
        rules: [...own, ...COMMON_RULES],
        mac: busiestUnicastMac(capture) ?? '02:b0:cf:00:00:10',
      });
      t.diagnostic(`$MAC=${r.mac}, ${capture.frames.length} frames + ${r.probesCounted} probe(s) counted (${r.probesSent} sent)`);
      assert.deepEqual(formatLines(r.actual), formatLines(r.expected), `daemon (left) vs libpcap (right); daemon stderr: ${r.daemonStderr}`);
      assert.equal(r.recvTxDuringRun, 0, 'the receiving veth sent frames: the link is not silent');
      assert.deepEqual(r.exit, { code: 0, signal: null }, `SIGTERM must end the daemon with exit 0; stderr: ${r.daemonStderr}`);
      assert.ok(r.socketRemoved, 'the socket file must be removed on SIGTERM');
    });
  }
});
