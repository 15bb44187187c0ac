/**
 * Pass 2: tokens -> syntax tree, by recursive descent over libpcap's grammar.
 * `and`/`or` share one precedence level and group to the left; `not` binds tighter.
 * A bare value after and/or (`host a or b`) inherits the qualifiers of the term before it.
 */
import type { Arith, ArithOp, Dir, Expr, IdValue, Qualifiers, RelOp } from './ast';
import { fail, FilterError, unsupported } from './errors';
import { jobMemo } from './job-memo';
import { tokenize, type Token } from './tokenize';

const PROTO_NAMES = new Set(['link', 'ip', 'arp', 'rarp', 'sctp', 'tcp', 'udp', 'icmp', 'igmp', 'igrp',
  'pim', 'vrrp', 'carp', 'atalk', 'aarp', 'decnet', 'lat', 'sca', 'moprc', 'mopdl', 'ip6', 'icmp6',
  'ah', 'esp', 'iso', 'esis', 'isis', 'l1', 'l2', 'iih', 'lsp', 'snp', 'psnp', 'csnp', 'clnp', 'stp',
  'ipx', 'netbeui', 'radio']);
/** Keywords of families this engine never evaluates (802.11, ATM, SS7, pf). */
const FOREIGN_KEYWORDS = new Set(['type', 'subtype', 'dir', 'addr1', 'addr2', 'addr3',
  'addr4', 'ra', 'ta', 'lane', 'metac', 'bcc', 'oam', 'oamf4', 'oamf4ec', 'oamf4sc', 'sc', 'ilmic', 'vpi',
  'vci', 'connectmsg', 'metaconnect', 'reason', 'action', 'fisu', 'lssu', 'lsu', 'msu', 'hfisu', 'hlssu',
  'hmsu', 'sio', 'opc', 'dpc', 'sls', 'hsio', 'hopc', 'hdpc', 'hsls', 'ifname', 'rset', 'rnr', 'srnr']);
const REL_OPS = new Set(['>', '>=', '=', '<=', '<', '!=']);
/**
 * Binding strength of binary arithmetic operators as libpcap 1.10.3's grammar resolves them: C-like
 * for | & << >> + - * /, but `%` and `^` have no declared precedence, so yacc always shifts them:
 * they bind tighter than anything to their left, and their right operand is the whole rest
 * (`a + b % c * d` is `a + (b % (c * d))`).
 */
const BINARY_POWER: ReadonlyMap<string, number> = new Map([
  ['|', 1], ['&', 2], ['<<', 3], ['>>', 3], ['+', 4], ['-', 4], ['*', 5], ['/', 5], ['%', 100], ['^', 100],
]);
const UNARY_MINUS_POWER = 6;

/** The qualifier context libpcap calls `qerr`: a bare value here is a syntax error. */
const NO_QUALIFIERS: Qualifiers | null = null;

/** The value path does not apply here; unqualified: a value where no qualifiers are in effect (its position). */
class Backtrack extends Error {
  constructor(readonly unqualified = -1) { super('backtrack'); }
}

/** Trees (or the error) of expressions parsed in the current job (job-memo.ts). */
const parsedInJob = jobMemo<Expr | null>();

export function parseFilter(src: string): Expr | null {
  return parsedInJob(src, () => parseUncached(src));
}

function parseUncached(src: string): Expr | null {
  // The parser backtracks by exceptions (a parenthesis may open arithmetic, a list of values or an
  // expression); a stack trace for each was a tenth of parsing on a router CPU, and no caller
  // reads one: the errors carry a message and a position.
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return parseTokens(src, tokenize(src));
  } finally {
    Error.stackTraceLimit = limit;
  }
}

function parseTokens(src: string, toks: Token[]): Expr | null {
  for (let i = 0; i < toks.length; i++) {
    const t = toks[i];
    // `llc rnr` is an LLC subtype although the scanner reads `rnr` as pf's rule number keyword.
    if (t.kind === 'kw' && t.text === 'rnr' && i > 0 && toks[i - 1].kind === 'kw' && toks[i - 1].text === 'llc') continue;
    if (t.kind === 'kw' && FOREIGN_KEYWORDS.has(t.text)) unsupported(`'${src.slice(t.pos).split(/\s/)[0]}' is not evaluated by this engine`);
  }
  const p = new Parser(toks);
  if (p.peek().kind === 'eof') return null;
  const e = p.expr(NO_QUALIFIERS).node;
  const end = p.peek();
  if (end.kind !== 'eof') fail('syntax error', end.pos);
  return e;
}

