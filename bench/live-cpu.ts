/**
 * Live CPU per 1M packets and the highest loss-free rate: bpfcountd against
 * the C original's capture loop (bench/prefilter/orig-live-loop.c: one
 * libpcap handle, no kernel filter, pcap_offline_filter per rule per packet),
 * both counting bench/freifunk.filters (18 rules) on a silent veth.
 * Not a test: figures for the README and the issue's closing note.
 *
 *   ./build.sh && node build/bench/live-cpu.js [--packets 3000000] [--rate 400000] [--runs 5]
 *       [--traffic mix,control] [--rates 100000,200000,...]
 *
 * 1. CPU: the same traffic at the same fixed rate (tcpreplay --pps), each
 *    run with a freshly started capturer, daemon and original alternating,
 *    after one unmeasured pass of the file (the daemon's JIT warm-up);
 *    CPU = the capturer's on-CPU time over the replay, per 1M packets sent:
 *    the sum of its threads' schedstat run times (nanoseconds; utime+stime
 *    come in 10 ms ticks, a 1M-packet run was some 10 ticks), with the
 *    ticks beside as a cross-check; medians, the spread of the runs, and
 *    the ratio of each pair of neighbouring runs. Every run must count exactly what libpcap counts
 *    on the file (else the row says how much was lost).
 * 2. Loss-free rate: rising rates, one run each, until a capturer loses a
 *    frame; the highest rate without loss for each.
 * Traffic: `mix` is bench/mix.ts's Freifunk-like mix (mostly unicast, which
 * the daemon's kernel filter keeps out of user space); `control` is
 * bench/prefilter/traffic.ts's control-heavy frames (every one matched by
 * some rule).
 * Needs root, tcpreplay, cc, libpcap-dev.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { countOf, sleep } from '../test/support/daemon';
import { createLink, destroyLink, setRecvMac, type VethLink } from '../test/support/netns';
import { ensureOracle } from '../test/support/oracle';
import { encodeEthernetPcap, writeEthernetPcap } from '../test/support/pcap';
import { requireLiveEnvironment } from '../test/support/root';
import { parseCountText, type CountLine } from '../test/support/socket-client';
import { expectedCounts, probeFrame } from '../test/support/live-count';
import { BENCH_MAC, generateMix } from './mix';
import { buildC, startDaemonCapturer, startOrigLoop, type Capturer } from './prefilter/capturers';
import { CLOCK_TICKS, loadAverage, processCpuSeconds, processTicks } from './prefilter/cpu';
import { replayRun } from './prefilter/replay';
import { freifunkRules, type BenchRule } from './prefilter/rules';
import { fixed, median, table } from './prefilter/table';
import { controlFrames } from './prefilter/traffic';
import { ROOT } from './peers';

const FILE_FRAMES = 20_000;

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

interface Run {
  who: 'bpfcountd' | 'original';
  pps: number;
  sent: number;
  /** On-CPU time from schedstat (ns-precise). */
  cpuSeconds: number;
  /** utime+stime (10 ms ticks), as a cross-check. */
  tickSeconds: number;
  /** Rule hits libpcap counts minus what the capturer counted (0 = exact). */
  missing: number;
}

interface Setup {
  link: VethLink;
  dir: string;
  rules: readonly BenchRule[];
  original: string;
  probePcap: string;
}

/** One capturer, freshly started, one replay of `loop` times the file at `pps` (undefined: top speed). */
async function oneRun(s: Setup, who: Run['who'], pcap: string, perFile: readonly { packets: number }[], loop: number, pps: number | undefined): Promise<Run> {
  const cap: Capturer = who === 'bpfcountd'
    ? await startDaemonCapturer(s.link, s.rules, s.dir, 'live-cpu', s.probePcap)
    : await startOrigLoop(s.link, s.original, s.rules, BENCH_MAC, s.dir, 'live-cpu-orig');
  let before: CountLine[] = [];
  try {
    // One pass of the file first, for both: what is measured is a running capturer,
    // not the JIT compiling the daemon's rule function on its first packets.
    await replayRun(s.link, pcap, { loop: 1, pps });
    await sleep(1500);
    // The daemon counted probes and the warm-up: counted from here on.
    if (cap.counts) before = await cap.counts();
    const t0 = processTicks(cap.pid);
    const c0 = processCpuSeconds(cap.pid);
    const rep = await replayRun(s.link, pcap, { loop, pps });
    // Longer than the buffer timeout (250 ms daemon, 1000 ms original): the last block is read.
    await sleep(1500);
    const cpuSeconds = processCpuSeconds(cap.pid) - c0;
    const tickSeconds = (processTicks(cap.pid) - t0) / CLOCK_TICKS;
    const after = cap.counts ? await cap.counts() : undefined;
    const stopped = await cap.stop();
    const final = after ?? parseCountText(stopped.stdout);
    let missing = 0;
    // The original prints its counters at exit only: they include the warm-up pass.
    const passes = cap.counts ? loop : loop + 1;
    s.rules.forEach((r, k) => {
      const got = countOf(final, r.id).packets - (before.length > 0 ? countOf(before, r.id).packets : 0);
      const want = perFile[k].packets * passes;
      if (got > want) throw new Error(`${who}: rule ${r.id} counted ${got} > libpcap's ${want}`);
      missing += want - got;
    });
    return { who, pps: rep.pps, sent: rep.sent, cpuSeconds, tickSeconds, missing };
  } catch (err) {
    await cap.stop().catch(() => undefined);
    throw err;
  }
}

