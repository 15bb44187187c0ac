/**
 * An interface that exists but is administratively down (a WAN port switched
 * off, a mesh interface created before it is brought up): libpcap refuses to
 * open it ("That device is not up"). The section waits for it as for a
 * missing one: one log line, no error in the stats, no socket; once the
 * interface is up it counts exactly what is sent, from the first frame.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { sleep } from '../support/daemon';
import { ALL_ID, expectedCounts, formatLines, type RuleDef } from '../support/live-count';
import { replayAsync, run } from '../support/netns';
import { ensureOracle } from '../support/oracle';
import { TEST_PCAPS } from '../support/paths';
import { requireLiveEnvironment } from '../support/root';
import {
  addVeth, instanceStats, interfaceMac, isSocket, metricsBaseUrl, NO_UBUS, serviceTestBed, settledCounts, startServiceDaemon,
  uciText, waitForLog, writeAtomically,
} from '../support/service';

const RULES: readonly RuleDef[] = [{ id: 'arp', expr: 'arp' }, { id: 'udp', expr: 'udp' }, { id: ALL_ID, expr: 'greater 0' }];
const CAPTURE = join(TEST_PCAPS, 'eapon1.pcap');

test('an interface that is down: the section waits without an error, then counts exactly once it is up', async () => {
  requireLiveEnvironment();
  ensureOracle();
  const { dir, net, own } = serviceTestBed('bpfcountd-down-');
  const link = addVeth(net, 'dn0', 'dnp0');
  run(['ip', '-n', net.daemonNs, 'link', 'set', 'dev', 'dn0', 'down']);
  const socket = join(dir, 'dn.sock');
  const config = join(dir, 'bpfcountd');
  writeAtomically(config, uciText([{ name: 'dn', options: { ifname: 'dn0', socket, metrics_listen: '127.0.0.1:0' }, rules: RULES }]));
  const d = own(startServiceDaemon(net, ['-c', config, '--runtime-dir', join(dir, 'runtime'), NO_UBUS], socket));
  const url = await metricsBaseUrl(d);

  await waitForLog(d, /dn: dn0 is down: counting starts when it is up/);
  await sleep(2500); // two more hot-plug polls
  const waiting = await instanceStats(net, url, 'dn');
  assert.equal(waiting.state, 'waiting');
  assert.equal(waiting.error, undefined, `a down interface is a wait, not an error: ${JSON.stringify(waiting)}`);
  assert.equal(isSocket(socket), false, 'no socket before the capture counts');
  assert.equal(d.log.split('\n').filter((l) => l.includes('dn0 is down')).length, 1, `said once: ${d.log}`);
  assert.doesNotMatch(d.log, /not started/);

  const from = d.log.length;
  run(['ip', '-n', net.daemonNs, 'link', 'set', 'dev', 'dn0', 'up']);
  await waitForLog(d, /dn: counting 3 rules on dn0/, from, 5000);
  for (let i = 0; i < 100 && !/state UP/.test(run(['ip', '-n', net.daemonNs, 'link', 'show', 'dev', 'dn0'])); i++) await sleep(20);
  await replayAsync(link, CAPTURE);
  const want = expectedCounts(CAPTURE, RULES, interfaceMac(link));
  const lines = await settledCounts(d, socket, want[RULES.length - 1].packets);
  assert.deepEqual(formatLines(lines), formatLines(RULES.map((r, i) => ({ id: r.id, ...want[i] }))), `counters vs libpcap. ${d.describe()}`);
  assert.equal(d.hasExited, false);
});
