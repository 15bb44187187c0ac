/**
 * Pass 5: the rules of one capture -> the source of ONE JavaScript function
 * (p, o, caplen, wirelen) that adds each matching rule's wire length and packet to counters;
 * the packet is p[o] .. p[o + caplen - 1], so a capture file can be matched where it was read.
 * Control flow uses labelled blocks and `break` (forward jumps), so nothing is allocated per packet.
 */
import type { Cond, Val } from './ir';
import { sharedKey, valKey } from './optimize';

export interface CodegenRule { slot: number; cond: Cond }

export function generate(rules: readonly CodegenRule[], shared: ReadonlyMap<string, Val>): string {
  return new Generator(shared).run(rules);
}

class Generator {
  private out: string[] = [];
  private labels = 0;
  private temps = 0;
  private maxTemps = 0;
  private abort = '';
  private readonly sharedNames = new Map<string, string>();
  /**
   * What straight-line code already established at the current point: outcomes of tests, values
   * known equal to a constant, shared values known captured. A repeated test is not emitted again
   * (its loads already succeeded there, so skipping it cannot hide an abort).
   */
  private facts = new Map<string, boolean>();
  private equalTo = new Map<string, number>();
  private valid = new Set<string>();
  /**
   * Shared values are computed at their first use, not for every packet: 'no' = not yet on any
   * path here, 'yes' = on every path, 'maybe' = on some (then the code tests for NOT_COMPUTED).
   */
  private computed = new Map<string, 'no' | 'yes' | 'maybe'>();
  private readonly sharedExprs = new Map<string, string>();
  /** Shared values the current block computes somewhere (they are 'maybe' after it). */
  private touched = new Set<string>();
  /** Breaks emitted so far, and how many there were when each shared value was last computed. */
  private breaks = 0;
  private readonly computedAfter = new Map<string, number>();

  constructor(private readonly shared: ReadonlyMap<string, Val>) {}

  run(rules: readonly CodegenRule[]): string {
    const head: string[] = [];
    let n = 0;
    for (const [key, v] of this.shared) {
      const name = `s${n++}`;
      // -1: the bytes were not captured.
      if (v.k === 'ihl') this.sharedExprs.set(name, `caplen > ${v.off} ? (p[o + ${v.off}] & 15) << 2 : -1`);
      else if (v.k === 'load' && v.off.k === 'const') {
        const o = v.off.v;
        this.sharedExprs.set(name, `caplen >= ${o + v.size} ? ${loadExpr(String(o), v.size, true)} : -1`);
      } else continue;
      this.sharedNames.set(key, name);
      this.computed.set(name, 'no');
    }
    if (this.sharedExprs.size > 0) head.push(`let ${[...this.sharedExprs.keys()].map((name) => `${name} = ${NOT_COMPUTED}`).join(', ')};`);
    this.out = [];
    this.facts = new Map(); this.equalTo = new Map(); this.valid = new Set();
    this.emitRules(inSharedOrder(rules.map((r) => ({ slot: r.slot, parts: conjuncts(r.cond) }))), 0);
    const body = this.out;
    const temps = this.maxTemps ? [`let ${Array.from({ length: this.maxTemps }, (_, i) => `t${i} = 0`).join(', ')};`] : [];
    return ['"use strict";', 'return function match(p, o, caplen, wirelen) {',
      ...[...head, ...temps, ...body].map((l) => '  ' + l), '};'].join('\n');
  }

  /**
   * Rules whose and-chains start with the same test share one evaluation of it: a block that all of
   * them skip when it fails (or aborts, which would abort each of them at the same point).
   * Counters are per slot, so the order rules are evaluated in does not matter.
   */
  private emitRules(rules: readonly { slot: number; parts: Cond[] }[], depth: number): void {
    const groups = new Map<string, { slot: number; parts: Cond[] }[]>();
    for (const r of rules) {
      const key = depth < r.parts.length ? condKey(r.parts[depth]) : '';
      const g = groups.get(key);
      if (g) g.push(r); else groups.set(key, [r]);
    }
    for (const [key, members] of groups) {
      if (key === '') {
        for (const r of members) this.emit(`B[${r.slot}] += wirelen; N[${r.slot}] += 1;`);
        continue;
      }
      if (members.length === 1) {
        this.rule(members[0].slot, members[0].parts.slice(depth));
        continue;
      }
      this.block((l) => {
        const outerAbort = this.abort;
        this.abort = l;
        this.temps = 0;
        this.gen(members[0].parts[depth], null, l);
        this.abort = outerAbort;
        this.emitRules(members, depth + 1);
      });
    }
  }

