/**
 * Generated input: random and mutated packets (bit flips, caplen < wirelen,
 * VLAN/QinQ stacks, IPv4 options and fragments, IPv6 extension chains, ARP,
 * ICMPv6 ND, MPLS, PPPoE, LLC) on every supported link type, written to a
 * temporary pcap and compared packet by packet with libpcap, for the
 * hand-picked expressions and random ones from the grammar.
 *
 * Seed: fixed by default (CI is reproducible); FILTER_FUZZ_SEED=<n> replays a
 * run, FILTER_FUZZ_SEED=random draws one; FILTER_FUZZ_ITERATIONS (default 1)
 * runs more rounds, each with the next seed (the long mode).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Prng, seedFromEnv } from '../gen/prng';
import { readCaptureFile, writePcapFile, type CapturedPacket, type PacketToWrite } from '../gen/pcap-file';
import { randomFrameFor, mutate } from '../gen/random-packets';
import { randomExpression, randomRuleLike } from '../gen/random-exprs';
import { minimize, minimizeRefusal } from '../gen/minimize';
import { oracleCompile, oracleMatch, type OracleAnswer } from '../gen/oracle';
import { IP_LEVEL_EXPRS } from './exprs';
import { engineDlts, oracleDlt, readExpressions } from './corpus';
import { checkSnapNeeded, describe, comparePackets, hexOf, assertClean, recordFindings, runEngine, planText, type EngineRun, type Mismatch } from './harness';

const LINK_TYPES: readonly { dlt: number; packets: number; randomExprs: number }[] = [
  { dlt: 1, packets: 1500, randomExprs: 400 },
  { dlt: 113, packets: 400, randomExprs: 120 },
  { dlt: 276, packets: 300, randomExprs: 80 },
  { dlt: 101, packets: 400, randomExprs: 120 },
  { dlt: 0, packets: 200, randomExprs: 60 },
  { dlt: 108, packets: 200, randomExprs: 60 },
];

interface RoundStats {
  compared: number; decisions: number; refused: number; fallbacks: number; errors: number;
  /** (expression, packet) pairs where libpcap's filter never returned. */
  hangs: string[];
  minimized: number;
}

const DEFAULT_SEED = 20261127;

/** Mismatching expressions shrunk per run (each costs a few oracle runs). */
const MAX_MINIMIZED = 15;

/** What the Ethernet captures must contain (counted by libpcap), or the comparison proves less than it claims. */
const COVERAGE: readonly [string, string][] = [
  ['VLAN-tagged', 'vlan'], ['QinQ (two tags)', 'vlan and vlan'], ['IPv4', 'ip'], ['IPv6', 'ip6'], ['ARP', 'arp'], ['RARP', 'rarp'],
  ['IPv4 fragments (offset != 0)', 'ip[6:2] & 0x1fff != 0'], ['IPv4 more-fragments', 'ip[6] & 0x20 != 0'], ['IPv4 options', 'ip[0] & 0xf > 5'],
  ['IPv6 hop-by-hop first', 'ip6[6] = 0'], ['IPv6 fragment header', 'ip6 protochain 44'], ['IPv6 AH', 'ip6 protochain 51'],
  ['ICMPv6 ND (no ext hdr)', 'icmp6 and ip6[40] >= 133 and ip6[40] <= 136'], ['TCP', 'tcp'], ['UDP', 'udp'], ['DNS', 'port 53'], ['DHCP', 'port 67 or port 68'],
  ['MPLS', 'mpls'], ['PPPoE session', 'pppoes'], ['802.3/LLC', 'llc'], ['broadcast', 'ether broadcast'], ['multicast', 'ether multicast and not ether broadcast'],
];

function assertCoverage(path: string, seed: number): void {
  // Loop-safe: protochain can spin forever in libpcap on some generated packets.
  const answers = oracleMatch(path, COVERAGE.map(([, e]) => e));
  const truncated = readCaptureFile(path).packets.filter((p) => p.caplen < p.wirelen).length;
  const missing = COVERAGE.filter((_, i) => { const a = answers[i]; return !a.ok || !a.value.includes('1'); }).map(([what]) => what);
  if (truncated === 0) missing.push('truncated packets (caplen < wirelen)');
  assert.deepEqual(missing, [], `generated Ethernet capture (seed ${seed}) lacks: ${missing.join(', ')}`);
}

