/**
 * The lowered rules (pass 3/4 output) evaluated as they are, without generating code: what a
 * live capture counts with from its first packet while the generated function (codegen.ts) is
 * built after the sockets serve. On a router CPU code generation is seconds of cold JavaScript
 * at start; walking the tree costs more per packet but nothing to set up.
 *
 * Same meaning as the generated code: tests run left to right with short-circuit `and`/`or`, and
 * a load past the captured bytes (or a division by zero) rejects the whole rule, as it ends a BPF
 * program. Nothing is allocated per packet.
 */
import type { CmpOp, Cond, Val } from './ir';
import type { MatchAtFn } from '.';

/** A value or test that ended the rule ("no match"); values are otherwise >= 0. */
const ABORT = -1;
/** Steps of a protochain walk before giving up, as in codegen.ts. */
const CHAIN_LIMIT = 4096;

// The packet being matched: set once per packet, read by the walkers below.
let p: Uint8Array = new Uint8Array(0);
let o = 0;
let caplen = 0;
let wirelen = 0;

/** A counting function for `rules` (slot and lowered test each), like the generated one. */
export function interpretRules(rules: readonly { slot: number; cond: Cond }[],
  bytes: Float64Array, packets: Float64Array): MatchAtFn {
  const slots = rules.map((r) => r.slot);
  const conds = rules.map((r) => r.cond);
  return (buffer, offset, captured, onWire) => {
    p = buffer; o = offset; caplen = captured; wirelen = onWire;
    for (let i = 0; i < conds.length; i++) {
      if (test(conds[i]) === 1) {
        bytes[slots[i]] += onWire;
        packets[slots[i]] += 1;
      }
    }
  };
}

/** 1 true, 0 false, ABORT. */
function test(c: Cond): number {
  switch (c.k) {
    case 'true': return 1;
    case 'false': return 0;
    case 'not': {
      const a = test(c.a);
      return a === ABORT ? ABORT : 1 - a;
    }
    case 'and': {
      const a = test(c.a);
      return a === 1 ? test(c.b) : a;
    }
    case 'or': {
      const a = test(c.a);
      return a === 0 ? test(c.b) : a;
    }
    case 'chain': return chain(c.v6, c.nl, c.proto);
    case 'cmp': {
      const a = value(c.a);
      if (a === ABORT) return ABORT;
      const b = value(c.b);
      if (b === ABORT) return ABORT;
      return compare(c.op, a, b) ? 1 : 0;
    }
  }
}

function compare(op: CmpOp, a: number, b: number): boolean {
  switch (op) {
    case 'eq': return a === b;
    case 'gt': return a > b;
    case 'ge': return a >= b;
    case 'set': return (a & b) !== 0;
  }
}

/** The value as a uint32 (an `exact` offset sum may exceed 32 bits), or ABORT. */
function value(v: Val): number {
  switch (v.k) {
    case 'const': return v.v;
    case 'len': return wirelen;
    case 'ihl': return caplen > v.off ? (p[o + v.off] & 15) << 2 : ABORT;
    case 'load': {
      const at = value(v.off);
      if (at === ABORT || at + v.size > caplen) return ABORT;
      const i = o + at;
      if (v.size === 1) return p[i];
      if (v.size === 2) return (p[i] << 8) | p[i + 1];
      return p[i] * 16777216 + ((p[i + 1] << 16) | (p[i + 2] << 8) | p[i + 3]);
    }
    case 'neg': {
      const a = value(v.a);
      return a === ABORT ? ABORT : (-a) >>> 0;
    }
    case 'bin': {
      const a = value(v.a);
      if (a === ABORT) return ABORT;
      const b = value(v.b);
      if (b === ABORT) return ABORT;
      switch (v.op) {
        case '+': return v.exact ? a + b : (a + b) >>> 0;
        case '-': return (a - b) >>> 0;
        case '*': return Math.imul(a, b) >>> 0;
        case '/': return b === 0 ? ABORT : (a / b) >>> 0;
        case '%': return b === 0 ? ABORT : a % b;
        case '&': return (a & b) >>> 0;
        case '|': return (a | b) >>> 0;
        case '^': return (a ^ b) >>> 0;
        // BPF gives 0 for shift counts of 32 or more.
        case '<<': return b < 32 ? (a << b) >>> 0 : 0;
        case '>>': return b < 32 ? a >>> b : 0;
      }
    }
  }
}

/** libpcap's protochain walk, step for step as codegen.ts emits it (AH quirk included). */
function chain(v6: boolean, nl: number, proto: number): number {
  let a: number, x: number;
  if (v6) {
    if (caplen < nl + 7) return ABORT;
    a = p[o + nl + 6];
    x = 40;
  } else {
    if (caplen < nl + 10) return ABORT;
    a = p[o + nl + 9];
    if (caplen <= nl) return ABORT;
    x = (p[o + nl] & 15) << 2;
  }
  for (let n = 0; ;) {
    if (a === proto || a === 59) break;
    if (v6 && (a === 0 || a === 60 || a === 43 || a === 44)) {
      if (x + nl + 1 > caplen) return ABORT;
      const next = p[o + x + nl];
      if (x + nl + 2 > caplen) return ABORT;
      x = ((p[o + x + nl + 1] + 1) * 8 + x) >>> 0;
      a = next;
    } else if (a === 51) {
      if (x + nl + 1 > caplen) return ABORT;
      const next = p[o + x + nl];
      x = (x + 1) >>> 0;
      if (x + nl + 1 > caplen) return ABORT;
      x = (p[o + x + nl] + 2) * 4;
      a = next;
    } else break;
    if (++n > CHAIN_LIMIT) return ABORT;
  }
  return a === proto ? 1 : 0;
}
