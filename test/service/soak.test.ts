/**
 * Soak: live replay at a fixed rate, then at twice that rate, into a daemon in
 * service mode. Every frame sent is either counted or reported as dropped
 * (sent = counted + kernel drops + libpcap/interface drops, exactly); after a
 * warm-up at both rates, the daemon's RSS, read every second, stays within
 * 1 MiB (highest minus lowest reading) and its file descriptors do not grow.
 * CI runs 60 s (SOAK_SECONDS); the long run (half the time at each rate):
 *   SOAK_SECONDS=3600 SOAK_PPS=150000 node --test build/test/service/soak.test.js
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { sleep } from '../support/daemon';
import { ALL_ID } from '../support/live-count';
import { replayAsync } from '../support/netns';
import { TEST_PCAPS } from '../support/paths';
import { requireLiveEnvironment } from '../support/root';
import {
  addVeth, countIn, instanceStats, metricsBaseUrl, NO_UBUS, serviceTestBed, startServiceDaemon, uciText, waitForSockets,
  writeAtomically, type InstanceDrops,
} from '../support/service';
import { readCounts } from '../support/socket-client';

const SECONDS = Number(process.env.SOAK_SECONDS ?? '60');
const PPS = Number(process.env.SOAK_PPS ?? '20000');
const CAPTURE = join(TEST_PCAPS, 'eapon1.pcap');
const FRAMES = 114;

/**
 * RSS, and the fewest descriptors over a few samples: some are open only for
 * a moment (the /stats.json connection just read, libpcap reading
 * /proc/net/dev for the interface drops at each once-a-second poll), a
 * leaked one is there in every sample.
 */
async function memory(pid: number): Promise<{ rss: number; fds: number }> {
  let fds = Infinity;
  for (let i = 0; i < 5; i++) {
    await sleep(100);
    fds = Math.min(fds, readdirSync(`/proc/${pid}/fd`).length);
  }
  return { rss: rssOf(pid), fds };
}

function rssOf(pid: number): number {
  return Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]) * 1024;
}

test(`soak: ${SECONDS} s at ${PPS} then ${2 * PPS} frames/s: every frame counted or reported dropped, memory flat`, { timeout: (SECONDS + 120) * 1000 }, async (t) => {
  requireLiveEnvironment();
  const { dir, net, own } = serviceTestBed('bpfcountd-soak-');
  const link = addVeth(net, 'soak0', 'soakp0');
  const socket = join(dir, 'soak.sock');
  const config = join(dir, 'bpfcountd');
  writeAtomically(config, uciText([{
    name: 'soak',
    options: { ifname: 'soak0', socket, buffersize: '2097152', metrics_listen: '127.0.0.1:0' },
    rules: [{ id: 'arp', expr: 'arp' }, { id: 'udp', expr: 'udp' }, { id: 'bcast', expr: 'ether broadcast' }, { id: ALL_ID, expr: 'greater 0' }],
  }]));
  const d = own(startServiceDaemon(net, ['-c', config, '--runtime-dir', join(dir, 'runtime'), NO_UBUS], socket));
  await waitForSockets(d, [socket]);
  const url = await metricsBaseUrl(d);
  const drops = async (): Promise<InstanceDrops> => (await instanceStats(net, url, 'soak')).drops;

  let sent = 0;
  /** Replays for `seconds` at `pps`; then every frame sent must be counted or reported dropped. */
  const phase = async (seconds: number, pps: number, what: string): Promise<void> => {
    const loops = Math.max(1, Math.round((seconds * pps) / FRAMES));
    sent += await replayAsync(link, CAPTURE, { pps, loop: loops });
    await sleep(1000); // past the buffer timeout: the last frames are delivered
    const counted = countIn(await readCounts(socket), ALL_ID).packets;
    const dropped = await drops();
    const lost = dropped.dropped + dropped.ifdropped;
    t.diagnostic(`${what}: sent ${sent}, counted ${counted}, kernel drops ${dropped.dropped}, interface drops ${dropped.ifdropped}`);
    assert.equal(counted + lost, sent, `${what}: sent = counted + dropped`);
  };

  // Warm-up at both rates: V8 compiles what each rate exercises and its heap reaches its working size.
  const warmUp = Math.min(10, SECONDS / 8);
  await phase(warmUp, PPS, 'warm-up');
  await phase(warmUp, 2 * PPS, 'warm-up at twice the rate');
  const before = await memory(d.pid);
  // RSS every second from here on: one reading could land anywhere on V8's collection cycle.
  const samples: number[] = [before.rss];
  const sampler = setInterval(() => samples.push(rssOf(d.pid)), 1000);
  after(() => clearInterval(sampler));
  await phase(SECONDS / 2, PPS, `${PPS}/s`);
  const half = samples.length;
  await phase(SECONDS / 2, 2 * PPS, `${2 * PPS}/s`);
  clearInterval(sampler);
  const afterSoak = await memory(d.pid);
  samples.push(afterSoak.rss);
  const mib = (bytes: number): string => (bytes / 1048576).toFixed(2);
  const range = (xs: number[]): string => `${mib(Math.min(...xs))}-${mib(Math.max(...xs))}`;
  t.diagnostic(`RSS after warm-up ${mib(before.rss)} MiB, at the end ${mib(afterSoak.rss)} MiB; `
    + `${samples.length} readings: ${range(samples.slice(0, half))} MiB at ${PPS}/s, ${range(samples.slice(half))} MiB at ${2 * PPS}/s; `
    + `fds ${before.fds} -> ${afterSoak.fds}`);
  const spread = Math.max(...samples) - Math.min(...samples);
  assert.ok(spread <= 1024 * 1024, `RSS moved by ${mib(spread)} MiB after warm-up (readings ${range(samples)} MiB)`);
  assert.equal(afterSoak.fds, before.fds, 'file descriptors');
  assert.equal(d.hasExited, false);
});
