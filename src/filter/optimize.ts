/**
 * Pass 4: simplifications that keep libpcap's meaning, and the choice of values worth
 * computing once per packet for all rules (EtherType, IP protocol, IPv4 header length...).
 */
import type { Cond, Val } from './ir';
import { FALSE, TRUE } from './ir';

/** Folds constant tests where that cannot skip a load that would have aborted the rule. */
export function simplify(c: Cond): Cond {
  switch (c.k) {
    case 'and': {
      const a = simplify(c.a), b = simplify(c.b);
      if (a.k === 'false') return FALSE;
      if (a.k === 'true') return b;
      if (b.k === 'true') return a;
      return { k: 'and', a, b };
    }
    case 'or': {
      const a = simplify(c.a), b = simplify(c.b);
      if (a.k === 'true') return TRUE;
      if (a.k === 'false') return b;
      if (b.k === 'false') return a;
      return { k: 'or', a, b };
    }
    case 'not': {
      const a = simplify(c.a);
      if (a.k === 'true') return FALSE;
      if (a.k === 'false') return TRUE;
      if (a.k === 'not') return a.a;
      return { k: 'not', a };
    }
    default:
      return c;
  }
}

/** Key of a value that can be computed once per packet: constant-offset loads and IPv4 header lengths. */
export function sharedKey(v: Val): string | null {
  if (v.k === 'load' && v.off.k === 'const') return `L${v.off.v}:${v.size}`;
  if (v.k === 'ihl') return `X${v.off}`;
  return null;
}

function visitVals(c: Cond, f: (v: Val) => void): void {
  const walk = (v: Val): void => {
    f(v);
    if (v.k === 'load') walk(v.off);
    else if (v.k === 'bin') { walk(v.a); walk(v.b); } else if (v.k === 'neg') walk(v.a);
  };
  const go = (x: Cond): void => {
    if (x.k === 'and' || x.k === 'or') { go(x.a); go(x.b); } else if (x.k === 'not') go(x.a);
    else if (x.k === 'cmp') { walk(x.a); walk(x.b); }
    else if (x.k === 'chain') f({ k: 'load', off: { k: 'const', v: SNAP_UNBOUNDED }, size: 1 });
  };
  go(c);
}

/** Values used at least twice over all rules: computed once at the top of the packet function. */
export function chooseShared(rules: readonly Cond[]): Map<string, Val> {
  const counts = new Map<string, { n: number; v: Val }>();
  for (const r of rules) {
    visitVals(r, (v) => {
      const key = sharedKey(v);
      if (key === null) return;
      const e = counts.get(key);
      if (e) e.n++; else counts.set(key, { n: 1, v });
    });
  }
  const out = new Map<string, Val>();
  for (const [k, e] of counts) if (e.n >= 2) out.set(k, e.v);
  return out;
}

export const SNAP_UNBOUNDED = 262144;

/** Largest value v can take (for snap-length bounds); Infinity when not bounded usefully. */
function upperBound(v: Val): number {
  switch (v.k) {
    case 'const': return v.v;
    case 'len': return SNAP_UNBOUNDED;
    case 'ihl': return 60;
    case 'load': return 2 ** (8 * v.size) - 1;
    case 'neg': return Infinity;
    case 'bin': {
      const a = upperBound(v.a), b = upperBound(v.b);
      switch (v.op) {
        case '+': return a + b;
        case '&': return Math.min(a, b);
        case '*': return a * b;
        case '/': return a;
        case '%': return Math.min(a, b);
        case '>>': return a;
        default: return Infinity;
      }
    }
  }
}

/** Most bytes from the packet start the rule can read. */
export function snapNeeded(c: Cond): number {
  let max = 0;
  visitVals(c, (v) => {
    let end = 0;
    if (v.k === 'load') end = upperBound(v.off) + v.size;
    else if (v.k === 'ihl') end = v.off + 1;
    if (end > max) max = end;
  });
  return Math.min(max, SNAP_UNBOUNDED);
}