function round(seed: number, dir: string, mismatches: Mismatch[], problems: string[], stats: RoundStats): void {
  const r = new Prng(seed);
  const accept = readExpressions('accept-en10mb.txt');
  for (const { dlt, packets: n, randomExprs } of LINK_TYPES) {
    const toWrite: PacketToWrite[] = [];
    for (let i = 0; i < n; i++) toWrite.push(mutate(r, randomFrameFor(dlt, r)));
    const path = join(dir, `gen-${seed}-dlt${dlt}.pcap`);
    writePcapFile(path, toWrite, { linkType: dlt, bigEndian: r.chance(0.5), nanos: r.chance(0.5) });
    const capture = readCaptureFile(path);
    const name = `generated DLT ${dlt} (seed ${seed}) ${path.split('/').pop()}`;

    // Half from the full grammar (arithmetic across protocols), half shaped like real rules.
    const random = Array.from({ length: randomExprs }, (_, i) => (i % 2 === 0 ? randomExpression(r, 4, dlt === 1) : randomRuleLike(r, dlt === 1)));
    // Without the optimiser libpcap accepts rules that can never match (`tcp and udp`): compared like any other.
    const compiles = oracleCompile(oracleDlt(dlt), random);
    const runnable = compiles.map((a) => a.ok);
    const refusedRandom = random.filter((_, i) => !runnable[i]);
    const refusedWhy = compiles.filter((_, i) => !runnable[i]).map((a) => (a.ok ? '' : a.error));
    const exprs = [...new Set([...IP_LEVEL_EXPRS, ...(dlt === 1 ? accept : []), ...random.filter((_, i) => runnable[i])])];

    if (dlt === 1) assertCoverage(path, seed);
    const answers = oracleMatch(path, exprs);
    const padded = r.chance(0.5);
    for (const engineDlt of engineDlts(dlt)) {
      const label = engineDlt === dlt ? name : `${name} as DLT ${engineDlt}`;
      // Random expressions libpcap refuses: the engine must not make JavaScript of them either.
      runEngine(refusedRandom, engineDlt, []).plans.forEach((p, i) => {
        stats.refused++;
        if (p.engine === 'javascript') problems.push(`${label}: ${refusedRandom[i]} planned in JavaScript but libpcap refuses it: ${refusedWhy[i]}`);
      });
      const run = runEngine(exprs, engineDlt, capture.packets, { padded });
      compareAll(label, engineDlt, dlt, exprs, answers, run, capture.packets, mismatches, problems, stats);
      const snap = checkSnapNeeded(exprs, engineDlt, capture.packets, run, answers.map((a) => (a.ok ? a.value : null)), label);
      problems.push(...snap.map((m) => `snapNeeded too small: ${describe(m)}`));
    }
  }
}

function compareAll(name: string, dlt: number, fileLinkType: number, exprs: readonly string[], answers: readonly OracleAnswer[], run: EngineRun,
  packets: readonly CapturedPacket[], mismatches: Mismatch[], problems: string[], stats: RoundStats): void {
  problems.push(...run.counterErrors.map((e) => `${name}: ${e}`));
  const found: Mismatch[][] = exprs.map(() => []);
  exprs.forEach((expr, i) => {
    const a = answers[i];
    const plan = run.plans[i];
    if (!a.ok) {
      stats.refused++;
      if (plan.engine === 'javascript') problems.push(`${name}: ${expr} planned in JavaScript but libpcap refuses it on the savefile: ${a.error}`);
      return;
    }
    if (plan.engine === 'libpcap') {
      stats.fallbacks++;
      if (a.value.includes('H')) stats.hangs.push(`${expr} / ${name}: left to libpcap, which never returns on packet ${a.value.indexOf('H')}`);
      return;
    }
    if (plan.engine === 'error') {
      stats.errors++;
      const minimal = stats.minimized++ < MAX_MINIMIZED ? ` (minimal: ${JSON.stringify(minimizeRefusal(expr, dlt, oracleDlt(fileLinkType)))})` : '';
      problems.push(`${name}: engine refuses ${expr} which libpcap accepts: ${planText(plan)}${minimal}`);
      return;
    }
    found[i] = comparePackets(expr, name, a.value, run.bits[i] ?? '', packets);
    for (let p = a.value.indexOf('H'); p >= 0; p = a.value.indexOf('H', p + 1)) stats.hangs.push(`${expr} / ${name} packet ${p}: ${hexOf(packets[p])}`);
    stats.compared++;
    stats.decisions += a.value.length;
  });
  found.forEach((list, i) => {
    if (list.length > 0 && stats.minimized < MAX_MINIMIZED) {
      const p = packets[list[0].packet];
      list[0].minimal = minimize(exprs[i], dlt, p.data, p.wirelen, fileLinkType);
      stats.minimized++;
    }
    mismatches.push(...list);
  });
}

test('generated packets and expressions agree with libpcap packet by packet', () => {
  const seed = seedFromEnv('FILTER_FUZZ_SEED', DEFAULT_SEED);
  const iterations = Math.max(1, Number(process.env.FILTER_FUZZ_ITERATIONS ?? '1') || 1);
  const dir = mkdtempSync(join(tmpdir(), 'bpfcountd-gen-'));
  const mismatches: Mismatch[] = [];
  const problems: string[] = [];
  const stats: RoundStats = { compared: 0, decisions: 0, refused: 0, fallbacks: 0, errors: 0, hangs: [], minimized: 0 };
  try {
    for (let i = 0; i < iterations; i++) round((seed + i) >>> 0, dir, mismatches, problems, stats);
  } finally {
    // Keep the generated captures when something differed, for replay with tcpdump -r.
    if (mismatches.length === 0 && problems.length === 0) rmSync(dir, { recursive: true, force: true });
    else console.log(`generated captures kept in ${dir}`);
  }
  recordFindings(`generated (seed ${seed})`, mismatches);
  console.log(`generated: seed ${seed}, ${iterations} round(s): ${stats.compared} (expression, capture) pairs, ${stats.decisions} packet decisions compared, ` +
    `${mismatches.length} mismatching (none excused), ${stats.refused} refused by libpcap, ${stats.fallbacks} fallbacks, ${stats.errors} engine errors` +
    (stats.hangs.length ? `; libpcap never returned on ${stats.hangs.length} (expression, packet) pairs :\n  ${stats.hangs.slice(0, 5).join('\n  ')}` : ''));
  const replay = `replay with FILTER_FUZZ_SEED=${seed}`;
  assertClean('generated', problems, mismatches, replay);
  // Every round compares the hand-picked and corpus rules on six link types (about a million decisions).
  assert.ok(stats.decisions >= 500_000 * iterations, `only ${stats.decisions} decisions compared`);
});
