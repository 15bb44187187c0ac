/**
 * Runs the filter engine (src/filter) over captured packets and compares its
 * per-packet decisions with libpcap's, optimiser off (the oracle). Shared by the diff tests.
 */
import { appendFileSync } from 'node:fs';
import type { CapturedPacket } from '../gen/pcap-file';
import type { OracleAnswer } from '../gen/oracle';
import { bindMatcher, codeOf, interpretRules, planMatcher } from './engine';
import type { RulePlan } from './engine';

export type { RulePlan };

export interface EngineRun {
  plans: RulePlan[];
  /** Per expression: "0101..." when planned 'javascript', else null. */
  bits: (string | null)[];
  /**
   * Counter updates that were not exactly +1 packet / +wirelen bytes, and packets where the rules'
   * trees walked without generated code (what a live capture counts with at first) counted
   * otherwise than the generated code.
   */
  counterErrors: string[];
}

export interface RunOptions {
  /** Hand the engine a buffer longer than caplen, with garbage after it, at a non-zero offset. */
  padded?: boolean;
}

/**
 * Compiles all expressions into one matcher (as the daemon does) and runs every packet through it,
 * and through the same rules interpreted (filter/interpret.ts).
 */
export function runEngine(exprs: readonly string[], linkType: number, packets: readonly CapturedPacket[], opts: RunOptions = {}): EngineRun {
  const n = exprs.length;
  const bytes = new Float64Array(n);
  const counts = new Float64Array(n);
  const planned = planMatcher(exprs.map((expr, slot) => ({ slot, expr })), linkType);
  const matcher = bindMatcher(codeOf(planned), bytes, counts);
  const walkedBytes = new Float64Array(n);
  const walkedCounts = new Float64Array(n);
  const walked = interpretRules(planned.rules, walkedBytes, walkedCounts);
  const plans = exprs.map((_, slot) => {
    const plan = matcher.plans.find((p) => p.slot === slot);
    if (!plan) throw new Error(`compileMatcher returned no plan for slot ${slot} (${exprs[slot]})`);
    return plan;
  });
  const js = plans.filter((p) => p.engine === 'javascript').map((p) => p.slot);
  const bits: string[][] = exprs.map(() => []);
  const counterErrors: string[] = [];
  const prevBytes = new Float64Array(n);
  const prevCounts = new Float64Array(n);
  const arena = new Uint8Array(65536 + 256);
  packets.forEach((p, index) => {
    if (opts.padded) {
      // The packet at an offset of a larger buffer (as -r reads files), garbage before and after
      // it: every load must be relative to the offset, and one beyond caplen must fail.
      arena.fill(0xa5);
      const start = 7 + (index % 13);
      arena.set(p.data, start);
      matcher.matchAt(arena, start, p.caplen, p.wirelen);
      walked(arena, start, p.caplen, p.wirelen);
    } else {
      matcher.match(p.data, p.caplen, p.wirelen);
      walked(p.data, 0, p.caplen, p.wirelen);
    }
    for (const s of js) {
      const dc = counts[s] - prevCounts[s];
      const db = bytes[s] - prevBytes[s];
      if (dc === 1 && db === p.wirelen) bits[s].push('1');
      else if (dc === 0 && db === 0) bits[s].push('0');
      else {
        counterErrors.push(`${exprs[s]}: packet ${index}: +${dc} packets +${db} bytes (wirelen ${p.wirelen})`);
        bits[s].push(dc > 0 ? '1' : '0');
      }
      prevCounts[s] = counts[s];
      prevBytes[s] = bytes[s];
      if (walkedCounts[s] !== counts[s] || walkedBytes[s] !== bytes[s]) {
        counterErrors.push(`${exprs[s]}: packet ${index}: interpreted ${walkedCounts[s]} packets ${walkedBytes[s]} bytes, generated code ${counts[s]} packets ${bytes[s]} bytes`);
        walkedCounts[s] = counts[s];
        walkedBytes[s] = bytes[s];
      }
    }
  });
  return { plans, bits: plans.map((p) => (p.engine === 'javascript' ? bits[p.slot].join('') : null)), counterErrors };
}

export interface Mismatch {
  expr: string;
  capture: string;
  packet: number;
  expected: string;
  got: string;
  hex?: string;
  /** A shorter expression that still disagrees on this packet (see gen/minimize.ts). */
  minimal?: string;
}

export function hexOf(p: CapturedPacket): string {
  return `caplen=${p.caplen} wirelen=${p.wirelen} ${Buffer.from(p.data).toString('hex')}`;
}

/** Per-packet comparison of one expression; returns every differing packet. */
export function comparePackets(expr: string, capture: string, expected: string, got: string, packets?: readonly CapturedPacket[]): Mismatch[] {
  const out: Mismatch[] = [];
  if (expected.length !== got.length) {
    out.push({ expr, capture, packet: -1, expected: `${expected.length} packets`, got: `${got.length} packets` });
    return out;
  }
  for (let i = 0; i < expected.length; i++) {
    // 'H': libpcap never finishes this packet (pcap-oracle's time limit); there is no answer to compare with.
    if (expected[i] === 'H') continue;
    if (expected[i] !== got[i]) {
      out.push({ expr, capture, packet: i, expected: expected[i] === '1' ? 'match' : 'no match', got: got[i] === '1' ? 'match' : 'no match', hex: packets ? hexOf(packets[i]) : undefined });
    }
  }
  return out;
}

