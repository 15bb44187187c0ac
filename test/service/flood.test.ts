/**
 * Fault: the daemon cannot keep up. It is stopped (SIGSTOP) while a flood is
 * replayed into its interface at full speed, so its capture buffer fills and
 * the kernel drops the rest; then it continues (SIGCONT). Checked: it never
 * exits and keeps serving; it logs one line about the drops (not one per
 * packet, and no second line for a second flood within the rate limit);
 * counters are never reset; every frame sent is counted or reported dropped
 * (sent = counted + kernel drops + interface drops, as /stats.json reports
 * them); and traffic after the flood is counted exactly (the libpcap
 * oracle's counts of the frames sent).
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { sleep } from '../support/daemon';
import { ALL_ID, expectedCounts, formatLines, type RuleDef } from '../support/live-count';
import { replayAsync } from '../support/netns';
import { ensureOracle } from '../support/oracle';
import { TEST_PCAPS } from '../support/paths';
import { requireLiveEnvironment } from '../support/root';
import {
  addVeth, countIn, FEED_PPS, instanceStats, interfaceMac, metricsBaseUrl, NO_UBUS, serviceTestBed, settledCounts,
  startServiceDaemon, uciText, waitForLog, waitForSockets, writeAtomically, type InstanceDrops,
} from '../support/service';
import { readCounts, type CountLine } from '../support/socket-client';

const RULES: readonly RuleDef[] = [
  { id: 'arp', expr: 'arp' },
  { id: 'udp', expr: 'udp' },
  { id: 'bcast', expr: 'ether broadcast' },
  { id: ALL_ID, expr: 'greater 0' },
];
const CAPTURE = join(TEST_PCAPS, 'eapon1.pcap');
/** Replays of the capture per flood: ~34000 frames, far more than a 1 MiB ring holds, sent in well under a second. */
const FLOOD_LOOPS = 300;
const DROP_LINE = /dropped by the kernel/;

test('flood while the daemon is stopped: one log line, no exit, counters kept, sent = counted + drops, exact afterwards', { timeout: 120_000 }, async (t) => {
  requireLiveEnvironment();
  ensureOracle();
  const { dir, net, own } = serviceTestBed('bpfcountd-flood-');
  const link = addVeth(net, 'fld0', 'fldp0');
  const socket = join(dir, 'flood.sock');
  const config = join(dir, 'bpfcountd');
  writeAtomically(config, uciText([{
    name: 'flood',
    options: { ifname: 'fld0', socket, buffersize: '1048576', metrics_listen: '127.0.0.1:0' },
    rules: RULES,
  }]));
  const d = own(startServiceDaemon(net, ['-c', config, '--runtime-dir', join(dir, 'runtime'), NO_UBUS], socket));
  await waitForSockets(d, [socket]);
  const url = await metricsBaseUrl(d);
  const drops = async (): Promise<InstanceDrops> => (await instanceStats(net, url, 'flood')).drops;
  const perReplay = expectedCounts(CAPTURE, RULES, interfaceMac(link));
  const framesPerReplay = perReplay[RULES.length - 1].packets;
  let sent = 0;

  // 1. Paced traffic: counted exactly.
  sent += await replayAsync(link, CAPTURE, { pps: FEED_PPS });
  let lines = await settledCounts(d, socket, sent);
  assert.deepEqual(formatLines(lines), formatLines(RULES.map((r, i) => ({ id: r.id, ...perReplay[i] }))), 'before the flood');
  const beforeFlood = lines;

  /** Stops the daemon, floods, continues it; returns the counters once they settle. */
  const flood = async (): Promise<CountLine[]> => {
    process.kill(d.pid, 'SIGSTOP');
    try {
      sent += await replayAsync(link, CAPTURE, { loop: FLOOD_LOOPS });
    } finally {
      process.kill(d.pid, 'SIGCONT');
    }
    const counted = await settledCounts(d, socket, 0);
    await sleep(1000); // past the buffer timeout and a poll
    return settledCounts(d, socket, countIn(counted, ALL_ID).packets);
  };
  const account = async (what: string, counted: readonly CountLine[]): Promise<InstanceDrops> => {
    const dropped = await drops();
    const all = countIn(counted, ALL_ID).packets;
    t.diagnostic(`${what}: sent ${sent}, counted ${all}, kernel drops ${dropped.dropped}, interface drops ${dropped.ifdropped}`);
    assert.equal(all + dropped.dropped + dropped.ifdropped, sent, `${what}: sent = counted + kernel drops + interface drops`);
    return dropped;
  };

  // 2. The flood: the kernel drops what the stopped daemon's ring cannot hold.
  const logFrom = d.log.length;
  lines = await flood();
  assert.equal(d.hasExited, false, d.describe());
  const afterFlood = await account('first flood', lines);
  assert.ok(afterFlood.dropped > 0, `the flood made the kernel drop frames: ${JSON.stringify(afterFlood)}`);
  const text = await waitForLog(d, DROP_LINE, logFrom);
  await sleep(2500); // a poll or two more: still one line
  const dropLines = d.log.slice(logFrom).split('\n').filter((l) => DROP_LINE.test(l));
  assert.equal(dropLines.length, 1, `one line for the episode:\n${text}`);
  assert.match(dropLines[0], /^(bpfcountd: )?flood: \d+ packets dropped by the kernel/);
  t.diagnostic(`log: ${dropLines[0]}`);
  // Counters kept: none went back, none grew by more than the flood can explain.
  RULES.forEach((r, i) => {
    const was = countIn(beforeFlood, r.id);
    const now = countIn(lines, r.id);
    assert.ok(now.packets >= was.packets && now.bytes >= was.bytes, `${r.id} kept: ${JSON.stringify(was)} -> ${JSON.stringify(now)}`);
    assert.ok(now.packets - was.packets <= perReplay[i].packets * FLOOD_LOOPS, `${r.id}: no more than was sent`);
  });
  assert.ok(countIn(lines, ALL_ID).packets > countIn(beforeFlood, ALL_ID).packets, 'some of the flood was counted');

  // 3. After the flood: paced traffic is counted exactly on top of what the counters hold.
  sent += await replayAsync(link, CAPTURE, { pps: FEED_PPS });
  const settled = await settledCounts(d, socket, countIn(lines, ALL_ID).packets + framesPerReplay);
  assert.deepEqual(formatLines(settled), formatLines(RULES.map((r, i) => {
    const c = countIn(lines, r.id);
    return { id: r.id, packets: c.packets + perReplay[i].packets, bytes: c.bytes + perReplay[i].bytes };
  })), 'after the flood: exact');
  const paced = await account('after the flood', settled);
  assert.equal(paced.dropped, afterFlood.dropped, 'no kernel drop at the paced rate');

  // 4. A second flood within a minute: accounted the same, but no second line yet (rate limit).
  const secondFrom = d.log.length;
  lines = await flood();
  const second = await account('second flood', lines);
  assert.ok(second.dropped > afterFlood.dropped, 'the second flood dropped frames too');
  await sleep(2500);
  assert.equal(d.log.slice(secondFrom).split('\n').filter((l) => DROP_LINE.test(l)).length, 0, `rate-limited: ${d.log.slice(secondFrom)}`);

  assert.ok((await readCounts(socket)).length === RULES.length, 'still serving');
  assert.deepEqual(await d.stop('SIGTERM', 10_000), { code: 0, signal: null }, `the daemon ends cleanly. ${d.describe()}`);
});