interface Parsed { node: Expr; q: Qualifiers | null }

class Parser {
  private i = 0;
  constructor(private readonly toks: Token[]) {}

  peek(k = 0): Token { return this.toks[Math.min(this.i + k, this.toks.length - 1)]; }
  /** The next token; the end token is never consumed, so reading past it keeps returning it. */
  private next(): Token {
    const t = this.peek();
    if (t.kind !== 'eof') this.i++;
    return t;
  }
  private isKw(t: Token, ...names: string[]): boolean { return t.kind === 'kw' && names.includes(t.text); }
  private isOp(t: Token, ...ops: string[]): boolean { return t.kind === 'op' && ops.includes(t.text); }
  private expectOp(op: string): Token {
    const t = this.next();
    if (!this.isOp(t, op)) fail('syntax error', t.pos);
    return t;
  }

  expr(q: Qualifiers | null): Parsed {
    let left = this.term(q);
    for (;;) {
      const t = this.peek();
      if (!this.isKw(t, 'and', 'or')) return left;
      this.next();
      const kind = t.text as 'and' | 'or';
      const right = this.idOrTerm(left.q);
      left = { node: { kind, left: left.node, right: right.node }, q: right.q };
    }
  }

  /** After and/or: a bare value (inheriting q) or a full term. */
  private idOrTerm(q: Qualifiers | null): Parsed {
    const save = this.i;
    let unqualified = -1;
    if (this.startsBareId()) {
      try {
        const value = this.id(q);
        // `(0) >> 1 = x`: a parenthesised number followed by arithmetic is an operand after all.
        if (!this.continuesArith(this.peek())) return value;
        this.i = save;
      } catch (e) {
        // A parenthesis may open a list of values or a whole expression: retry as the latter.
        if (!(e instanceof Backtrack) && !(e instanceof FilterError && this.isOp(this.toks[save], '('))) throw e;
        if (e instanceof Backtrack) unqualified = e.unqualified;
        this.i = save;
      }
    }
    try {
      return this.term(q);
    } catch (e) {
      // `tcp and 80`: the value without qualifiers is the mistake, not what follows it.
      if (e instanceof FilterError && unqualified >= 0) throw new FilterError(e.message, unqualified);
      throw e;
    }
  }

  /** Whether the next tokens read as a value rather than a term (decided like yacc's one-token lookahead). */
  private startsBareId(): boolean {
    let k = 0;
    while (this.isKw(this.peek(k), 'not') || this.isOp(this.peek(k), '!')) k++;
    const t = this.peek(k);
    if (t.kind === 'hid' || t.kind === 'hid6' || t.kind === 'eid' || t.kind === 'id') return true;
    if (t.kind === 'num') return !this.continuesArith(this.peek(k + 1));
    return this.isOp(t, '(');
  }

  private continuesArith(t: Token): boolean {
    return t.kind === 'op' && (REL_OPS.has(t.text) || BINARY_POWER.has(t.text));
  }

  private term(q: Qualifiers | null): Parsed {
    const t = this.peek();
    if (this.isKw(t, 'not') || this.isOp(t, '!')) {
      this.next();
      const inner = this.term(q);
      return { node: { kind: 'not', arg: inner.node }, q: inner.q };
    }
    // Relations start like arithmetic; try that first and fall back to the other forms.
    if (t.kind === 'num' || this.isKw(t, 'len') || this.isOp(t, '(', '-') ||
        (t.kind === 'kw' && PROTO_NAMES.has(t.text) && this.isOp(this.peek(1), '['))) {
      const save = this.i;
      try {
        const left = this.arith();
        const op = this.peek();
        if (op.kind === 'op' && REL_OPS.has(op.text)) {
          this.next();
          const right = this.arith();
          return { node: { kind: 'rel', op: op.text as RelOp, left, right }, q: NO_QUALIFIERS };
        }
        if (!this.isOp(t, '(')) fail('syntax error', op.pos);
      } catch (e) {
        if (!this.isOp(t, '(')) throw e;
      }
      this.i = save;
    }
    if (this.isOp(t, '(')) {
      this.next();
      const inner = this.expr(NO_QUALIFIERS);
      this.expectOp(')');
      return { node: inner.node, q };
    }
    return this.rterm();
  }