// ---- tests libpcap's optimizer would delete ----
//
// libpcap's optimizer threads jumps whose outcome an earlier test already decided, then deletes
// tests whose two branches end up at the same place, together with their loads. A deleted load
// can no longer abort the filter on a short packet (`ip or not ip` accepts a 10-byte packet).
// Rules where that happens are left to libpcap; detection walks every path with known outcomes.

type Dag = {
  id: number; key: string; valueKey: string; pullKey: string;
  /** What BPF's accumulator may hold at the test (see accumulatorKeys). */
  accKeys: readonly string[];
  op: string; k: number | null; t: Dag; f: Dag; ends: LoadEnds;
} | { id: 0 | 1 };

/** Bytes a test's loads need: at least `low` on every evaluation, at most `high` (Infinity: unknown). */
interface LoadEnds {
  low: number; high: number;
  /** A division or modulus by a value from the packet: a zero divisor rejects on any packet. */
  divides: boolean;
  /** Where each load ends. */
  reaches: Reach[];
}

/**
 * Where one load ends: at `sym + k` bytes, sym being the part of its offset known only per packet
 * ('' when none: `[x + 16]` is sym x, k 18 for a halfword), and at least lo, at most hi bytes.
 * Two loads with the same sym compare by k alone (the port after the IPv4 header reaches further
 * than the port before it, whatever the header length).
 */
interface Reach { sym: string; k: number; lo: number; hi: number }

/** Whether a load ending at r succeeds whenever one of the loads in done did. */
function covered(r: Reach, done: readonly Reach[]): boolean {
  return done.some((d) => (d.sym === r.sym && r.k <= d.k) || r.hi <= d.lo);
}

function reachOf(off: Val, size: number): Reach {
  const lo = exactLowerBound(off) + size, hi = upperBound(off) + size;
  if (off.k === 'const') return { sym: '', k: off.v + size, lo, hi };
  if (off.k === 'bin' && off.op === '+' && off.exact && off.b.k === 'const') return { sym: valKey(off.a), k: off.b.v + size, lo, hi };
  return { sym: valKey(off), k: size, lo, hi };
}

/** Smallest value v can take, through constants and BPF's non-wrapping [x + k] sums only. */
function exactLowerBound(v: Val): number {
  if (v.k === 'const') return v.v;
  if (v.k === 'bin' && v.op === '+' && v.exact) return exactLowerBound(v.a) + exactLowerBound(v.b);
  return 0;
}

function loadEnds(vals: Val[]): LoadEnds {
  let low = 0, high = 0, divides = false;
  const reaches: Reach[] = [];
  const walk = (v: Val): void => {
    if (v.k === 'load') {
      const lo = lowerBound(v.off) + v.size;
      const hi = v.off.k === 'const' ? v.off.v + v.size : Infinity;
      low = Math.max(low, lo); high = Math.max(high, hi);
      reaches.push(reachOf(v.off, v.size));
      walk(v.off);
    } else if (v.k === 'ihl') {
      low = Math.max(low, v.off + 1); high = Math.max(high, v.off + 1);
      reaches.push({ sym: '', k: v.off + 1, lo: v.off + 1, hi: v.off + 1 });
    }
    else if (v.k === 'bin') {
      if ((v.op === '/' || v.op === '%') && v.b.k !== 'const') divides = true;
      walk(v.a); walk(v.b);
    } else if (v.k === 'neg') walk(v.a);
  };
  vals.forEach(walk);
  return { low, high, divides, reaches };
}

/** Smallest value v can take (offsets grow only by addition of unsigned parts). */
function lowerBound(v: Val): number {
  if (v.k === 'const') return v.v;
  if (v.k === 'bin' && v.op === '+') return lowerBound(v.a) + lowerBound(v.b);
  return 0;
}

