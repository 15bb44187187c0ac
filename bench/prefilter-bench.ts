/**
 * Not a test: does bpfcountd leave unrelated traffic alone? Bulk unicast TCP
 * (1400-byte frames, IPv4 and a mix with IPv6) is replayed at top speed over
 * a silent veth pair between two namespaces while one capturer runs on the
 * receiving end; configurations alternate round by round, medians reported:
 *   a none        no capture at all
 *   b floor       tcpdump with a kernel filter that accepts nothing
 *   c bpfc-18     bpfcountd, the 18 Freifunk rules (bench/freifunk.filters)
 *   d bpfc-100    bpfcountd, 100 varied control-traffic rules
 *   e tcpdump-all tcpdump without filter (every frame to user space)
 *   f orig-18     the C original's loop, 18 rules (no kernel filter)
 *   g orig-100    the C original's loop, 100 rules
 *   h, h2         diagnostic: tcpdump with libpcap's OR of the 18 / 100 rules (one exact shared filter)
 *   k, l, m       amplifier: 16 idle sockets with bpfcountd's kernel filter for the 18 (k) and
 *                 100 (l; libpcap's OR when the daemon has none) rules, and 16 reject-all
 *                 sockets (m); (k-m)/16 and (l-m)/16 are what
 *                 the daemon's filter costs per socket above a reject-all one, measured 16 times
 *                 larger than the run-to-run noise would allow with one socket
 * Then a control-heavy replay (frames the rules match) for the daemon's CPU
 * per 1M packets and loss against libpcap's counts, and the size of the
 * daemon's kernel filter for both rule sets.
 *
 *   ./build.sh && node build/bench/prefilter-bench.js [--rounds 6] [--packets 300000]
 *       [--control-packets 400000] [--parts filters,unicast,control]
 * Needs root, tcpreplay, tcpdump, cc and libpcap-dev.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { countOf, sleep } from '../test/support/daemon';
import { probeFrame, expectedCounts } from '../test/support/live-count';
import { createLink, destroyLink, nsRun, recvTxPackets, setRecvMac, type VethLink } from '../test/support/netns';
import { expandRuleSet, ensureOracle, oracleCount } from '../test/support/oracle';
import { encodeEthernetPcap, writeEthernetPcap } from '../test/support/pcap';
import { DAEMON, REPO_ROOT } from '../test/support/paths';
import { requireLiveEnvironment } from '../test/support/root';
import type { CountLine } from '../test/support/socket-client';
import {
  PROBE_RULE, buildC, startDaemonCapturer, startOrigLoop, startIdleSockets, startTcpdump, type Capturer, type StopResult,
} from './prefilter/capturers';
import { CLOCK_TICKS, ksoftirqdPids, loadAverage, machineDelta, machineJiffies, processTicks, ticksOf } from './prefilter/cpu';
import { kernelFilterPlan, kernelFilterRefused, type KernelFilterPlan } from './prefilter/kernel-filter';
import { replayRun, type ReplayRun } from './prefilter/replay';
import { freifunkRules, variedRules, type BenchRule } from './prefilter/rules';
import { fixed, iqr, median, signed, table } from './prefilter/table';
import { controlFrames, unicastFrames } from './prefilter/traffic';

const ROUTER_MAC = '02:ca:fe:00:00:01';
/** Idle sockets per amplified configuration (k, l, m). */
const AMPLIFY = 16;
/** Distinct frames per file; tcpreplay loops the (preloaded) file to reach the packet count. */
const FILE_FRAMES = 10_000;

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

interface Config {
  key: string;
  name: string;
  start: () => Promise<Capturer | undefined>;
}

interface Sample {
  machinePct: number;
  machineCoreSec: number;
  softirqPct: number;
  captureCpu: number;
  senderCpu: number;
  ksoftirqdCpu: number;
  pps: number;
  replaySeconds: number;
  /** Packet sockets open in the receiving namespace during the replay. */
  sockets: number;
  dropped?: number;
  refused?: string;
  /** Frames of the replay a rule counted (bpfcountd: must be 0, the rules do not match unicast TCP). */
  ruleHits?: number;
}