  private rule(slot: number, parts: Cond[]): void {
    this.block((l) => {
      const outerAbort = this.abort;
      this.abort = l;
      this.temps = 0;
      for (const c of parts) this.gen(c, null, l);
      this.abort = outerAbort;
      this.emit(`B[${slot}] += wirelen; N[${slot}] += 1;`);
    });
  }

  private emit(...lines: string[]): void {
    for (const line of lines) if (line.includes('break')) this.breaks++;
    this.out.push(...lines);
  }

  private label(): string { return `l${this.labels++}`; }

  /** Emits code that leaves by `break t`/`break f`; a null target means "continue after this code". */
  private gen(c: Cond, t: string | null, f: string | null): void {
    switch (c.k) {
      case 'true': if (t !== null) this.emit(`break ${t};`); return;
      case 'false': if (f !== null) this.emit(`break ${f};`); return;
      case 'not': this.gen(c.a, f, t); return;
      case 'and':
        if (f !== null) { this.gen(c.a, null, f); this.gen(c.b, t, f); return; }
        this.block((l) => { this.gen(c.a, null, l); this.gen(c.b, t, null); });
        return;
      case 'or':
        if (t !== null) { this.gen(c.a, t, null); this.gen(c.b, t, f); return; }
        this.block((l) => { this.gen(c.a, l, null); this.gen(c.b, null, f); });
        return;
      case 'chain': {
        const a = this.chain(c.v6, c.nl, c.proto);
        if (t === null) this.emit(`if (${a} !== ${c.proto}) break ${f};`);
        else if (f === null) this.emit(`if (${a} === ${c.proto}) break ${t};`);
        else { this.emit(`if (${a} === ${c.proto}) break ${t};`); this.emit(`break ${f};`); }
        return;
      }
      case 'cmp': {
        const key = `${c.op}:${valKey(c.a)}:${valKey(c.b)}`;
        let known = this.facts.get(key);
        const eqK = c.op === 'eq' && c.b.k === 'const' ? this.equalTo.get(valKey(c.a)) : undefined;
        if (known === undefined && eqK !== undefined && c.b.k === 'const' && eqK !== c.b.v) known = false;
        if (known !== undefined) {
          const target = known ? t : f;
          if (target !== null) this.emit(`break ${target};`);
          return;
        }
        this.cmp(c, t, f);
        if (t === null) {
          this.facts.set(key, true);
          if (c.op === 'eq' && c.b.k === 'const') this.equalTo.set(valKey(c.a), c.b.v);
        } else if (f === null) this.facts.set(key, false);
        return;
      }
    }
  }

  private cmp(c: Extract<Cond, { k: 'cmp' }>, t: string | null, f: string | null): void {
    switch (c.k) {
      case 'cmp': {
        // A shared value is -1 when its bytes were not captured; the test below treats -1 as
        // "false" for eq/gt/ge against constants, which is right when false also aborts.
        const leftShared = this.sharedName(c.a);
        const falseIsAbort = f === this.abort;
        const skipCheck = leftShared !== null && falseIsAbort && c.op !== 'set' && c.b.k === 'const';
        if (skipCheck) this.compute(leftShared as string);
        const a = skipCheck ? (leftShared as string) : this.val(c.a);
        if (skipCheck && t === null) this.valid.add(leftShared as string);
        const b = this.val(c.b);
        const ops = { eq: ['===', '!=='], gt: ['>', '<='], ge: ['>=', '<'] } as const;
        const pos = c.op === 'set' ? `(${a} & ${b}) !== 0` : `${a} ${ops[c.op][0]} ${b}`;
        const neg = c.op === 'set' ? `(${a} & ${b}) === 0` : `${a} ${ops[c.op][1]} ${b}`;
        if (t === null) this.emit(`if (${neg}) break ${f};`);
        else if (f === null) this.emit(`if (${pos}) break ${t};`);
        else { this.emit(`if (${pos}) break ${t};`); this.emit(`break ${f};`); }
        return;
      }
    }
  }

