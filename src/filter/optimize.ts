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
