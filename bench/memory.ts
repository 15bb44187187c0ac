/**
 * Not a test: the daemon's memory in service mode, as a router would run it,
 * and what V8 flags change (memory and CPU). Run as root:
 *
 *   ./build.sh && node build/bench/memory.js [--sections 1,4,16] [--buffer BYTES] [--flags] [--cpu-packets N] [--pps N]
 *
 * 1. Baselines: `node -e "setInterval(()=>{},1000)"` and `node -e "require('pcap')"`.
 * 2. Service mode with 1, 4 and 16 sections of 20 Freifunk-like rules
 *    (bench/freifunk.filters, 18 rules, plus a probe and an all-packets
 *    rule), each on its own veth in a namespace, after a short replay into
 *    every interface: peak RSS (VmHWM), steady RSS (VmRSS a few seconds
 *    later), and the packet rings the process has mapped (kernel memory that
 *    is not in RSS until touched, but is allocated and pinned).
 * 3. With --flags: the 4-section daemon under candidate V8 flags: its RSS, and
 *    its CPU seconds per 1M packets of the Freifunk mix replayed at a paced
 *    rate into one interface (utime+stime from /proc/<pid>/stat, as
 *    test/live/measure-replay.ts does).
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateMix, BENCH_MAC } from './mix';
import { sleep, type Daemon } from '../test/support/daemon';
import { probeFrame, PROBE_ID, ruleFileText, type RuleDef } from '../test/support/live-count';
import { replay, type VethLink } from '../test/support/netns';
import { encodeEthernetPcap, writeEthernetPcap } from '../test/support/pcap';
import { BUILD_DIR, REPO_ROOT } from '../test/support/paths';
import { requireLiveEnvironment } from '../test/support/root';
import {
  addVeth, countIn, createServiceNet, destroyServiceNet, NO_UBUS, startServiceDaemon, uciText, waitForSockets,
  type ServiceNet,
} from '../test/support/service';
import { readCounts } from '../test/support/socket-client';

const CLOCK_TICKS = 100; // getconf CLK_TCK on Linux
const MIX_FRAMES = 10_000;
const SHORT_REPLAY_FRAMES = 2_000;
/** OpenWrt's default buffersize (Gluon's hooks use 131072); --buffer changes it. */
let BUFFER_BYTES = 2097152;

interface MemorySample {
  hwmKb: number;
  rssKb: number;
  /** Packet-socket rings mapped into the process: count, total size, and how much of it is in RSS. */
  rings: number;
  ringKb: number;
  ringRssKb: number;
}

function statusKb(pid: number, key: string): number {
  const m = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : NaN;
}

function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}

/** Mappings of packet sockets show as `socket:[inode]` in smaps; their Size is the ring. */
function ringMappings(pid: number): { rings: number; ringKb: number; ringRssKb: number } {
  let rings = 0;
  let ringKb = 0;
  let ringRssKb = 0;
  let inSocket = false;
  for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    if (/^[0-9a-f]+-[0-9a-f]+ /.test(line)) {
      inSocket = /socket:\[\d+\]\s*$/.test(line);
      if (inSocket) rings++;
    } else if (inSocket && line.startsWith('Size:')) {
      ringKb += Number(/(\d+) kB/.exec(line)?.[1] ?? 0);
    } else if (inSocket && line.startsWith('Rss:')) {
      ringRssKb += Number(/(\d+) kB/.exec(line)?.[1] ?? 0);
    }
  }
  return { rings, ringKb, ringRssKb };
}

function sample(pid: number): MemorySample {
  return { hwmKb: statusKb(pid, 'VmHWM'), rssKb: statusKb(pid, 'VmRSS'), ...ringMappings(pid) };
}

const mib = (kb: number): string => (kb / 1024).toFixed(1);