const ACCEPT: Dag = { id: 1 };
const REJECT: Dag = { id: 0 };

export function valKey(v: Val): string {
  switch (v.k) {
    case 'const': return `#${v.v}`;
    case 'len': return 'len';
    case 'ihl': return `x${v.off}`;
    case 'load': return `[${valKey(v.off)}:${v.size}]`;
    case 'neg': return `-(${valKey(v.a)})`;
    case 'bin': return `(${valKey(v.a)}${v.op}${v.exact ? '!' : ''}${valKey(v.b)})`;
  }
}

/** A test's outcome where earlier outcomes decide it (libpcap's jump threading), else undefined. */
function decide(n: Extract<Dag, { key: string }>, known: ReadonlyMap<string, boolean>, equalTo: ReadonlyMap<string, number>): boolean | undefined {
  const decided = known.get(n.key);
  if (decided !== undefined) return decided;
  if (n.op === 'eq' && n.k !== null) {
    const eqK = equalTo.get(n.valueKey);
    if (eqK !== undefined && eqK !== n.k) return false;
  }
  if (n.valueKey.startsWith('#') && n.k !== null && n.op !== 'chain') {
    const a = Number(n.valueKey.slice(1));
    return n.op === 'eq' ? a === n.k : n.op === 'gt' ? a > n.k : n.op === 'ge' ? a >= n.k : (a & n.k) !== 0;
  }
  return undefined;
}

export interface OptimizerEffects {
  /**
   * A test (with loads) goes or moves where a short packet could then be decided differently,
   * or the whole rule reduces to "reject everything".
   */
  removesTests: boolean;
  /**
   * A test dividing by a packet value goes or moves: where that divisor is 0 the verdicts differ
   * on whole packets too (BPF rejects a packet on division by zero).
   */
  dropsDivision: boolean;
  /**
   * A value is compared again, after a comparison of another value, in a block libpcap keeps: its
   * blocks are shared by all paths, and a jump is threaded past a test only where the tests
   * dominating that jump decide it (not where each path on its own would). Such blocks are what
   * and_pullup/or_pullup move around, the precondition of libpcap 1.10.3's miscompiles.
   */
  retested: boolean;
}

type TestNode = Extract<Dag, { key: string }>;

/** See OptimizerEffects.retested. Walks the shared graph once, threading each edge by its dominators. */
function keptRetests(root: Dag): boolean {
  const order: TestNode[] = [];
  const seen = new Set<TestNode>();
  const visit = (n: Dag): void => {
    if (!('key' in n) || seen.has(n)) return;
    seen.add(n);
    visit(n.t); visit(n.f);
    order.push(n);
  };
  visit(root);
  order.reverse();
  interface Edge { known: Map<string, boolean>; equalTo: Map<string, number>; tested: Set<string>; from: string | null }
  const incoming = new Map<TestNode, Edge[]>();
  const send = (target: Dag, e: Edge): void => {
    while ('key' in target) {
      const d = decide(target, e.known, e.equalTo);
      if (d === undefined) break;
      target = d ? target.t : target.f;
    }
    if (!('key' in target)) return;
    const list = incoming.get(target);
    if (list) list.push(e); else incoming.set(target, [e]);
  };
  send(root, { known: new Map(), equalTo: new Map(), tested: new Set(), from: null });
  let found = false;
  for (const n of order) {
    const ins = incoming.get(n);
    if (!ins) continue;
    if (ins.some((e) => e.tested.has(n.pullKey) && e.from !== n.pullKey)) found = true;
    const known = commonEntries(ins.map((e) => e.known));
    const equalTo = commonEntries(ins.map((e) => e.equalTo));
    const tested = new Set([...ins[0].tested].filter((v) => ins.every((e) => e.tested.has(v))));
    tested.add(n.pullKey);
    const et = n.op === 'eq' && n.k !== null ? new Map(equalTo).set(n.valueKey, n.k) : equalTo;
    send(n.t, { known: new Map(known).set(n.key, true), equalTo: et, tested, from: n.pullKey });
    send(n.f, { known: new Map(known).set(n.key, false), equalTo, tested, from: n.pullKey });
  }
  return found;
}