  /**
   * The protochain walk as libpcap's BPF does it, including its quirk that an AH header sets the
   * offset to (length+2)*4 instead of adding it. Returns the variable holding the last next-header.
   * A walk that never ends in libpcap (AH pointing at itself) stops here after CHAIN_LIMIT steps as "no match".
   */
  private chain(v6: boolean, nl: number, proto: number): string {
    const a = this.temp(), x = this.temp(), n = this.temp(), nh = this.temp();
    const A = this.abort;
    const loop = this.label();
    const ext = v6 ? `${a} === 0 || ${a} === 60 || ${a} === 43 || ${a} === 44` : 'false';
    if (v6) {
      this.emit(`if (caplen < ${nl + 7}) break ${A};`, `${a} = p[o + ${nl + 6}]; ${x} = 40;`);
    } else {
      this.emit(`if (caplen < ${nl + 10}) break ${A};`, `${a} = p[o + ${nl + 9}];`,
        `if (caplen <= ${nl}) break ${A};`, `${x} = (p[o + ${nl}] & 15) << 2;`);
    }
    this.emit(`${n} = 0;`, `${loop}: for (;;) {`,
      `  if (${a} === ${proto} || ${a} === 59) break;`,
      `  if (${ext}) {`,
      `    if (${x} + ${nl + 1} > caplen) break ${A};`,
      `    ${nh} = p[o + ${x} + ${nl}];`,
      `    if (${x} + ${nl + 2} > caplen) break ${A};`,
      `    ${x} = ((p[o + ${x} + ${nl + 1}] + 1) * 8 + ${x}) >>> 0;`,
      `    ${a} = ${nh};`,
      `  } else if (${a} === 51) {`,
      `    if (${x} + ${nl + 1} > caplen) break ${A};`,
      `    ${nh} = p[o + ${x} + ${nl}];`,
      `    ${x} = (${x} + 1) >>> 0;`,
      `    if (${x} + ${nl + 1} > caplen) break ${A};`,
      `    ${x} = (p[o + ${x} + ${nl}] + 2) * 4;`,
      `    ${a} = ${nh};`,
      `  } else break ${loop};`,
      `  if (++${n} > ${CHAIN_LIMIT}) break ${A};`,
      '}');
    return a;
  }

  private block(body: (label: string) => void): void {
    // The end of a block is reached from every break inside: only what held at its start still holds.
    const facts = new Map(this.facts), equalTo = new Map(this.equalTo), valid = new Set(this.valid);
    const computed = new Map(this.computed);
    const outerTouched = this.touched;
    this.touched = new Set();
    const breaksBefore = this.breaks;
    const l = this.label();
    const outer = this.out;
    this.out = [];
    body(l);
    const inner = this.out;
    this.out = outer;
    this.out.push(`${l}: {`, ...inner.map((s) => '  ' + s), '}');
    for (const name of this.touched) {
      // Computed before any break inside: every path through the block computed it.
      if (computed.get(name) !== 'yes') computed.set(name, this.computedAfter.get(name) === breaksBefore ? 'yes' : 'maybe');
      outerTouched.add(name);
    }
    this.facts = facts; this.equalTo = equalTo; this.valid = valid; this.computed = computed;
    this.touched = outerTouched;
  }

  /** Makes the shared value `name` computed here. */
  private compute(name: string): void {
    const state = this.computed.get(name);
    if (state === 'yes') return;
    const expr = this.sharedExprs.get(name) as string;
    this.emit(state === 'no' ? `${name} = ${expr};` : `if (${name} === ${NOT_COMPUTED}) ${name} = ${expr};`);
    this.computed.set(name, 'yes');
    this.computedAfter.set(name, this.breaks);
    this.touched.add(name);
  }

  /** Division by a value read from the packet: 0 rejects the packet, as in BPF. */
  private nonZero(b: string): string {
    const t = this.temp();
    this.emit(`${t} = ${b};`, `if (${t} === 0) break ${this.abort};`);
    return t;
  }

  private bigShift(a: string, b: string, op: '<<' | '>>>'): string {
    const ta = this.temp(), tb = this.temp();
    this.emit(`${ta} = ${a}; ${tb} = ${b};`);
    return `(${tb} < 32 ? (${ta} ${op} ${tb}) >>> 0 : 0)`;
  }

  private sharedName(v: Val): string | null {
    const key = sharedKey(v);
    return key === null ? null : this.sharedNames.get(key) ?? null;
  }

  private temp(): string {
    const n = this.temps++;
    if (this.temps > this.maxTemps) this.maxTemps = this.temps;
    return `t${n}`;
  }

