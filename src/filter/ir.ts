/**
 * Pass 3 output: what a rule tests, as loads from the packet and comparisons.
 * Offsets are absolute (from the first captured byte). Every load may abort the
 * rule ("no match") when it reaches past the captured length, like a BPF load.
 */
import type { ArithOp } from './ast';

export type Val =
  | { k: 'const'; v: number }
  | { k: 'len' }
  | { k: 'load'; off: Val; size: 1 | 2 | 4 }
  /** The IPv4 header length 4*(p[off]&0xf): BPF's `ldxb`. */
  | { k: 'ihl'; off: number }
  /** exact: an offset sum as BPF forms [x + k], not wrapped to 32 bits (bounds are checked instead). */
  | { k: 'bin'; op: ArithOp; a: Val; b: Val; exact?: boolean }
  | { k: 'neg'; a: Val };

export type CmpOp = 'eq' | 'gt' | 'ge' | 'set';

export type Cond =
  | { k: 'true' }
  | { k: 'false' }
  | { k: 'and' | 'or'; a: Cond; b: Cond }
  | { k: 'not'; a: Cond }
  | { k: 'cmp'; op: CmpOp; a: Val; b: Val }
  /**
   * libpcap's protochain walk (a loop in BPF): from the IP header at nl, follow extension headers
   * (IPv6: hop-by-hop, routing, fragment, destination options; both: AH) until `proto`, no-next-header,
   * or an unknown header; true when the header reached is `proto`.
   */
  | { k: 'chain'; v6: boolean; nl: number; proto: number };

export const TRUE: Cond = { k: 'true' };
export const FALSE: Cond = { k: 'false' };

export const num = (v: number): Val => ({ k: 'const', v: v >>> 0 });
export const load = (off: number | Val, size: 1 | 2 | 4): Val =>
  ({ k: 'load', off: typeof off === 'number' ? num(off) : off, size });
export const add = (a: Val, b: number): Val => (b === 0 ? a : { k: 'bin', op: '+', a, b: num(b) });
export const and = (a: Cond, b: Cond): Cond => ({ k: 'and', a, b });
export const or = (a: Cond, b: Cond): Cond => ({ k: 'or', a, b });
export const not = (a: Cond): Cond => ({ k: 'not', a });
export const cmp = (op: CmpOp, a: Val, b: Val): Cond => ({ k: 'cmp', op, a, b });
export const eq = (a: Val, v: number): Cond => cmp('eq', a, num(v));
/** (a & mask) == v, written as libpcap does (no `and` when the mask is all ones). */
export const maskedEq = (a: Val, mask: number, v: number, size: 1 | 2 | 4): Cond => {
  const full = size === 4 ? 0xffffffff : size === 2 ? 0xffff : 0xff;
  return (mask >>> 0) === full ? eq(a, v) : eq({ k: 'bin', op: '&', a, b: num(mask) }, v);
};

export function andAll(cs: Cond[]): Cond {
  return cs.reduce((x, y) => and(x, y));
}
export function orAll(cs: Cond[]): Cond {
  return cs.reduce((x, y) => or(x, y));
}