function intersect<T>(a: ReadonlySet<T>, b: ReadonlySet<T>): Set<T> {
  return new Set([...a].filter((x) => b.has(x)));
}

/** The entries all maps share (facts that hold on every incoming edge). */
function commonEntries<V>(maps: readonly Map<string, V>[]): Map<string, V> {
  const out = new Map<string, V>();
  for (const [k, v] of maps[0]) if (maps.every((m) => m.get(k) === v)) out.set(k, v);
  return out;
}

/** What libpcap's optimizer may do to this rule; null when too big to tell. */
export function analyseOptimizer(c: Cond, budget = 50000): OptimizerEffects | null {
  let nextId = 2;
  const build = (x: Cond, t: Dag, f: Dag): Dag => {
    switch (x.k) {
      case 'true': return t;
      case 'false': return f;
      case 'not': return build(x.a, f, t);
      case 'and': return build(x.a, build(x.b, t, f), f);
      case 'or': return build(x.a, t, build(x.b, t, f));
      case 'chain':
        return { id: nextId++, key: `chain${x.v6}${x.nl}/${x.proto}`, valueKey: `chain${x.v6}${x.nl}`, pullKey: `chain${x.v6}${x.nl}/${x.proto}`,
          accKeys: [`chain${x.v6}${x.nl}/${x.proto}`], op: 'chain', k: x.proto, t, f,
          ends: { low: x.nl + 1, high: Infinity, divides: false, reaches: [{ sym: 'chain', k: x.nl + 1, lo: x.nl + 1, hi: Infinity }] } };
      case 'cmp': {
        const a = valKey(x.a), b = valKey(x.b);
        const unmasked = x.a.k === 'bin' && x.a.op === '&' && x.a.b.k === 'const' ? valKey(x.a.a) : a;
        return { id: nextId++, key: `${x.op}:${a}:${b}`, valueKey: a, pullKey: unmasked, accKeys: accumulatorKeys(x), op: x.op, k: x.b.k === 'const' ? x.b.v : null, t, f,
          ends: loadEnds([x.a, x.b]) };
      }
    }
  };
  const root = build(c, ACCEPT, REJECT);
  const retested = keptRetests(root);
  let steps = 0;
  let removed = false;
  let dropsDivision = false;
  // Facts: test key -> outcome, and value -> the constant it was found equal to.
  // libpcap's optimizer also pulls a comparison of a value up to an earlier comparison of the same
  // value, across other tests of an and-chain or or-chain (and_pullup/or_pullup: `net a or net b`
  // tests both sources before both destinations; `less 60 or not X or less 100` tests the length
  // twice before X). If tests reading further into the packet lie between them, a short packet can
  // be decided in libpcap where in-order evaluation aborts: `pulls` tracks every tested value and
  // the furthest load since (conservatively on both branches, whatever the comparison).
  type Pull = { v: string; high: number; max: number; between: boolean; divides: boolean };
  // The same by what the accumulator holds (the value numbers the pull-ups and jump threading
  // compare), load by load: once a test T1 of a value has run, a later test T2 of the same value
  // can run right after T1 (pulled up, or its outcome decided there), ahead of the tests between.
  // In-order evaluation and libpcap then differ on a short packet if a load between them, or one of
  // T2's own (the other operand of `ip6[0] > ip6[1]`), can reach past bytes that T1 and the tests
  // before it already loaded: `ip and port 6697 or udp port 53` tests sport 53 before loading dport.
  // A pull-up moves T2 only along a chain of tests that all go on to the next by the same branch
  // (or_pullup: false branches, and_pullup: true ones; the branch out of T1 may be either), so a
  // pull ends where the walk turns. The tests of the chain and T2 must also share their other
  // target (where the branch not followed leads): `port 53 and not tcp port 80` never moves
  // sport == 80 (false: on to dport == 80) above dport == 53 (false: reject). `others` holds the
  // blocks, structurally, that the chain's other branches may all reach once threaded.
  type AccPull = { v: string; loaded: readonly Reach[]; between: boolean; beyond: boolean; sense: boolean | null; others: ReadonlySet<number> | null };
  const walk = (n: Dag, known: Map<string, boolean>, equalTo: Map<string, number>, pulls: readonly Pull[],
                accPulls: readonly AccPull[], loaded: readonly Reach[]): number => {
    if (!('key' in n)) return n.id;
    if (++steps > budget) throw new Error('budget');
    const decided = decide(n, known, equalTo);
    if (decided !== undefined) return walk(decided ? n.t : n.f, known, equalTo, pulls, accPulls, loaded);
    const v = pullKey(n);
    const again = pulls.find((p) => p.v === v);
    if (again && again.between) {
      if (again.max > again.high) removed = true;
      if (again.divides) dropsDivision = true;
    }
    const after = [...pulls.filter((p) => p.v !== v).map((p) => ({ ...p, between: true, max: Math.max(p.max, n.ends.high), divides: p.divides || n.ends.divides })),
      { v, high: n.ends.high, max: 0, between: false, divides: false }];
    const kt = new Map(known).set(n.key, true);
    const et = n.op === 'eq' && n.k !== null ? new Map(equalTo).set(n.valueKey, n.k) : equalTo;
    const kf = new Map(known).set(n.key, false);
    /** The blocks the branch of n not taken when going on by `sense` may lead to, threaded. */
    const otherTargets = (sense: boolean): Set<number> => threadChain(sense ? n.f : n.t, sense ? kf : kt, sense ? equalTo : et);
    const sharesOther = (p: AccPull, sense: boolean): boolean => p.others === null || intersect(p.others, otherTargets(sense)).size > 0;
    const reaches = n.ends.reaches;
    const beyond = (p: AccPull): boolean => reaches.some((r) => !covered(r, p.loaded));
    for (const p of accPulls) {
      if (p.between && p.sense !== null && n.accKeys.includes(p.v) && (p.beyond || beyond(p)) && sharesOther(p, p.sense)) removed = true;
    }
    const nowLoaded = [...loaded, ...reaches];
    // Only a test whose accumulator value is certain starts afresh the pulls of that value.
    const replaces = (p: AccPull): boolean => n.accKeys.length === 1 && p.v === n.accKeys[0];
    const passed = accPulls.filter((p) => !replaces(p)).map((p) => ({ ...p, between: true, beyond: p.beyond || beyond(p) }));
    const fresh = n.accKeys.map((key): AccPull => ({ v: key, loaded: nowLoaded, between: false, beyond: false, sense: null, others: null }));
    const accAfter = (sense: boolean): AccPull[] => {
      const out: AccPull[] = [];
      for (const p of passed) {
        if (p.sense !== null && p.sense !== sense) continue;
        const others = p.others === null ? otherTargets(sense) : intersect(p.others, otherTargets(sense));
        if (others.size > 0) out.push({ ...p, sense, others });
      }
      return [...out, ...fresh];
    };
    const t = walk(n.t, kt, et, after, accAfter(true), nowLoaded);
    const f = walk(n.f, kf, equalTo, after, accAfter(false), nowLoaded);
    // Dropping a test changes a verdict only if its loads could abort where every way on to
    // "accept" would not have aborted anyway (aborting rejects, like the "reject" end).
    if (t === f) {
      if (n.ends.high > minAcceptEnd(t)) removed = true;
      if (n.ends.divides) dropsDivision = true;
      return t;
    }
    // libpcap's blocks are shared, not copied per path: once both edges are threaded past the
    // tests decided there to the SAME block, the test goes, before any later test could be
    // specialised on one branch (`dst net X or not ether proto Y` ahead of a test of the same
    // address). The walk above specialises per path, so check the threaded edges as well.
    if (thread(n.t, kt, et) === thread(n.f, kf, equalTo)) {
      if (n.ends.high > Math.min(minAcceptEnd(t), minAcceptEnd(f))) removed = true;
      if (n.ends.divides) dropsDivision = true;
    }
    return interned(n.key, t, f, n.ends.low);
  };
  /** Structural identity of a block and all below it (libpcap merges identical blocks). */
  const shapes = new Map<Dag, number>();
  const shapeIds = new Map<string, number>();
  const shape = (n: Dag): number => {
    if (!('key' in n)) return n.id;
    let id = shapes.get(n);
    if (id === undefined) {
      const k = `${n.key}|${shape(n.t)}|${shape(n.f)}`;
      id = shapeIds.get(k);
      if (id === undefined) { id = shapeIds.size + 2; shapeIds.set(k, id); }
      shapes.set(n, id);
    }
    return id;
  };
  /** Every block on the way from n past the tests the facts decide (libpcap may stop threading at any). */
  const threadChain = (n: Dag, known: Map<string, boolean>, equalTo: Map<string, number>): Set<number> => {
    const out = new Set<number>([shape(n)]);
    while ('key' in n) {
      const d = decide(n, known, equalTo);
      if (d === undefined) break;
      n = d ? n.t : n.f;
      out.add(shape(n));
    }
    return out;
  };
  const thread = (n: Dag, known: Map<string, boolean>, equalTo: Map<string, number>): Dag => {
    while ('key' in n) {
      const d = decide(n, known, equalTo);
      if (d === undefined) break;
      n = d ? n.t : n.f;
    }
    return n;
  };
  const table = new Map<string, number>();
  /** Per interned node: the least number of bytes any path from it to "accept" loads. */
  const acceptEnd: number[] = [Infinity, 0];
  const minAcceptEnd = (id: number): number => acceptEnd[id];
  const interned = (key: string, t: number, f: number, low: number): number => {
    const k = `${key}|${t}|${f}`;
    let id = table.get(k);
    if (id === undefined) {
      id = table.size + 2;
      table.set(k, id);
      acceptEnd[id] = Math.max(low, Math.min(acceptEnd[t], acceptEnd[f]));
    }
    return id;
  };
  try {
    if (walk(root, new Map(), new Map(), [], [], []) === REJECT.id) return { removesTests: true, dropsDivision, retested };
  } catch {
    return null;
  }
  return { removesTests: removed, dropsDivision, retested };
}

/** Whether a test of c divides by a value read from the packet. */
export function dividesAtRunTime(c: Cond): boolean {
  switch (c.k) {
    case 'and': case 'or': return dividesAtRunTime(c.a) || dividesAtRunTime(c.b);
    case 'not': return dividesAtRunTime(c.a);
    case 'cmp': return loadEnds([c.a, c.b]).divides;
    default: return false;
  }
}

/**
 * The value libpcap's pull-ups compare: what the accumulator holds at the test. A mask against 0
 * becomes `jset` on the unmasked value (peephole), so masks are set aside, conservatively always.
 */
function pullKey(n: Extract<Dag, { key: string }>): string {
  return n.pullKey;
}

/**
 * What BPF's accumulator holds when test c jumps: its left side. `x & m == 0` may become
 * `jset #m` on x itself (opt_peep does so where A is not used afterwards): both then.
 */
function accumulatorKeys(c: Extract<Cond, { k: 'cmp' }>): string[] {
  const a = valKey(c.a);
  const zero = c.op === 'eq' && c.b.k === 'const' && c.b.v === 0;
  if (zero && c.a.k === 'bin' && c.a.op === '&' && c.a.b.k === 'const') return [a, valKey(c.a.a)];
  return [a];
}
