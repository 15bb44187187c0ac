/**
 * ns per (packet x rule): the filter engine's match() against libpcap's
 * pcap_offline_filter (bench/peer/filter-peer.c), on the same packets held in
 * memory and the same rules; also the rules' trees walked without generated
 * code (src/filter/interpret.ts, what a live capture counts with in its first
 * second). Only rules the engine plans in JavaScript are measured (on every
 * side); per-rule counts of one pass must agree.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { bindMatcher, codeOf, compileMatcher, interpretRules, planMatcher } from '../test/filter/diff/engine';
import type { CapturedPacket } from '../test/filter/gen/pcap-file';
import { readCaptureFile, writePcapFile } from '../test/filter/gen/pcap-file';
import { parseFilterText } from '../src/config/filter-file';
import { expandRules } from '../src/config/expand';
import { readFileSync } from 'node:fs';
import { BENCH_MAC } from './mix';
import { TEST_CORPUS } from '../test/support/paths';
import { BENCH_OUT, ROOT, buildPeer } from './peers';

export interface RuleSet { name: string; exprs: string[] }
export interface PacketSet { name: string; path: string }

export interface FilterBenchRow {
  rules: string;
  packets: string;
  /** Rules measured (planned JavaScript) / rules in the set. */
  measured: number;
  total: number;
  packetCount: number;
  engineNs: number;
  /** The rules' trees walked per packet (no generated code). */
  walkedNs: number;
  libpcapNs: number;
  countsAgree: boolean;
  note: string;
}

export function freifunkRules(): RuleSet {
  const path = join(ROOT, 'bench', 'freifunk.filters');
  const rules = expandRules(parseFilterText(readFileSync(path, 'utf8'), path), BENCH_MAC);
  return { name: 'freifunk-18', exprs: rules.map((r) => r.expr) };
}

export const C_EXAMPLE: RuleSet = {
  name: 'C original example (3)',
  exprs: ['arp[6:2] == 1', 'not ether broadcast and arp[6:2] == 2', 'ether broadcast and arp[6:2] == 2'],
};

export function acceptCorpusRules(): RuleSet {
  const exprs = readFileSync(join(TEST_CORPUS, 'accept-en10mb.txt'), 'utf8').split('\n').filter((l) => l.trim() !== '');
  // inbound/outbound are refused by libpcap on a savefile.
  return { name: 'accept corpus', exprs: exprs.filter((e) => e !== 'inbound' && e !== 'outbound') };
}

/** The first n packets of a capture as their own file (for the expensive rule sets). */
export function headOfCapture(src: string, n: number, dst: string): PacketSet {
  const cap = readCaptureFile(src);
  writePcapFile(dst, cap.packets.slice(0, n).map((p) => ({ data: p.data, wirelen: p.wirelen, tsSec: p.tsSec, tsFrac: p.tsFrac })), { linkType: cap.linkType });
  return { name: `${n / 1000}k of ${src.split('/').pop()}`, path: dst };
}

function timeEngine(exprs: readonly string[], linkType: number, packets: readonly CapturedPacket[], minSeconds: number,
  walked = false): { ns: number; counts: Float64Array; bytes: Float64Array } {
  const n = exprs.length;
  const bytes = new Float64Array(n);
  const counts = new Float64Array(n);
  const planned = planMatcher(exprs.map((expr, slot) => ({ slot, expr })), linkType);
  const matchAt = walked ? interpretRules(planned.rules, bytes, counts) : bindMatcher(codeOf(planned), bytes, counts).matchAt;
  // The packets where they lie in the file's bytes, as the daemon's -r reads them.
  const file = packets.length > 0 ? packets[0].data.buffer : new ArrayBuffer(0);
  if (packets.some((p) => p.data.buffer !== file)) throw new Error('packets are not views of one file buffer');
  const bytesOfFile = new Uint8Array(file);
  const offsets = Int32Array.from(packets.map((p) => p.data.byteOffset));
  const caplens = Int32Array.from(packets.map((p) => p.caplen));
  const wirelens = Int32Array.from(packets.map((p) => p.wirelen));
  const np = packets.length;
  const match = matchAt;
  // First pass: warm-up (the JIT) and the counts to compare with libpcap.
  for (let i = 0; i < np; i++) match(bytesOfFile, offsets[i], caplens[i], wirelens[i]);
  const firstCounts = Float64Array.from(counts);
  const firstBytes = Float64Array.from(bytes);
  let passes = 0;
  const start = process.hrtime.bigint();
  let elapsed = 0;
  do {
    for (let i = 0; i < np; i++) match(bytesOfFile, offsets[i], caplens[i], wirelens[i]);
    passes++;
    elapsed = Number(process.hrtime.bigint() - start) / 1e9;
  } while (elapsed < minSeconds);
  return { ns: (elapsed * 1e9) / (passes * np * n), counts: firstCounts, bytes: firstBytes };
}