interface Workload {
  name: string;
  pcap: string;
}

const attributed = (s: Sample): number => s.captureCpu + s.senderCpu + s.ksoftirqdCpu;

function packetSockets(link: VethLink): number {
  return nsRun(link.recvNs, ['cat', '/proc/net/packet']).split('\n').filter((l) => l.trim() !== '').length - 1;
}

/** Waits until the process's CPU time stops moving (it has drained its ring). */
async function settle(pid: number | undefined): Promise<void> {
  if (pid === undefined) { await sleep(300); return; }
  let last = processTicks(pid);
  let still = 0;
  const deadline = Date.now() + 10_000;
  while (still < 3 && Date.now() < deadline) {
    await sleep(100);
    const now = processTicks(pid);
    still = now === last ? still + 1 : 0;
    last = now;
  }
}

function ruleHitsExceptProbe(lines: readonly CountLine[]): number {
  return lines.filter((l) => l.id !== PROBE_RULE.id).reduce((s, l) => s + l.packets, 0);
}

async function measure(link: VethLink, config: Config, w: Workload, loop: number): Promise<Sample> {
  const cap = await config.start();
  try {
    const before = cap?.counts ? await cap.counts() : undefined;
    const sirq = ksoftirqdPids();
    const tx0 = recvTxPackets(link);
    const sockets = packetSockets(link);
    const m0 = machineJiffies();
    const c0 = cap ? processTicks(cap.pid) : 0;
    const s0 = ticksOf(sirq);
    const rep: ReplayRun = await replayRun(link, w.pcap, { loop });
    const m1 = machineJiffies();
    await settle(cap?.pid);
    const c1 = cap ? processTicks(cap.pid) : 0;
    const s1 = ticksOf(sirq);
    const after = cap?.counts ? await cap.counts() : undefined;
    let stopped: StopResult | undefined;
    if (cap) stopped = await cap.stop();
    if (recvTxPackets(link) !== tx0) throw new Error('the receiving veth sent frames during the run: the link is not silent');
    const md = machineDelta(m0, m1);
    return {
      machinePct: (100 * md.busy) / md.total,
      machineCoreSec: md.busy / CLOCK_TICKS,
      softirqPct: (100 * md.softirq) / md.total,
      captureCpu: (c1 - c0) / CLOCK_TICKS,
      senderCpu: rep.senderCpuSeconds,
      ksoftirqdCpu: (s1 - s0) / CLOCK_TICKS,
      pps: rep.pps,
      replaySeconds: rep.seconds,
      sockets,
      dropped: stopped?.dropped,
      refused: stopped ? kernelFilterRefused(stopped.stderr) : undefined,
      ruleHits: before && after ? ruleHitsExceptProbe(after) - ruleHitsExceptProbe(before) : undefined,
    };
  } catch (err) {
    if (cap) await cap.stop().catch(() => undefined);
    throw err;
  }
}

/** Every rule must compile and match none of the bulk unicast frames (libpcap says so). */
function checkRulesSkipUnicast(rules: readonly BenchRule[], pcaps: readonly string[], label: string): void {
  const exprs = expandRuleSet(rules, ROUTER_MAC);
  for (const pcap of pcaps) {
    const res = oracleCount(pcap, exprs);
    const bad = res.flatMap((r, i) => (!r.ok ? [`${rules[i].id}: libpcap refuses: ${r.error}`] : r.packets > 0 ? [`${rules[i].id} (${rules[i].expr}) matches ${r.packets} unicast frames`] : []));
    if (bad.length > 0) throw new Error(`${label} rules are wrong for this benchmark:\n  ${bad.join('\n  ')}`);
  }
}