  /** JS expression for v (a uint32 as a number); bounds checks go out as statements first. */
  private val(v: Val): string {
    const s = this.sharedName(v);
    if (s !== null) {
      this.compute(s);
      if (!this.valid.has(s)) this.emit(`if (${s} < 0) break ${this.abort};`);
      this.valid.add(s);
      return s;
    }
    switch (v.k) {
      case 'const': return String(v.v);
      case 'len': return 'wirelen';
      case 'ihl':
        this.emit(`if (caplen <= ${v.off}) break ${this.abort};`);
        return `((p[o + ${v.off}] & 15) << 2)`;
      case 'load': {
        if (v.off.k === 'const') {
          this.emit(`if (caplen < ${v.off.v + v.size}) break ${this.abort};`);
          return loadExpr(String(v.off.v), v.size, true);
        }
        const off = this.val(v.off);
        const t = this.temp();
        this.emit(`${t} = ${off};`);
        this.emit(`if (${t} + ${v.size} > caplen) break ${this.abort};`);
        return loadExpr(t, v.size, false);
      }
      case 'neg': return `((-${this.val(v.a)}) >>> 0)`;
      case 'bin': {
        const a = this.val(v.a);
        const b = this.val(v.b);
        const k = v.b.k === 'const' ? v.b.v : null;
        // A constant divisor 0 (`ip[0] / (1 - 1)`, computed at run time by libpcap) rejects the packet.
        if ((v.op === '/' || v.op === '%') && k === 0) { this.emit(`break ${this.abort};`); return '0'; }
        switch (v.op) {
          case '+': return v.exact ? `(${a} + ${b})` : `((${a} + ${b}) >>> 0)`;
          case '-': return `((${a} - ${b}) >>> 0)`;
          case '*': return `(Math.imul(${a}, ${b}) >>> 0)`;
          case '/': return v.b.k === 'const' ? `((${a} / ${b}) >>> 0)` : `((${a} / ${this.nonZero(b)}) >>> 0)`;
          case '%': return v.b.k === 'const' ? `(${a} % ${b})` : `(${a} % ${this.nonZero(b)})`;
          case '&': return `((${a} & ${b}) >>> 0)`;
          case '|': return `((${a} | ${b}) >>> 0)`;
          case '^': return `((${a} ^ ${b}) >>> 0)`;
          // BPF gives 0 for shift counts of 32 or more; JavaScript would take the count modulo 32.
          case '<<': return k === null ? this.bigShift(a, b, '<<') : k > 31 ? '0' : `((${a} << ${b}) >>> 0)`;
          case '>>': return k === null ? this.bigShift(a, b, '>>>') : k > 31 ? '0' : `(${a} >>> ${b})`;
        }
      }
    }
  }
}

/**
 * Each rule's tests with those most rules share first, so rules are grouped under them (the
 * C original's ARP rules then test the EtherType once). A rule matches when every test of its
 * and-chain is true; one that is false or reads past the captured bytes rejects the rule in any
 * order, so the order is free.
 */
function inSharedOrder(rules: { slot: number; parts: Cond[] }[]): { slot: number; parts: Cond[] }[] {
  const rulesWith = new Map<string, number>();
  for (const r of rules) for (const key of new Set(r.parts.map(condKey))) rulesWith.set(key, (rulesWith.get(key) ?? 0) + 1);
  return rules.map((r) => {
    const ranked = r.parts.map((part, i) => ({ part, i, n: rulesWith.get(condKey(part)) as number }));
    ranked.sort((a, b) => b.n - a.n || a.i - b.i);
    return { slot: r.slot, parts: ranked.map((x) => x.part) };
  });
}

/** A rule as the sequence of tests its and-chain performs in order. */
function conjuncts(c: Cond): Cond[] {
  return c.k === 'and' ? [...conjuncts(c.a), ...conjuncts(c.b)] : [c];
}

function condKey(c: Cond): string {
  switch (c.k) {
    case 'true': case 'false': return c.k;
    case 'not': return `!(${condKey(c.a)})`;
    case 'and': case 'or': return `(${condKey(c.a)} ${c.k} ${condKey(c.b)})`;
    case 'cmp': return `${c.op}:${valKey(c.a)}:${valKey(c.b)}`;
    case 'chain': return `chain${c.v6}${c.nl}/${c.proto}`;
  }
}

/** A shared value not computed yet on this packet (real ones are >= -1). */
const NOT_COMPUTED = -2;

/** Steps of a protochain walk before giving up (libpcap would loop forever on such packets). */
const CHAIN_LIMIT = 4096;

/** Big-endian read of size bytes at offset expression o (a literal number when constant). */
function loadExpr(o: string, size: 1 | 2 | 4, constant: boolean): string {
  const at = (k: number): string => (k === 0 ? `p[o + ${o}]` : constant ? `p[o + ${Number(o) + k}]` : `p[o + ${o} + ${k}]`);
  if (size === 1) return at(0);
  if (size === 2) return `(${at(0)} << 8 | ${at(1)})`;
  return `(${at(0)} * 16777216 + (${at(1)} << 16 | ${at(2)} << 8 | ${at(3)}))`;
}