  private rterm(): Parsed {
    const t = this.next();
    if (t.kind !== 'kw') fail('syntax error', t.pos);
    switch (t.text) {
      case 'less': case 'greater': {
        const n = this.next();
        if (n.kind !== 'num') fail('syntax error', n.pos);
        return { node: { kind: t.text, value: n.value }, q: NO_QUALIFIERS };
      }
      case 'byte': {
        const a = this.next();
        const op = this.next();
        const b = this.next();
        if (a.kind !== 'num' || !this.isOp(op, '&', '|', '<', '>', '=') || b.kind !== 'num') fail('syntax error', b.pos);
        return { node: { kind: 'byte', index: a.value, op: op.text, value: b.value }, q: NO_QUALIFIERS };
      }
      case 'inbound': case 'outbound':
        return { node: { kind: 'kernel', what: t.text }, q: NO_QUALIFIERS };
      case 'ifindex': {
        const n = this.next();
        if (n.kind !== 'num') fail('syntax error', n.pos);
        return { node: { kind: 'kernel', what: 'ifindex' }, q: NO_QUALIFIERS };
      }
      case 'vlan': case 'mpls': case 'pppoes': case 'geneve':
        return { node: { kind: 'shift', what: t.text, value: this.optionalPnum() }, q: NO_QUALIFIERS };
      case 'pppoed':
        return { node: { kind: 'pppoed' }, q: NO_QUALIFIERS };
      case 'llc': {
        const n = this.peek();
        if (n.kind === 'id' || this.isKw(n, 'rnr')) { this.next(); return { node: { kind: 'llc', sub: n.text }, q: NO_QUALIFIERS }; }
        return { node: { kind: 'llc', sub: null }, q: NO_QUALIFIERS };
      }
      case 'broadcast': case 'multicast':
        return { node: { kind: t.text, proto: null, pos: t.pos }, q: NO_QUALIFIERS };
      default:
        return this.head(t);
    }
  }

  private optionalPnum(): number | null {
    let k = 0;
    while (this.isOp(this.peek(k), '(')) k++;
    if (this.peek(k).kind !== 'num') return null;
    for (let j = 0; j < k; j++) this.next();
    const v = this.next().value;
    for (let j = 0; j < k; j++) this.expectOp(')');
    return v;
  }

  /** `pqual dqual aqual id`, any part optional but one of dqual/aqual/proto; or a protocol alone. */
  private head(first: Token): Parsed {
    let proto: string | null = null;
    let t = first;
    if (PROTO_NAMES.has(t.text)) {
      proto = t.text;
      const n = this.peek();
      if (this.isKw(n, 'broadcast', 'multicast')) {
        this.next();
        return { node: { kind: n.text as 'broadcast' | 'multicast', proto, pos: first.pos }, q: NO_QUALIFIERS };
      }
      if (!this.isKw(n, 'src', 'dst', 'host', 'net', 'port', 'portrange', 'proto', 'protochain', 'gateway')) {
        return { node: { kind: 'proto', name: proto, pos: first.pos }, q: NO_QUALIFIERS };
      }
      t = this.next();
    }
    let dir: Dir | null = null;
    if (this.isKw(t, 'src', 'dst')) {
      dir = t.text as Dir;
      const a = this.peek(), b = this.peek(1);
      if (this.isKw(a, 'and', 'or') && this.isKw(b, t.text === 'src' ? 'dst' : 'src')) {
        this.next(); this.next();
        dir = a.text === 'or' ? 'src or dst' : 'src and dst';
      }
      const n = this.peek();
      if (!this.isKw(n, 'host', 'net', 'port', 'portrange')) {
        return this.headId({ proto, dir, addr: null });
      }
      t = this.next();
    }
    if (this.isKw(t, 'host', 'net', 'port', 'portrange', 'gateway', 'proto', 'protochain')) {
      if (dir !== null && (t.text === 'gateway' || t.text === 'proto' || t.text === 'protochain')) fail('syntax error', t.pos);
      return this.headId({ proto, dir, addr: t.text as Qualifiers['addr'] });
    }
    fail('syntax error', t.pos);
  }