function printFilterPlans(plans: ReadonlyArray<[string, KernelFilterPlan]>): void {
  console.log('\n== Kernel filter of the shared capture (from --check), size as libpcap compiles it (tcpdump -d) ==');
  console.log(table(['rule set', 'shared filter', 'instructions', '(daemon says)', 'snap length', 'own-handle rules', 'their instructions', 'sockets', 'filter text (start)'], plans.map(([name, p]) => [
    name, p.filter === undefined ? 'none' : 'yes', p.filter === undefined ? '0' : p.compileError ? `ERR ${p.compileError}` : String(p.instructions),
    p.daemonEstimate === undefined ? '-' : `~${p.daemonEstimate}`, String(p.snapLength), String(p.ownHandles.length),
    String(p.ownHandles.reduce((s, h) => s + h.instructions, 0)), String(1 + p.ownHandles.length),
    p.filter === undefined ? '(every frame to user space)' : `${p.filter.slice(0, 60)}${p.filter.length > 60 ? '...' : ''}`,
  ])));
  console.log('  every socket runs its own filter on every frame of the link (in the sender\'s softirq on a veth)');
  for (const [name, p] of plans) {
    if (p.note !== '') console.log(`  ${name}: ${p.note}`);
    if (p.filter !== undefined && p.instructions > 4096) console.log(`  ${name}: ${p.instructions} instructions exceed BPF_MAXINSNS (4096): the kernel will refuse it`);
    if (p.ownHandles.length > 0) console.log(`  ${name}: own handles for ${p.ownHandles.map((h) => `${h.id} (${h.instructions})`).join(', ')}`);
  }
}

