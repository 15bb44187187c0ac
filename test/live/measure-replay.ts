/**
 * Not a test: the daemon's cost under replayed load, for the closing note.
 * Replays ~1M packets over a veth into the daemon and prints its CPU seconds
 * per 1M packets (utime+stime from /proc/<pid>/stat) and its peak RSS (VmHWM).
 * Also checks the counts are still exact against libpcap.
 *
 *   ./build.sh && node build/test/live/measure-replay.js [--packets N] [--pps N] [--workload small|mix|both]
 *
 * Workloads: "small" = 60-86 byte frames (ARP, TCP ACKs, DNS, mDNS, NS) with
 * the original's example rules plus the live suite's common rules; "mix" =
 * the benchmark's Freifunk-like mix (bench/mix.ts) with bench/freifunk.filters.
 * Without --pps tcpreplay sends at top speed and the daemon may drop frames
 * (reported); CPU per 1M is computed over the frames it counted.
 */
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { generateMix, BENCH_MAC } from '../../bench/mix';
import { COMMON_RULES } from './capture-rules';
import { countOf, sleep, startDaemon, waitForSocket, type Daemon } from '../support/daemon';
import {
  ALL_ID, expectedCounts, formatLines, probeFrame, PROBE_ID, ruleFileText, waitUntilCapturing, withHarnessRules, type RuleDef,
} from '../support/live-count';
import { createLink, destroyLink, replayTimed, setRecvMac } from '../support/netns';
import { encodeEthernetPcap, writeEthernetPcap } from '../support/pcap';
import { BUILD_DIR, REPO_ROOT } from '../support/paths';
import { requireLiveEnvironment } from '../support/root';
import { smallFrames } from '../support/small-frames';
import { readCounts, type CountLine } from '../support/socket-client';

const FILE_FRAMES = 10_000;
const CLOCK_TICKS = 100; // getconf CLK_TCK on Linux

interface Workload {
  name: string;
  frames: () => Buffer[];
  rules: () => RuleDef[];
}

const WORKLOADS: Record<string, Workload> = {
  small: { name: 'small', frames: () => smallFrames(FILE_FRAMES, BENCH_MAC), rules: () => [...COMMON_RULES] },
  mix: {
    name: 'mix',
    frames: () => generateMix(FILE_FRAMES).map((p) => Buffer.from(p.data)),
    rules: () => readFileSync(join(REPO_ROOT, 'bench', 'freifunk.filters'), 'utf8').split('\n')
      .filter((l) => l.trim() !== '' && !l.startsWith('#'))
      .map((l) => ({ id: l.slice(0, l.indexOf(';')), expr: l.slice(l.indexOf(';') + 1) })),
  },
};

function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // After "pid (comm) ": state is field 3, utime 14, stime 15 (1-based).
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}

function statusKb(pid: number, key: string): number {
  const m = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : NaN;
}

/** Waits until the counters stop moving (frames may have been dropped, so no target). */
async function waitQuiet(d: Daemon): Promise<CountLine[]> {
  let previous = '';
  for (;;) {
    const lines = await readCounts(d.socketPath, 30_000);
    const now = JSON.stringify(lines);
    if (now === previous) return lines;
    previous = now;
    await sleep(1000);
  }
}

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

async function measure(w: Workload, packets: number, pps: number | undefined): Promise<void> {
  const dir = join(BUILD_DIR, 'measure');
  mkdirSync(dir, { recursive: true });
  const pcap = join(dir, `${w.name}-${FILE_FRAMES}.pcap`);
  if (!existsSync(pcap)) writeFileSync(pcap, encodeEthernetPcap(w.frames()));
  const probePcap = join(dir, 'probe.pcap');
  writeEthernetPcap(probePcap, [probeFrame()]);
  const rules = withHarnessRules(w.rules());
  const filterFile = join(dir, `${w.name}.filter`);
  writeFileSync(filterFile, ruleFileText(rules));
  const loops = Math.max(1, Math.round(packets / FILE_FRAMES));

  const link = createLink();
  let d: Daemon | undefined;
  try {
    setRecvMac(link, BENCH_MAC);
    // The same replay with nobody listening: what sending alone costs the sender.
    const baseline = replayTimed(link, pcap, { loop: loops, pps });
    d = startDaemon(link, { filterFile, socketPath: join(dir, `${w.name}.sock`), bufferBytes: 2 * 1024 * 1024 });
    await waitForSocket(d);
    await waitUntilCapturing(link, d, probePcap);
    const comm = readFileSync(`/proc/${d.pid}/comm`, 'utf8').trim();
    if (comm !== 'node') throw new Error(`pid ${d.pid} is '${comm}', not the daemon's node process`);
    const rssIdle = statusKb(d.pid, 'VmRSS');
    const cpu0 = cpuSeconds(d.pid);
    const t0 = Date.now();
    const { sent, senderCpu } = replayTimed(link, pcap, { loop: loops, pps });
    const replaySeconds = (Date.now() - t0) / 1000;
    const lines = await waitQuiet(d);
    const cpu = cpuSeconds(d.pid) - cpu0;
    const hwm = statusKb(d.pid, 'VmHWM');
    const probes = countOf(lines, PROBE_ID).packets;
    const counted = countOf(lines, ALL_ID).packets - probes;

    // Exactness under load: libpcap's counts on the file, times the loops, plus the probes.
    const perFile = expectedCounts(pcap, rules, BENCH_MAC);
    const perProbe = expectedCounts(probePcap, rules, BENCH_MAC);
    const expected = rules.map((r, i) => ({
      id: r.id, packets: perFile[i].packets * loops + perProbe[i].packets * probes, bytes: perFile[i].bytes * loops + perProbe[i].bytes * probes,
    }));
    const wrong = formatLines(lines).filter((l, i) => l !== formatLines(expected)[i]);

    console.log(`workload ${w.name}: ${rules.length} rules, ${FILE_FRAMES} frames x ${loops} loops, tcpreplay ${pps ? `--pps=${pps}` : '--topspeed'}`);
    console.log(`  sent ${sent} in ${replaySeconds.toFixed(1)} s (${Math.round(sent / replaySeconds)} pps); daemon counted ${counted} (${sent - counted} dropped)`);
    console.log(`  daemon CPU ${cpu.toFixed(2)} s = ${(cpu / counted * 1e6).toFixed(2)} CPU s per 1M counted packets`);
    console.log(`  sender (tcpreplay + kernel delivery in its context) CPU ${senderCpu.toFixed(2)} s, without the daemon ${baseline.senderCpu.toFixed(2)} s`);
    console.log(`  daemon RSS idle ${(rssIdle / 1024).toFixed(1)} MiB, peak (VmHWM) ${(hwm / 1024).toFixed(1)} MiB`);
    console.log(sent === counted
      ? `  counts vs libpcap: ${wrong.length === 0 ? 'all rules exact' : `${wrong.length} rules differ: ${wrong.slice(0, 5).join(' ')}`}`
      : '  counts vs libpcap: not comparable (frames dropped)');
    await d.stop();
  } finally {
    await d?.kill();
    destroyLink(link);
  }
}

async function main(): Promise<void> {
  requireLiveEnvironment();
  const packets = Number(arg('--packets') ?? 1_000_000);
  const pps = arg('--pps') !== undefined ? Number(arg('--pps')) : undefined;
  const which = arg('--workload') ?? 'both';
  const names = which === 'both' ? ['small', 'mix'] : [which];
  for (const name of names) {
    const w = WORKLOADS[name];
    if (!w) throw new Error(`unknown workload '${name}' (small, mix, both)`);
    await measure(w, packets, pps);
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exit(1);
});
