/**
 * Which rule shapes libpcap's optimiser may compile wrongly. The shared
 * kernel filter is compiled by the binding, which always optimises, while the
 * rules count what libpcap's unoptimised program means; a miscompiled term of
 * the kernel filter could drop a packet a rule counts. Such terms go into the
 * kernel filter coarse (see prefilter.ts). The shapes are those libpcap
 * 1.10.3 was seen to miscompile (test/filter/diff, test/offline/prefilter):
 * - four or more primitives, not all joined by a plain `and`, with one
 *   primitive repeated or a link-level one (`ether multicast`, `ether[0]`,
 *   `len`) among them: `udp or ip6 or len > 100 or ip`;
 * - a network whose partial prefix word is 0 next to another address test:
 *   `net fe80::/65 and net fe80::/65`;
 * - `src and dst` with `or` among three or more primitives (raw IP);
 * - arithmetic the optimiser folds away with its loads (`x & 0`, `x * 0`,
 *   divisions): a register such a load set may be lost for a later test.
 */
import type { Arith, Expr, IdValue } from '../filter/ast';
import { parseIPv6 } from '../filter/tokenize';

const MIN_PRIMITIVES = 4;

export function optimiserMayMiscompile(ast: Expr): boolean {
  const leaves = primitivesOf(ast);
  const plainAnd = conjunction(ast);
  // Repetition last: its keys are the dearest test (much of a start on a router CPU).
  if (leaves.length >= MIN_PRIMITIVES && !plainAnd && (leaves.some(linkLevel) || repeated(leaves))) return true;
  const addresses = leaves.filter((l) => l.kind === 'addr' && (l.q.addr === null || l.q.addr === 'host' || l.q.addr === 'net'));
  if (addresses.length >= 2 && addresses.some((l) => l.kind === 'addr' && zeroPartialWord(l.value))) return true;
  if (leaves.length >= 3 && !plainAnd && leaves.some((l) => l.kind === 'addr' && l.q.dir === 'src and dst')) return true;
  return leaves.some((l) => l.kind === 'rel' && (folds(l.left) || folds(l.right)));
}

type Leaf = Exclude<Expr, { kind: 'and' | 'or' | 'not' }>;

function primitivesOf(e: Expr): Leaf[] {
  switch (e.kind) {
    case 'and': case 'or': return [...primitivesOf(e.left), ...primitivesOf(e.right)];
    case 'not': return primitivesOf(e.arg);
    default: return [e];
  }
}

function repeated(leaves: readonly Leaf[]): boolean {
  const keys = leaves.map(leafKey);
  return new Set(keys).size < keys.length;
}

/** A primitive's identity, positions left out. */
function leafKey(l: Leaf): string {
  return JSON.stringify(l, (k, v: unknown) => (k === 'pos' ? undefined : v));
}

function conjunction(e: Expr): boolean {
  switch (e.kind) {
    case 'and': return conjunction(e.left) && conjunction(e.right);
    case 'or': case 'not': return false;
    default: return true;
  }
}

function linkLevel(l: Leaf): boolean {
  switch (l.kind) {
    case 'less': case 'greater': case 'byte': case 'llc': return true;
    case 'broadcast': case 'multicast': return l.proto === null || l.proto === 'link' || l.proto === 'ether';
    case 'addr': return l.value.type === 'eid';
    case 'rel': return onlyLink(l.left) && onlyLink(l.right);
    default: return false;
  }
}

function onlyLink(x: Arith): boolean {
  switch (x.kind) {
    case 'num': case 'len': return true;
    case 'load': return x.proto === 'link' && onlyLink(x.index);
    case 'neg': return onlyLink(x.arg);
    case 'bin': return onlyLink(x.left) && onlyLink(x.right);
  }
}

/** Arithmetic with a division, or one the optimiser reduces with a constant 0. */
function folds(x: Arith): boolean {
  switch (x.kind) {
    case 'num': case 'len': return false;
    case 'load': return folds(x.index);
    case 'neg': return folds(x.arg);
    case 'bin': {
      const zero = (a: Arith): boolean => a.kind === 'num' && a.value === 0;
      if (x.op === '/' || x.op === '%' || zero(x.left) || zero(x.right)) return true;
      return folds(x.left) || folds(x.right);
    }
  }
}

/** A prefix whose partly masked 32-bit word is 0 in the network address (`0.0.0.0/1`, `fe80::/65`, `net 0.0`). */
function zeroPartialWord(v: IdValue): boolean {
  if (v.type === 'cidr6') {
    const groups = parseIPv6(v.text);
    if (!groups || v.bits % 32 === 0 || v.bits > 128) return false;
    const i = Math.floor(v.bits / 32);
    return groups[2 * i] === 0 && groups[2 * i + 1] === 0;
  }
  if (v.type === 'cidr') return v.bits % 32 !== 0 && leadingWord(v.text) === 0;
  if (v.type === 'masked') return leadingWord(v.text) === 0;
  if (v.type === 'hid') return v.text.split('.').length < 4 && leadingWord(v.text) === 0;
  return false;
}

function leadingWord(text: string): number {
  return text.split('.').reduce((w, part) => w * 256 + (Number(part) || 0), 0);
}