async function trafficPart(s: Setup, name: string, frames: readonly Buffer[], packets: number, rate: number, runs: number, rates: readonly number[]): Promise<void> {
  const pcap = join(s.dir, `${name}.pcap`);
  writeFileSync(pcap, encodeEthernetPcap([...frames]));
  const perFile = expectedCounts(pcap, s.rules, BENCH_MAC);
  const loop = Math.max(1, Math.round(packets / frames.length));
  console.log(`\n== ${name}: ${loop * frames.length} packets at ${rate} pps, ${s.rules.length} rules, ${runs} runs each, alternating ==`);
  const results: Run[] = [];
  for (let i = 0; i < runs; i++) {
    const order: Run['who'][] = i % 2 === 0 ? ['bpfcountd', 'original'] : ['original', 'bpfcountd'];
    for (const who of order) {
      results.push(await oneRun(s, who, pcap, perFile, loop, rate));
    }
  }
  const rows = results.map((r) => [r.who, fixed(r.pps, 0), String(r.sent), fixed(r.cpuSeconds, 3), fixed((r.cpuSeconds * 1e6) / r.sent, 4),
    fixed((r.tickSeconds * 1e6) / r.sent, 3), r.missing === 0 ? 'none' : `${r.missing} rule hits`]);
  console.log(table(['capturer', 'sent pps', 'packets', 'CPU s', 'CPU s per 1M', '(ticks) per 1M', 'loss'], rows));
  const per1M = (who: Run['who']): number[] => results.filter((r) => r.who === who).map((r) => (r.cpuSeconds * 1e6) / r.sent);
  const spread = (xs: readonly number[]): string => `${fixed(Math.min(...xs), 4)}-${fixed(Math.max(...xs), 4)}`;
  const d = median(per1M('bpfcountd'));
  const o = median(per1M('original'));
  console.log(`  median CPU per 1M packets: bpfcountd ${fixed(d, 4)} s (runs ${spread(per1M('bpfcountd'))}), `
    + `original ${fixed(o, 4)} s (runs ${spread(per1M('original'))}): ratio ${fixed(d / o, 2)}x`);
  // Runs pair up in time (alternating order): the ratio of each pair shows how far the noise moves the ratio.
  const pairs: number[] = [];
  for (let i = 0; i + 1 < results.length; i += 2) {
    const [a, b] = results[i].who === 'bpfcountd' ? [results[i], results[i + 1]] : [results[i + 1], results[i]];
    pairs.push((a.cpuSeconds / a.sent) / (b.cpuSeconds / b.sent));
  }
  console.log(`  ratio per pair of neighbouring runs: ${pairs.map((x) => fixed(x, 2)).join(', ')} (median ${fixed(median(pairs), 2)}x)`);

  console.log(`  loss-free rate (${rates.join(', ')} pps, then top speed; one run each, stops at the first loss):`);
  for (const who of ['bpfcountd', 'original'] as const) {
    let best = 'none';
    for (const pps of [...rates, undefined]) {
      const r = await oneRun(s, who, pcap, perFile, loop, pps);
      const label = pps === undefined ? `top speed (${fixed(r.pps, 0)} pps)` : `${pps} pps (sent at ${fixed(r.pps, 0)})`;
      if (r.missing > 0) {
        console.log(`    ${who}: ${label}: lost ${r.missing} rule hits`);
        break;
      }
      best = label;
    }
    console.log(`    ${who}: highest rate without loss: ${best}`);
  }
}

async function main(): Promise<void> {
  requireLiveEnvironment();
  ensureOracle();
  const packets = Number(arg('--packets', '3000000'));
  const rate = Number(arg('--rate', '400000'));
  const runs = Number(arg('--runs', '5'));
  const traffic = arg('--traffic', 'mix,control').split(',');
  const rates = arg('--rates', '100000,200000,300000,400000,500000,600000,800000').split(',').map(Number);
  const dir = mkdtempSync(join(tmpdir(), 'bpfc-live-cpu-'));
  const link = createLink();
  try {
    // $MAC of the daemon (the interface's) = the original's --mac = the oracle's.
    setRecvMac(link, BENCH_MAC);
    const probePcap = join(dir, 'probe.pcap');
    writeEthernetPcap(probePcap, [probeFrame()]);
    const s: Setup = { link, dir, rules: freifunkRules(ROOT), original: buildC(ROOT, 'orig-live-loop'), probePcap };
    console.log(`load average at start: ${loadAverage()}`);
    if (traffic.includes('mix')) {
      const mix = generateMix(FILE_FRAMES).map((p) => Buffer.from(p.data));
      await trafficPart(s, 'mix', mix, packets, rate, runs, rates);
    }
    if (traffic.includes('control')) await trafficPart(s, 'control', controlFrames(FILE_FRAMES, BENCH_MAC), packets, rate, runs, rates);
    console.log(`load average at the end: ${loadAverage()}`);
  } finally {
    destroyLink(link);
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.stack ?? err.message : String(err));
  process.exit(1);
});