  private headId(q: Qualifiers): Parsed {
    const at = this.peek().pos;
    try {
      return this.id(q);
    } catch (e) {
      if (e instanceof Backtrack) fail('syntax error', at);
      throw e;
    }
  }

  /** A value with qualifiers q: address, number, name, `not` value, or a parenthesised list of values. */
  id(q: Qualifiers | null): Parsed {
    const t = this.next();
    if (this.isKw(t, 'not') || this.isOp(t, '!')) {
      const inner = this.id(q);
      return { node: { kind: 'not', arg: inner.node }, q: inner.q };
    }
    if (this.isOp(t, '(')) {
      let left = this.id(q);
      while (this.isKw(this.peek(), 'and', 'or')) {
        const op = this.next().text as 'and' | 'or';
        const right = this.id(q);
        left = { node: { kind: op, left: left.node, right: right.node }, q: right.q };
      }
      if (!this.isOp(this.peek(), ')')) throw new Backtrack();
      this.next();
      return left;
    }
    let value: IdValue;
    switch (t.kind) {
      case 'num': value = { type: 'num', value: t.value, text: t.text }; break;
      case 'hid':
        if (this.isOp(this.peek(), '/')) {
          this.next();
          const n = this.next();
          if (n.kind !== 'num') fail('syntax error', n.pos);
          value = { type: 'cidr', text: t.text, bits: n.value };
        } else if (this.isKw(this.peek(), 'mask')) {
          this.next();
          const m = this.next();
          if (m.kind !== 'hid') fail('syntax error', m.pos);
          value = { type: 'masked', text: t.text, mask: m.text };
        } else value = { type: 'hid', text: t.text };
        break;
      case 'hid6':
        if (this.isOp(this.peek(), '/')) {
          this.next();
          const n = this.next();
          if (n.kind !== 'num') fail('syntax error', n.pos);
          value = { type: 'cidr6', text: t.text, bits: n.value };
        } else value = { type: 'hid6', text: t.text };
        break;
      case 'eid': value = { type: 'eid', text: t.text }; break;
      case 'id': value = { type: 'id', text: t.text }; break;
      default:
        throw new Backtrack();
    }
    if (q === null) throw new Backtrack(t.pos);
    return { node: { kind: 'addr', q, value, pos: t.pos }, q };
  }

  // ---- arithmetic ----
  /** Arithmetic by binding power: operators stronger than minPower extend the left operand. */
  arith(minPower = 0): Arith {
    let left = this.unary();
    for (;;) {
      const t = this.peek();
      const power = t.kind === 'op' ? BINARY_POWER.get(t.text) : undefined;
      if (power === undefined || power <= minPower) return left;
      this.next();
      // %, ^: the right operand is everything that follows; others group to the left.
      const right = this.arith(power === 100 ? 0 : power);
      left = { kind: 'bin', op: t.text as ArithOp, left, right, pos: t.pos };
    }
  }

  /** An operand for unary minus: only % and ^ (always shifted by yacc) continue inside it. */
  private arithAbove(power: number): Arith {
    return this.arith(power);
  }

  private unary(): Arith {
    const t = this.next();
    if (this.isOp(t, '-')) return { kind: 'neg', arg: this.arithAbove(UNARY_MINUS_POWER) };
    if (t.kind === 'num') return { kind: 'num', value: t.value };
    if (this.isKw(t, 'len')) return { kind: 'len' };
    if (this.isOp(t, '(')) {
      const inner = this.arith();
      this.expectOp(')');
      return inner;
    }
    if (t.kind === 'kw' && PROTO_NAMES.has(t.text) && this.isOp(this.peek(), '[')) {
      this.next();
      const index = this.arith();
      let size = 1;
      if (this.isOp(this.peek(), ':')) {
        this.next();
        const n = this.next();
        if (n.kind !== 'num') fail('syntax error', n.pos);
        size = n.value;
      }
      this.expectOp(']');
      if (size !== 1 && size !== 2 && size !== 4) fail('data size must be 1, 2, or 4', t.pos);
      return { kind: 'load', proto: t.text, index, size, pos: t.pos };
    }
    fail('syntax error', t.pos);
  }
}