async function unicastPart(link: VethLink, workloads: readonly Workload[], configs: readonly Config[], rounds: number, loop: number, kernelFilters: ReadonlyMap<string, string | undefined>): Promise<void> {
  const samples = new Map<string, Sample[]>();
  const key = (w: Workload, c: Config): string => `${w.name}/${c.key}`;
  const t0 = Date.now();
  for (let round = 1; round <= rounds; round++) {
    for (const w of workloads) {
      for (const c of configs) {
        const s = await measure(link, c, w, loop);
        const list = samples.get(key(w, c)) ?? [];
        list.push(s);
        samples.set(key(w, c), list);
        if (s.refused) console.log(`  ${c.name}: ${s.refused}`);
        if (s.ruleHits !== undefined && s.ruleHits !== 0) throw new Error(`${c.name} counted ${s.ruleHits} rule hits on unicast TCP that libpcap matches with no rule`);
      }
    }
    console.log(`  round ${round}/${rounds} done (${((Date.now() - t0) / 1000).toFixed(0)} s, load ${loadAverage()})`);
  }

  for (const c of configs.filter((x) => x.key === 'c' || x.key === 'd')) {
    const runs = workloads.flatMap((w) => samples.get(key(w, c)) ?? []);
    const refused = runs.filter((s) => s.refused !== undefined);
    const none = kernelFilters.has(c.key) && kernelFilters.get(c.key) === undefined;
    console.log(`\n${c.name}: ${none ? 'NO kernel filter (every frame to user space), ' : ''}${refused.length === 0 ? `no "Kernel filter failed" warning on the daemon's stderr in ${runs.length} runs${none ? '' : ' (the kernel took its filter)'}` : `${refused.length} of ${runs.length} runs: ${refused[0].refused}`}`);
  }

  for (const w of workloads) {
    const med = (c: Config, f: (s: Sample) => number): number => median((samples.get(key(w, c)) ?? []).map(f));
    const [a, b] = [configs[0], configs[1]];
    const aPct = med(a, (s) => s.machinePct);
    const bPct = med(b, (s) => s.machinePct);
    const aAttr = med(a, attributed);
    const bAttr = med(b, attributed);
    // Extra attributed CPU as points of the 2 cores over the floor's replay time: what machine %
    // would show on a quiet machine at the same rate (raw per-run shares swing with the replay rate).
    const bSeconds = med(b, (s) => s.replaySeconds);
    const pointsOverFloor = (attr: number): number => (100 * (attr - bAttr)) / (2 * bSeconds);
    console.log(`\n== ${w.name}: ${loop * FILE_FRAMES} frames per replay, medians of ${rounds} rounds ==`);
    console.log(table(
      ['config', 'sockets', 'machine %', 'vs a (pp)', 'vs b (pp)', 'softirq %', 'capturer s', 'sender s', 'ksoftirqd s', 'attributed s', 'attr IQR', 'attr vs a', 'attr vs b', 'vs b (pp)', 'replay pps', 'drops'],
      configs.map((c) => {
        const pct = med(c, (s) => s.machinePct);
        const attr = med(c, attributed);
        const drops = (samples.get(key(w, c)) ?? []).map((s) => s.dropped).filter((d): d is number => d !== undefined);
        return [
          `${c.key} ${c.name}`, fixed(med(c, (s) => s.sockets), 0), fixed(pct, 1), signed(pct - aPct, 1), signed(pct - bPct, 1), fixed(med(c, (s) => s.softirqPct), 1),
          fixed(med(c, (s) => s.captureCpu), 2), fixed(med(c, (s) => s.senderCpu), 2), fixed(med(c, (s) => s.ksoftirqdCpu), 2),
          fixed(attr, 2), iqr((samples.get(key(w, c)) ?? []).map(attributed)), signed(attr - aAttr, 2), signed(attr - bAttr, 2), signed(pointsOverFloor(attr), 1),
          fixed(med(c, (s) => s.pps), 0), drops.length ? `max ${Math.max(...drops)}` : '-',
        ];
      }),
    ));
    console.log(`  attributed = capturer + tcpreplay (sender, incl. softirq it ran) + ksoftirqd CPU seconds; baseline (a) ${fixed(aAttr, 2)} s`);
    console.log(`  attr IQR = 25th-75th percentile over the rounds (the noise); vs b (pp) = (attributed - floor) as points of 2 cores over the floor's replay time (${fixed(bSeconds, 2)} s)`);
    if (aPct >= 97) console.log(`  NOTE: the machine was ${fixed(aPct, 0)}% busy even without capture (other processes): machine % cannot show the difference; read the attributed columns`);
    const byKey = (k: string): Config | undefined => configs.find((c) => c.key === k);
    const ratioRows: string[][] = [];
    const ratio = (x: string, ref: string): void => {
      const cx = byKey(x);
      const cr = byKey(ref);
      if (!cx || !cr) return;
      const pct = aPct >= 97 ? NaN : (med(cx, (s) => s.machinePct) - bPct) / (med(cr, (s) => s.machinePct) - bPct);
      const attr = (med(cx, attributed) - bAttr) / (med(cr, attributed) - bAttr);
      const cpu = (med(cx, (s) => s.captureCpu) - med(b, (s) => s.captureCpu)) / (med(cr, (s) => s.captureCpu) - med(b, (s) => s.captureCpu));
      ratioRows.push([`(${x}-b)/(${ref}-b)`, fixed(pct, 3), fixed(attr, 3), fixed(cpu, 3), attr <= 0.15 ? 'yes' : 'NO']);
    };
    ratio('c', 'e'); ratio('d', 'e'); ratio('c', 'f'); ratio('d', 'g'); ratio('h', 'e'); ratio('h2', 'e');
    console.log(table(['ratio', 'machine %', 'attributed CPU', 'capturer CPU', '<= 0.15 (attributed)'], ratioRows));
    const m = byKey('m');
    const e = byKey('e');
    for (const [k, label] of [['k', '18'], ['l', '100']] as const) {
      const what = byKey(k)?.name.includes('libpcap') ? `libpcap's OR of the ${label} rules (the daemon has no kernel filter for them)` : `bpfcountd's ${label}-rule kernel filter`;
      const amp = byKey(k);
      if (!amp || !m || !e) continue;
      const perSocket = (med(amp, attributed) - med(m, attributed)) / AMPLIFY;
      const frames = loop * FILE_FRAMES;
      const copyAll = med(e, attributed) - bAttr;
      console.log(`  amplified: ${what} costs ${signed((perSocket * 1e9) / frames, 0)} ns per frame above a reject-all filter`
        + ` (${signed(perSocket, 3)} s per replay; copying every frame (e-b) costs ${fixed((copyAll * 1e9) / frames, 0)} ns): ratio ${fixed(perSocket / copyAll, 3)}`);
    }
    for (const k of ['c', 'd']) {
      const c = byKey(k);
      if (!c) continue;
      const d = med(c, (s) => s.machinePct) - bPct;
      const da = pointsOverFloor(med(c, attributed));
      const machine = aPct >= 97 ? 'machine CPU saturated by others: n/a' : `${signed(d, 1)} pp machine CPU (${d <= 3 ? 'within' : 'NOT within'} 3 points)`;
      console.log(`  ${k} ${c.name} vs the floor: ${machine}; ${signed(da, 1)} pp attributed (${da <= 3 ? 'within' : 'NOT within'} 3 points)`);
    }
  }
}

async function controlPart(link: VethLink, workDir: string, label: string, rules: readonly BenchRule[], probePcap: string, packets: number): Promise<void> {
  const pcap = join(workDir, 'control.pcap');
  writeFileSync(pcap, encodeEthernetPcap(controlFrames(FILE_FRAMES, ROUTER_MAC)));
  const perFile = expectedCounts(pcap, rules, ROUTER_MAC);
  const matchedFrames = oracleCount(pcap, [expandRuleSet(rules, ROUTER_MAC).map((e) => `(${e})`).join(' or ')])[0];
  console.log(`\n== Control-heavy replay: ${packets} small frames (ARP, ND, DHCP, DNS, multicast, batman), ${label} rules, -b 2097152 ==`);
  if (matchedFrames.ok) console.log(`  frames some rule matches: ${matchedFrames.packets} of ${FILE_FRAMES} per file`);
  const loop = Math.max(1, Math.round(packets / FILE_FRAMES));
  const cap = await startDaemonCapturer(link, rules, workDir, `control-${rules.length}`, probePcap);
  const counts = cap.counts;
  if (!counts) throw new Error('daemon capturer without counters');
  const settled = async (): Promise<CountLine[]> => {
    let prev = '';
    for (let i = 0; i < 100; i++) {
      const now = await counts();
      if (JSON.stringify(now) === prev) return now;
      prev = JSON.stringify(now);
      await sleep(300);
    }
    throw new Error('daemon counters never settled');
  };
  const rows: string[][] = [];
  try {
    const steps: (number | undefined)[] = [undefined];
    let best: number | undefined;
    for (let i = 0; i < steps.length && i < 8; i++) {
      const pps = steps[i];
      const before = await settled();
      const t0 = processTicks(cap.pid);
      const rep = await replayRun(link, pcap, { loop, pps });
      const after = await settled();
      const cpu = (processTicks(cap.pid) - t0) / CLOCK_TICKS;
      let hitsExpected = 0;
      let hitsCounted = 0;
      let worst = 0;
      rules.forEach((r, k) => {
        const exp = perFile[k].packets * loop;
        const got = countOf(after, r.id).packets - countOf(before, r.id).packets;
        hitsExpected += exp;
        hitsCounted += got;
        worst = Math.max(worst, exp - got);
        if (got > exp) throw new Error(`rule ${r.id} counted ${got} > libpcap's ${exp}`);
      });
      const lossless = hitsCounted === hitsExpected;
      rows.push([pps === undefined ? 'top speed' : String(pps), fixed(rep.pps, 0), String(rep.sent), fixed(cpu, 2), fixed((cpu * 1e6) / rep.sent, 2),
        `${hitsCounted}/${hitsExpected}`, lossless ? 'none' : `>= ${worst} frames`]);
      if (lossless) { best = pps ?? Math.round(rep.pps); break; }
      // Loss: step down from the rate reached.
      const reached = pps ?? rep.pps;
      steps.push(Math.max(1000, Math.round((reached * 0.7) / 1000) * 1000));
    }
    const stopped = await cap.stop();
    console.log(table(['asked pps', 'sent pps', 'frames', 'daemon CPU s', 'CPU s per 1M', 'rule hits counted/expected', 'loss'], rows));
    console.log(best !== undefined ? `  highest rate without loss: ${best} pps` : '  no lossless rate found in the steps tried');
    const refused = kernelFilterRefused(stopped.stderr);
    if (refused) console.log(`  daemon stderr: ${refused}`);
  } catch (err) {
    await cap.stop().catch(() => undefined);
    throw err;
  }
}

async function main(): Promise<void> {
  requireLiveEnvironment();
  ensureOracle();
  const rounds = Number(arg('--rounds', '6'));
  const packets = Number(arg('--packets', '300000'));
  const controlPackets = Number(arg('--control-packets', '400000'));
  const parts = new Set(arg('--parts', 'filters,unicast,control').split(','));
  const workDir = join(REPO_ROOT, 'build', 'prefilter-bench', 'run');
  mkdirSync(workDir, { recursive: true });
  console.log(`prefilter benchmark: daemon ${DAEMON}, load average ${loadAverage()}, ${new Date().toISOString()}`);

  const v4 = join(workDir, 'unicast-v4.pcap');
  const mixed = join(workDir, 'unicast-v4v6.pcap');
  writeFileSync(v4, encodeEthernetPcap(unicastFrames(FILE_FRAMES, ROUTER_MAC, 0)));
  writeFileSync(mixed, encodeEthernetPcap(unicastFrames(FILE_FRAMES, ROUTER_MAC, 0.3)));
  const probePcap = join(workDir, 'probe.pcap');
  writeEthernetPcap(probePcap, [probeFrame()]);
  const rules18 = freifunkRules(REPO_ROOT);
  const rules100 = variedRules();
  checkRulesSkipUnicast(rules18, [v4, mixed], 'Freifunk');
  checkRulesSkipUnicast(rules100, [v4, mixed], 'varied');
  const orig = buildC(REPO_ROOT, 'orig-live-loop');
  const idleSockets = buildC(REPO_ROOT, 'idle-sockets');

  const link = createLink();
  try {
    setRecvMac(link, ROUTER_MAC);
    const plan18 = kernelFilterPlan(link, rules18, workDir, 'ff18');
    const plan100 = kernelFilterPlan(link, rules100, workDir, 'v100');
    if (parts.has('filters')) printFilterPlans([['18 Freifunk', plan18], ['100 varied', plan100]]);
    // Diagnostic beside the brief's configurations: one socket with libpcap's exact OR of the 18 rules.
    const orOf = (rules: readonly BenchRule[]): string => expandRuleSet(rules, ROUTER_MAC).map((e) => `(${e})`).join(' or ');
    const or18 = orOf(rules18);
    const or100 = orOf(rules100);
    if (parts.has('unicast')) {
      const configs: Config[] = [
        { key: 'a', name: 'none', start: async () => undefined },
        { key: 'b', name: 'floor (tcpdump ether proto 0xffff)', start: () => startTcpdump(link, 'ether proto 0xffff') },
        { key: 'c', name: 'bpfcountd 18 rules', start: () => startDaemonCapturer(link, rules18, workDir, 'ff18', probePcap) },
        { key: 'd', name: 'bpfcountd 100 rules', start: () => startDaemonCapturer(link, rules100, workDir, 'v100', probePcap) },
        { key: 'e', name: 'tcpdump, no filter', start: () => startTcpdump(link, '') },
        { key: 'f', name: 'C original loop, 18 rules', start: () => startOrigLoop(link, orig, rules18, ROUTER_MAC, workDir, 'orig18') },
        { key: 'g', name: 'C original loop, 100 rules', start: () => startOrigLoop(link, orig, rules100, ROUTER_MAC, workDir, 'orig100') },
        { key: 'h', name: 'tcpdump, OR of the 18 rules', start: () => startTcpdump(link, or18) },
        { key: 'h2', name: 'tcpdump, OR of the 100 rules', start: () => startTcpdump(link, or100) },
      ];
      if (plan18.filter !== undefined) configs.push({ key: 'k', name: `${AMPLIFY} x bpfcountd's 18-rule filter`, start: () => startIdleSockets(link, idleSockets, { count: AMPLIFY, filter: plan18.filter }) });
      // Without a daemon filter for the 100 rules, the amplifier shows what libpcap's exact OR would cost.
      configs.push(plan100.filter !== undefined
        ? { key: 'l', name: `${AMPLIFY} x bpfcountd's 100-rule filter`, start: () => startIdleSockets(link, idleSockets, { count: AMPLIFY, filter: plan100.filter }) }
        : { key: 'l', name: `${AMPLIFY} x libpcap's OR of the 100`, start: () => startIdleSockets(link, idleSockets, { count: AMPLIFY, filter: or100 }) });
      configs.push({ key: 'm', name: `${AMPLIFY} x reject-all filter`, start: () => startIdleSockets(link, idleSockets, { count: AMPLIFY }) });
      const loop = Math.max(1, Math.round(packets / FILE_FRAMES));
      console.log(`\nunicast replays: ${rounds} rounds x 2 workloads x ${configs.length} configs, ${loop * FILE_FRAMES} frames of 1400 bytes each`);
      await unicastPart(link, [{ name: 'IPv4 unicast TCP', pcap: v4 }, { name: 'IPv4 + 30% IPv6 unicast TCP', pcap: mixed }], configs, rounds, loop,
        new Map([['c', plan18.filter], ['d', plan100.filter]]));
    }
    if (parts.has('control')) {
      await controlPart(link, workDir, '18 Freifunk', rules18, probePcap, controlPackets);
      await controlPart(link, workDir, '100 varied', rules100, probePcap, controlPackets);
    }
    console.log(`\nload average at the end: ${loadAverage()}`);
  } finally {
    destroyLink(link);
  }
}

/**
 * dist/ is rebuilt by others while a run lasts several minutes: the run uses
 * a copy of the bundle made at its start (next to dist/, so `pcap` still
 * resolves from the repository's node_modules), via BPFCOUNTD_DAEMON.
 */
function runOnSnapshot(): void {
  const dir = join(REPO_ROOT, 'build', 'prefilter-bench');
  mkdirSync(dir, { recursive: true });
  const snapshot = join(dir, 'bpfcountd.snapshot.js');
  copyFileSync(join(REPO_ROOT, 'dist', 'bpfcountd.js'), snapshot);
  const head = spawnSync('git', ['-C', REPO_ROOT, 'log', '-1', '--format=%h %s'], { encoding: 'utf8' }).stdout.trim();
  const sha = createHash('sha256').update(readFileSync(snapshot)).digest('hex').slice(0, 12);
  console.log(`daemon: snapshot of dist/bpfcountd.js (sha256 ${sha}), repository at ${head}`);
  const child = spawnSync(process.execPath, process.argv.slice(1), { stdio: 'inherit', env: { ...process.env, BPFCOUNTD_DAEMON: snapshot } });
  process.exit(child.status ?? 1);
}

if (process.env.BPFCOUNTD_DAEMON === undefined) runOnSnapshot();
else {
  main().catch((err: unknown) => {
    console.error(err instanceof Error ? err.stack ?? err.message : String(err));
    process.exit(1);
  });
}