function timeLibpcap(exprs: readonly string[], capturePath: string, minSeconds: number): { ns: number; counts: number[]; bytes: number[] } {
  const peer = buildPeer('filter-peer');
  const list = join(BENCH_OUT, 'bench-exprs.txt');
  writeFileSync(list, exprs.map((e) => `${e}\n`).join(''));
  const out = execFileSync(peer, [capturePath, list, String(minSeconds)], { encoding: 'utf8', maxBuffer: 1 << 26 }).trim().split('\n');
  const head = /^NS ([\d.]+) PASSES/.exec(out[0]);
  if (!head) throw new Error(`filter-peer said: ${out[0]}`);
  const rows = out.slice(1).map((l) => l.split(' ').map(Number));
  return { ns: Number(head[1]), counts: rows.map((r) => r[0]), bytes: rows.map((r) => r[1]) };
}

export function benchOne(rules: RuleSet, packets: PacketSet, minSeconds: number, repeats = 3): FilterBenchRow {
  const cap = readCaptureFile(packets.path);
  // Which rules does the engine take? Only those are measured, on both sides.
  const probe = compileMatcher(rules.exprs.map((expr, slot) => ({ slot, expr })), cap.linkType, new Float64Array(rules.exprs.length), new Float64Array(rules.exprs.length));
  const js = rules.exprs.filter((_, slot) => probe.plans.find((p) => p.slot === slot)?.engine === 'javascript');
  const skipped = rules.exprs.length - js.length;
  // Alternate the two sides and keep each side's best run: the machine is shared, interference only adds time.
  let eng = timeEngine(js, cap.linkType, cap.packets, minSeconds);
  let walk = timeEngine(js, cap.linkType, cap.packets, minSeconds, true);
  let lib = timeLibpcap(js, packets.path, minSeconds);
  for (let r = 1; r < repeats; r++) {
    const e = timeEngine(js, cap.linkType, cap.packets, minSeconds);
    if (e.ns < eng.ns) eng = e;
    const w = timeEngine(js, cap.linkType, cap.packets, minSeconds, true);
    if (w.ns < walk.ns) walk = w;
    const l = timeLibpcap(js, packets.path, minSeconds);
    if (l.ns < lib.ns) lib = l;
  }
  const wrong = js.filter((_, i) => eng.counts[i] !== lib.counts[i] || eng.bytes[i] !== lib.bytes[i]
    || walk.counts[i] !== lib.counts[i] || walk.bytes[i] !== lib.bytes[i]);
  return {
    rules: rules.name, packets: packets.name, measured: js.length, total: rules.exprs.length, packetCount: cap.packets.length,
    engineNs: eng.ns, walkedNs: walk.ns, libpcapNs: lib.ns, countsAgree: wrong.length === 0,
    note: [skipped ? `${skipped} rules left to libpcap, not measured` : '', wrong.length ? `COUNTS DIFFER: ${wrong.slice(0, 3).join(' | ')}` : ''].filter(Boolean).join('; '),
  };
}

export function formatFilterTable(rows: readonly FilterBenchRow[]): string {
  const head = ['rules', 'packets', 'rules measured', 'engine ns/(pkt*rule)', 'libpcap ns/(pkt*rule)', 'libpcap/engine',
    'trees walked ns', 'libpcap/walked', 'counts'];
  const body = rows.map((r) => [r.rules, `${r.packets} (${r.packetCount})`, `${r.measured}/${r.total}`, r.engineNs.toFixed(2), r.libpcapNs.toFixed(2),
    `${(r.libpcapNs / r.engineNs).toFixed(2)}x`, r.walkedNs.toFixed(2), `${(r.libpcapNs / r.walkedNs).toFixed(2)}x`, r.countsAgree ? 'equal' : 'DIFFER']);
  const notes = rows.filter((r) => r.note).map((r) => `  ${r.rules} / ${r.packets}: ${r.note}`);
  return [table(head, body), ...notes].join('\n');
}

export function table(head: readonly string[], body: readonly string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((row) => row[i].length)));
  const line = (cells: readonly string[]): string => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
  return [line(head), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...body.map(line)].join('\n');
}