export function describe(m: Mismatch): string {
  return `expr ${JSON.stringify(m.expr)} capture ${m.capture} packet ${m.packet}: libpcap ${m.expected}, engine ${m.got}` +
    `${m.minimal ? `\n    minimal: ${JSON.stringify(m.minimal)}` : ''}${m.hex ? `\n    packet ${m.hex}` : ''}`;
}

/** A failure message: one entry per (expression, capture) with its first differing packet; all packets are counted. */
export function mismatchReport(title: string, ms: readonly Mismatch[], limit = 20): string {
  const groups = groupMismatches(ms);
  const lines = groups.slice(0, limit).map((g) => `  [${g.length} packets] ${describe(g[0])}`);
  if (groups.length > limit) lines.push(`  ... and ${groups.length - limit} more expressions`);
  return `${title}: ${ms.length} mismatching packets in ${groups.length} (expression, capture) pairs\n${lines.join('\n')}`;
}

function groupMismatches(ms: readonly Mismatch[]): Mismatch[][] {
  const byExpr = new Map<string, Mismatch[]>();
  for (const m of ms) {
    const key = `${m.expr}\u0000${m.capture}`;
    const list = byExpr.get(key) ?? [];
    list.push(m);
    byExpr.set(key, list);
  }
  return [...byExpr.values()];
}

/**
 * When FILTER_FINDINGS names a file, appends mismatches there (one block per
 * expression) so the compiler's author can work through them.
 */
export function recordFindings(title: string, ms: readonly Mismatch[]): void {
  const file = process.env.FILTER_FINDINGS;
  if (!file || ms.length === 0) return;
  const blocks: string[] = [`\n### ${title} (${new Date().toISOString()})\n`];
  for (const list of groupMismatches(ms)) {
    const first = list[0];
    blocks.push(`- \`${first.expr}\` on ${first.capture}: ${list.length} packets differ; first: packet ${first.packet}, libpcap ${first.expected}, engine ${first.got}${first.minimal ? `\n  - minimal: \`${first.minimal}\`` : ''}${first.hex ? `\n  - packet: \`${first.hex}\`` : ''}`);
  }
  appendFileSync(file, `${blocks.join('\n')}\n`);
}

export function answerText(a: OracleAnswer): string {
  return a.ok ? `OK ${a.value}` : `ERR ${a.error}`;
}

export function planText(p: RulePlan): string {
  if (p.engine === 'javascript') return 'javascript';
  if (p.engine === 'libpcap') return `libpcap (${p.reason})`;
  return `error (${p.message})`;
}

/** Fails with every problem (first 30) and every mismatch (first 25) in one message. */
export function assertClean(title: string, problems: readonly string[], ms: readonly Mismatch[], hint = ''): void {
  if (problems.length === 0 && ms.length === 0) return;
  const parts: string[] = [];
  if (problems.length) parts.push(`${title}: ${problems.length} problems\n${problems.slice(0, 30).map((p) => `  ${p}`).join('\n')}${problems.length > 30 ? `\n  ... and ${problems.length - 30} more` : ''}`);
  if (ms.length) parts.push(mismatchReport(title, ms));
  if (hint) parts.push(hint);
  throw new Error(parts.join('\n'));
}

/**
 * The daemon captures only plan.snapNeeded bytes per packet. Cut every packet
 * to that length and run the rules again: wherever the engine agreed with
 * libpcap on the whole packet (expected[i] = libpcap's answers), it must still
 * agree on the cut one, else snapNeeded is too small. Returns the offenders.
 */
export function checkSnapNeeded(exprs: readonly string[], linkType: number, packets: readonly CapturedPacket[], run: EngineRun,
  expected: readonly (string | null)[], capture: string): Mismatch[] {
  const bySnap = new Map<number, number[]>();
  run.plans.forEach((p, i) => {
    if (p.engine !== 'javascript' || expected[i] === null || p.snapNeeded >= 65536) return;
    const list = bySnap.get(p.snapNeeded) ?? [];
    list.push(i);
    bySnap.set(p.snapNeeded, list);
  });
  const out: Mismatch[] = [];
  for (const [snap, idx] of bySnap) {
    const cut = packets.map((p) => {
      const caplen = Math.min(p.caplen, snap);
      return { ...p, data: p.data.subarray(0, caplen), caplen };
    });
    const again = runEngine(idx.map((i) => exprs[i]), linkType, cut);
    idx.forEach((i, k) => {
      const want = expected[i] ?? '';
      const full = run.bits[i] ?? '';
      const got = again.bits[k] ?? '';
      for (let n = 0; n < want.length; n++) {
        if (want[n] === 'H' || full[n] !== want[n] || got[n] === want[n]) continue;
        out.push({ expr: exprs[i], capture: `${capture} cut to snapNeeded=${snap}`, packet: n, expected: want[n] === '1' ? 'match' : 'no match',
          got: got[n] === '1' ? 'match' : 'no match', hex: hexOf(packets[n]) });
      }
    });
  }
  return out;
}