/** A plain node process for comparison; sampled after it settled. */
async function baseline(label: string, script: string, flags: readonly string[] = []): Promise<[string, MemorySample]> {
  const child = spawn(process.execPath, [...flags, '-e', script], { cwd: REPO_ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
  try {
    await sleep(2000);
    if (child.pid === undefined || child.exitCode !== null) throw new Error(`${label}: exited`);
    return [label, sample(child.pid)];
  } finally {
    child.kill('SIGKILL');
  }
}

function benchRules(): RuleDef[] {
  const lines = readFileSync(join(REPO_ROOT, 'bench', 'freifunk.filters'), 'utf8').split('\n')
    .filter((l) => l.trim() !== '' && !l.startsWith('#'));
  return [
    ...lines.map((l) => ({ id: l.slice(0, l.indexOf(';')), expr: l.slice(l.indexOf(';') + 1) })),
    { id: PROBE_ID, expr: 'ether proto 0x88b5' },
    { id: '_all', expr: 'greater 0' },
  ];
}

interface Setup {
  dir: string;
  filterFile: string;
  probePcap: string;
  shortPcap: string;
  mixPcap: string;
}

function prepare(): Setup {
  const dir = join(BUILD_DIR, 'bench-memory');
  mkdirSync(dir, { recursive: true });
  const filterFile = join(dir, 'freifunk20.filters');
  const rules = benchRules();
  if (rules.length !== 20) throw new Error(`expected 20 rules, have ${rules.length}`);
  writeFileSync(filterFile, ruleFileText(rules));
  const probePcap = join(dir, 'probe.pcap');
  writeEthernetPcap(probePcap, [probeFrame()]);
  const mix = generateMix(MIX_FRAMES).map((p) => Buffer.from(p.data));
  const shortPcap = join(dir, 'short.pcap');
  writeFileSync(shortPcap, encodeEthernetPcap(mix.slice(0, SHORT_REPLAY_FRAMES)));
  const mixPcap = join(dir, 'mix.pcap');
  writeFileSync(mixPcap, encodeEthernetPcap(mix));
  return { dir, filterFile, probePcap, shortPcap, mixPcap };
}

interface Running {
  net: ServiceNet;
  daemon: Daemon;
  links: VethLink[];
  sockets: string[];
}

async function startSections(s: Setup, sections: number, flags: readonly string[]): Promise<Running> {
  const net = createServiceNet();
  const links: VethLink[] = [];
  const sockets: string[] = [];
  try {
    const defs = [];
    for (let i = 0; i < sections; i++) {
      links.push(addVeth(net, `m${i}`, `p${i}`, BENCH_MAC));
      const socket = join(s.dir, `m${i}.sock`);
      sockets.push(socket);
      defs.push({ name: `mesh${i}`, options: { ifname: `m${i}`, filterfile: s.filterFile, buffersize: String(BUFFER_BYTES), socket } });
    }
    const config = join(s.dir, 'bpfcountd');
    writeFileSync(config, uciText(defs));
    const daemon = startServiceDaemon(net, ['-c', config, '--runtime-dir', join(s.dir, 'runtime'), NO_UBUS], sockets[0], flags);
    // A socket exists once its capture counts.
    await waitForSockets(daemon, sockets, 30_000);
    return { net, daemon, links, sockets };
  } catch (err) {
    destroyServiceNet(net);
    throw err;
  }
}

async function stopSections(r: Running): Promise<void> {
  await r.daemon.kill();
  destroyServiceNet(r.net);
}

/** Short replay into every interface, then peak and (3 s later) steady memory. */
async function afterShortReplay(s: Setup, r: Running): Promise<MemorySample> {
  for (const link of r.links) replay(link, s.shortPcap);
  await sleep(3000);
  for (const socket of r.sockets) await readCounts(socket);
  return sample(r.daemon.pid);
}

async function cpuPerMillion(s: Setup, r: Running, packets: number, pps: number): Promise<{ perM: number; counted: number; hwmKb: number }> {
  const loops = Math.max(1, Math.round(packets / MIX_FRAMES));
  const before = countIn(await readCounts(r.sockets[0]), '_all').packets;
  const cpu0 = cpuSeconds(r.daemon.pid);
  replay(r.links[0], s.mixPcap, { loop: loops, pps });
  let last = -1;
  for (;;) {
    await sleep(500);
    const now = countIn(await readCounts(r.sockets[0]), '_all').packets;
    if (now === last) break;
    last = now;
  }
  const cpu = cpuSeconds(r.daemon.pid) - cpu0;
  const counted = last - before;
  return { perM: (cpu / counted) * 1e6, counted, hwmKb: statusKb(r.daemon.pid, 'VmHWM') };
}

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const FLAG_SETS: ReadonlyArray<readonly string[]> = [
  [],
  ['--max-semi-space-size=1'],
  ['--max-old-space-size=32'],
  ['--max-semi-space-size=1', '--max-old-space-size=32'],
  ['--v8-pool-size=1'],
  ['--single-threaded-gc'],
  ['--optimize-for-size'],
  ['--lite-mode'],
  ['--max-semi-space-size=1', '--max-old-space-size=32', '--v8-pool-size=1', '--single-threaded-gc'],
];

async function main(): Promise<void> {
  requireLiveEnvironment();
  BUFFER_BYTES = Number(arg('--buffer') ?? BUFFER_BYTES);
  const s = prepare();
  const sectionCounts = (arg('--sections') ?? '1,4,16').split(',').map(Number);
  console.log(`node ${process.version}, ${process.arch}; sections of ${benchRules().length} rules (bench/freifunk.filters + 2), buffersize ${BUFFER_BYTES}`);
  console.log('');
  console.log('what                                    peak RSS  steady RSS  (of it ring)  steady - ring  rings  ring size');
  const row = (label: string, m: MemorySample): void => {
    console.log(`${label.padEnd(38)} ${mib(m.hwmKb).padStart(7)} MiB ${mib(m.rssKb).padStart(7)} MiB ${mib(m.ringRssKb).padStart(9)} MiB `
      + `${mib(m.rssKb - m.ringRssKb).padStart(10)} MiB ${String(m.rings).padStart(6)} ${mib(m.ringKb).padStart(6)} MiB`);
  };
  for (const [label, m] of [
    await baseline('node -e "setInterval(()=>{},1000)"', 'setInterval(()=>{},1000)'),
    await baseline('node -e "require(\'pcap\')"', "require('pcap'); setInterval(()=>{},1000)"),
  ]) row(label, m);
  for (const n of sectionCounts) {
    const r = await startSections(s, n, []);
    try {
      row(`daemon, ${n} section${n === 1 ? '' : 's'} x 20 rules`, await afterShortReplay(s, r));
    } finally {
      await stopSections(r);
    }
  }

  if (!process.argv.includes('--flags')) return;
  const packets = Number(arg('--cpu-packets') ?? 200_000);
  const pps = Number(arg('--pps') ?? 40_000);
  console.log('');
  console.log(`V8 flags, daemon with 4 sections; CPU: ${packets} mix packets at ${pps} pps into one section`);
  console.log('flags                                                        steady RSS (- ring)  peak RSS after load  CPU s / 1M packets');
  for (const flags of FLAG_SETS) {
    const r = await startSections(s, 4, flags);
    try {
      const m = await afterShortReplay(s, r);
      const c = await cpuPerMillion(s, r, packets, pps);
      const label = flags.length === 0 ? '(none)' : flags.join(' ');
      console.log(`${label.padEnd(60)} ${mib(m.rssKb).padStart(6)} MiB (${mib(m.rssKb - m.ringRssKb)}) ${mib(c.hwmKb).padStart(12)} MiB `
        + `${c.perM.toFixed(2).padStart(14)}   (${c.counted} counted)`);
    } finally {
      await stopSections(r);
    }
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.stack ?? err.message : String(err));
  process.exit(1);
});
