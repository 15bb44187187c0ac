/**
 * The kernel filter of the shared capture: only packets some rule can count
 * are copied to user space, so unicast traffic stays in the kernel.
 *
 *   (prefilter) and ((term 1) or (term 2) or ... or vlan)
 *
 * - A load past the end of a packet aborts the WHOLE filter ("no match"), so
 *   a plain OR of the rules would let one rule that reads far (`udp[10]`, on
 *   a short UDP packet) hide the packet from every other rule. Each term is
 *   therefore guarded by the packet length: a rule that reads at most N bytes
 *   is tested only on packets of at least N bytes, where none of its loads
 *   can fail; shorter packets get its coarse form (protocol tests), itself
 *   guarded the same way, and pass when even that could read too far:
 *     (len >= N and (rule)) or (len < N and (len < K or (coarse rule)))
 * - Only when no rule shifts offsets (vlan, mpls, pppoes, geneve shift
 *   every load after them in the text, also across `or`); otherwise the
 *   prefilter alone.
 * - `or vlan` on Ethernet: the kernel sees VLAN-tagged frames with the tag
 *   stripped, user space sees them with the tag (as in a capture file), so
 *   tagged frames always go up and the JavaScript engine decides exactly.
 * - Small routers accept only so large a socket filter (optmem_max 10240
 *   bytes on 32-bit kernels, about 8 bytes an instruction); past a budget
 *   the rules are made coarser, always to a superset: comparisons of packet
 *   bytes are dropped first (true where they count for a match, false under
 *   `not`), then everything but protocol and broadcast/multicast tests.
 * - libpcap's optimiser compiles this filter (the binding always optimises)
 *   while the rules count what the unoptimised program means: a rule of a
 *   shape the optimiser may miscompile (prefilter-risk.ts) goes in coarse at
 *   every level, and one whose coarse form is such a shape too passes all.
 */
import type { Arith, Expr } from '../filter/ast';
import { parseFilter } from '../filter/parse';
import { planRule } from '../filter';
import { optimiserMayMiscompile } from './prefilter-risk';
import { MAX_SNAPLEN } from './handle';
import type { Memo } from './validate';

const noMemo: Memo = (_key, compute) => compute();

export interface SharedFilter {
  /** '' = no kernel filter. */
  filter: string;
  /** How the filter relates to the rules, for --check. */
  note: string;
}

/** Estimated BPF instructions that fit a 32-bit router's optmem with room to spare. */
export const INSTRUCTION_BUDGET = 900;
const DLT_EN10MB = 1;

type Tri = Expr | boolean;
type Level = 'exact' | 'no-comparisons' | 'protocols';

/** A rule for the kernel filter; coarse: only its coarsest form may go in (see capture-set.ts). */
export interface KernelTerm { expr: string; coarse: boolean }

export function sharedKernelFilter(prefilter: string, ruleExprs: readonly (string | KernelTerm)[], linkType: number,
  memo: Memo = noMemo): SharedFilter {
  const base = prefilter.trim();
  const onlyPrefilter = (why: string): SharedFilter => ({ filter: base, note: why });
  if (ruleExprs.length === 0) return onlyPrefilter('no rule');
  if (base !== '' && hasShift(parse(base))) return onlyPrefilter('the prefilter shifts offsets: rules are not joined to it');
  // What depends on the rules only is the same for every prefilter (sections on both directions of a link).
  const rules = memo(`rules-or\0${linkType}\0${JSON.stringify(ruleExprs)}`, () => new JoinedRules(ruleExprs, linkType));
  if (rules.refusal !== undefined) return onlyPrefilter(rules.refusal);
  for (const level of ['exact', 'no-comparisons', 'protocols'] as Level[]) {
    const joined = rules.at(level);
    if (joined.everything !== undefined) return onlyPrefilter(joined.everything);
    const estimate = joined.estimate + (base === '' ? 0 : 4 * countNodes(parse(base) ?? null));
    if (estimate > INSTRUCTION_BUDGET) continue;
    const filter = base === '' ? joined.text : `(${base}) and (${joined.text})`;
    const how = level === 'exact'
      ? 'exactly the packets some rule can match, among packets long enough for every rule\'s loads'
      : `a superset (${level})`;
    return { filter, note: `${how}${rules.coarseNote}${rules.tagged.length ? ', plus VLAN-tagged frames' : ''}; about ${estimate} BPF instructions` };
  }
  return onlyPrefilter(`the rules exceed the kernel filter budget of ${INSTRUCTION_BUDGET} instructions even when coarse`);
}

/** The OR of the rules at each level of coarseness (computed when first asked for), or why there is none. */
class JoinedRules {
  readonly refusal?: string;
  readonly tagged: string[];
  readonly coarseNote: string = '';
  private readonly plain: Term[] = [];
  private readonly levels = new Map<Level, { text: string; estimate: number; everything?: string }>();

  constructor(ruleExprs: readonly (string | KernelTerm)[], private readonly linkType: number) {
    this.tagged = linkType === DLT_EN10MB ? ['vlan'] : [];
    const rules = ruleExprs.flatMap((r) => (typeof r === 'string' ? termsOf(r, false) : termsOf(r.expr, r.coarse)));
    if (rules.some((r) => r.ast === undefined)) {
      this.refusal = 'a rule cannot be analysed';
      return;
    }
    const plain = rules.filter((r) => !hasShift(r.ast));
    const shifting = rules.filter((r) => hasShift(r.ast));
    // The OR must end in `vlan` (tagged frames, see above), and `vlan` shifts a rule after it: any
    // rule that shifts offsets itself can go neither before nor after it.
    if (shifting.length > 0) {
      this.refusal = 'a rule shifts offsets (vlan/mpls/pppoes/geneve): rules are not joined';
      return;
    }
    if (plain.some((r) => r.ast === null)) {
      this.refusal = 'a rule matches every packet';
      return;
    }
    this.plain = plain;
    const coarseRules = plain.filter((r) => r.coarseOnly);
    this.coarseNote = coarseRules.length === 0 ? ''
      : `, ${coarseRules.length} rule(s) coarse (libpcap's optimiser may miscompile their shape, or refuses them)`;
  }

  /** The joined terms at `level` and their estimated instructions; `everything`: why there is no such OR. */
  at(level: Level): { text: string; estimate: number; everything?: string } {
    const known = this.levels.get(level);
    if (known) return known;
    const result = this.join(level);
    this.levels.set(level, result);
    return result;
  }

  private join(level: Level): { text: string; estimate: number; everything?: string } {
    const terms: string[] = [];
    /** Primitives per term, for the estimate: known from its parts (parsing each joined term again costs seconds on a router). */
    const nodes = new Map<string, number>(this.tagged.map((t) => [t, countNodes(parse(t) ?? null)]));
    let everything = false;
    for (const { text, ast, coarseOnly } of this.plain) {
      const coarse = level === 'exact' && !coarseOnly ? text : safe(coarsen(ast as Expr, coarseOnly ? 'protocols' : level, true));
      if (coarse === true) everything = true;
      if (coarse === true && coarseOnly) {
        return { text: '', estimate: 0, everything: `rule '${text}' may be miscompiled by libpcap's optimiser and its coarse form matches everything` };
      }
      if (typeof coarse === 'boolean') continue;
      const term = guardedTerm(typeof coarse === 'string' ? coarse : print(coarse), this.linkType,
        safe(coarsen(ast as Expr, 'protocols', true)));
      if (term === undefined) everything = true;
      else {
        terms.push(term.text);
        nodes.set(term.text, term.nodes);
      }
    }
    if (everything) return { text: '', estimate: 0, everything: `a rule made coarse at level '${level}' matches everything` };
    // `vlan` last: it shifts what follows it.
    const unique = [...new Set(terms), ...this.tagged];
    return { text: unique.map((t) => `(${t})`).join(' or '), estimate: estimateInstructions(unique.map((t) => nodes.get(t) as number)) };
  }
}

interface Term { text: string; coarseOnly: boolean; ast: Expr | null | undefined }

/**
 * A rule as terms of the OR. A rule the optimiser may miscompile as a whole that is an `or` of
 * parts goes in as its parts (where the rule matches, one of them does: a superset), each coarse
 * only if it is such a shape itself: `net 10.0.0.0/8 or ip6 or ether multicast or arp` stays exact.
 * Not with offset shifts, which carry across `or`.
 */
function termsOf(text: string, coarse: boolean): Term[] {
  const ast = parse(text);
  if (!ast || coarse) return [{ text, coarseOnly: coarse, ast }];
  if (!optimiserMayMiscompile(ast)) return [{ text, coarseOnly: false, ast }];
  const parts = disjuncts(ast);
  if (parts.length > 1 && !hasShift(ast)) {
    try {
      return parts.map((part) => ({ text: print(part), coarseOnly: optimiserMayMiscompile(part), ast: part }));
    } catch {
      // A part this module does not print (a relation...): the rule goes in coarse, whole.
    }
  }
  return [{ text, coarseOnly: true, ast }];
}

function disjuncts(e: Expr): Expr[] {
  return e.kind === 'or' ? [...disjuncts(e.left), ...disjuncts(e.right)] : [e];
}

/** The most bytes an expression can read on this link type, or undefined when unbounded or unknown. */
function readsUpTo(expr: string, linkType: number): number | undefined {
  try {
    const { plan } = planRule({ slot: 0, expr }, linkType);
    return plan.engine === 'javascript' && plan.snapNeeded < MAX_SNAPLEN ? plan.snapNeeded : undefined;
  } catch {
    return undefined;
  }
}

/**
 * `term` where none of its loads can abort the whole filter; undefined when
 * that needs a term matching everything. `coarse` is a superset of `term`
 * (null: none but true).
 */
function guardedTerm(term: string, linkType: number, coarse: Tri | null): { text: string; nodes: number } | undefined {
  const reads = readsUpTo(term, linkType);
  const coarseText = coarse === null || typeof coarse === 'boolean' ? undefined : print(coarse);
  const coarseReads = coarseText === undefined ? undefined : readsUpTo(coarseText, linkType);
  // Primitives of each form (`len < N` is one): what countNodes() gives the parsed text.
  const short = coarseText === undefined || coarseReads === undefined ? undefined
    : { text: `len < ${coarseReads} or (${coarseText})`, nodes: 1 + countNodes(parse(coarseText) ?? null) };
  if (reads === undefined) return short;
  const termNodes = countNodes(parse(term) ?? null);
  // A coarse form that reads as far as the rule itself saves nothing.
  if (short === undefined || (coarseReads as number) >= reads) return { text: `len < ${reads} or (${term})`, nodes: 1 + termNodes };
  return { text: `(len >= ${reads} and (${term})) or (len < ${reads} and (${short.text}))`, nodes: 2 + termNodes + short.nodes };
}

/**
 * A coarse form of a shape the optimiser may miscompile passes everything,
 * unless protocol tests are among its top-level AND terms: those alone are
 * still a superset (so is every part of a conjunction), and a plain AND of
 * protocol tests is no such shape. `not ether broadcast and arp and arp[6:2]
 * == 2 and not ether src $MAC` goes in as `arp`, not as "everything" (which
 * sent every unicast frame of a Freifunk node to user space).
 */
function safe(t: Tri): Tri {
  if (typeof t === 'boolean' || !optimiserMayMiscompile(t)) return t;
  const protocols = new Map<string, Expr>();
  for (const term of conjuncts(t)) if (term.kind === 'proto') protocols.set(term.name, term);
  const reduced = [...protocols.values()].reduce<Tri>((all, p) => combine('and', all, p), true);
  return typeof reduced === 'boolean' || optimiserMayMiscompile(reduced) ? true : reduced;
}

function conjuncts(e: Expr): Expr[] {
  return e.kind === 'and' ? [...conjuncts(e.left), ...conjuncts(e.right)] : [e];
}

function parse(expr: string): Expr | null | undefined {
  try {
    return parseFilter(expr);
  } catch {
    return undefined;
  }
}

function hasShift(ast: Expr | null | undefined): boolean {
  if (!ast) return false;
  switch (ast.kind) {
    case 'shift': return true;
    case 'and': case 'or': return hasShift(ast.left) || hasShift(ast.right);
    case 'not': return hasShift(ast.arg);
    default: return false;
  }
}

/**
 * Replaces what a level drops by the constant that keeps a superset:
 * true where the node counts toward a match (positive), false under an odd
 * number of `not`s.
 */
function coarsen(ast: Expr, level: Level, positive: boolean): Tri {
  switch (ast.kind) {
    case 'and': case 'or': {
      const left = coarsen(ast.left, level, positive);
      const right = coarsen(ast.right, level, positive);
      return combine(ast.kind, left, right);
    }
    case 'not': {
      const arg = coarsen(ast.arg, level, !positive);
      return typeof arg === 'boolean' ? !arg : { kind: 'not', arg };
    }
    case 'proto': case 'multicast':
      return ast;
    case 'broadcast':
      // `ip broadcast` needs a netmask the daemon does not give libpcap: `ip` is its superset.
      if (ast.proto !== 'ip') return ast;
      return positive ? { kind: 'proto', name: 'ip', pos: ast.pos } : false;
    case 'rel': {
      // `tcp[13] & 2 != 0` can only match TCP: keep that much where it counts for a match.
      if (!positive) return false;
      const protocols = [...new Set([...loadProtocols(ast.left), ...loadProtocols(ast.right)])]
        .filter((name) => STANDALONE_PROTOCOLS.has(name));
      return protocols.reduce<Tri>((all, name) => combine('and', all, { kind: 'proto', name, pos: 0 }), true);
    }
    case 'byte':
      return positive;
    case 'addr':
      // Link-layer tests (ether proto, ether dst) are a few instructions: kept at every level.
      if ((level === 'no-comparisons' || ast.q.proto === 'ether' || ast.q.proto === 'link') && printable(ast)) return ast;
      // `udp port 53` implies `udp`: weaker where it counts for a match, dropped (false) under `not`.
      if (positive && ast.q.proto !== null && STANDALONE_PROTOCOLS.has(ast.q.proto)) return { kind: 'proto', name: ast.q.proto, pos: ast.pos };
      return positive;
    default:
      return positive;
  }
}

function loadProtocols(arith: Arith): string[] {
  switch (arith.kind) {
    case 'load': return [arith.proto, ...loadProtocols(arith.index)];
    case 'neg': return loadProtocols(arith.arg);
    case 'bin': return [...loadProtocols(arith.left), ...loadProtocols(arith.right)];
    default: return [];
  }
}

/** Protocol qualifiers that are also filters of their own. */
const STANDALONE_PROTOCOLS = new Set(['ip', 'ip6', 'arp', 'rarp', 'tcp', 'udp', 'icmp', 'icmp6', 'sctp', 'igmp', 'pim', 'vrrp']);

function combine(kind: 'and' | 'or', left: Tri, right: Tri): Tri {
  if (kind === 'and') {
    if (left === false || right === false) return false;
    if (left === true) return right;
    if (right === true) return left;
  } else {
    if (left === true || right === true) return true;
    if (left === false) return right;
    if (right === false) return left;
  }
  return { kind, left: left as Expr, right: right as Expr };
}

/** Only number-valued ports and hosts/nets written as addresses are printed back. */
function printable(ast: Extract<Expr, { kind: 'addr' }>): boolean {
  return ['num', 'hid', 'hid6', 'eid', 'cidr', 'cidr6'].includes(ast.value.type);
}

/** Prints a tree: the rule's own text is used where it was not changed. */
function print(ast: Expr): string {
  switch (ast.kind) {
    case 'and': case 'or': return `(${print(ast.left)}) ${ast.kind} (${print(ast.right)})`;
    case 'not': return `not (${print(ast.arg)})`;
    case 'proto': return ast.name;
    case 'broadcast': case 'multicast': return `${ast.proto ?? 'ether'} ${ast.kind}`;
    case 'addr': {
      // A prefix length is part of the value (`net 10.0.0.0/8`, not the host-sized `net 10.0.0.0`).
      const v = ast.value;
      const value = v.type === 'cidr' || v.type === 'cidr6' ? `${v.text}/${v.bits}` : v.text;
      return [ast.q.proto, ast.q.dir, ast.q.addr, value].filter((w) => w !== null).join(' ');
    }
    default: throw new Error(`internal: ${ast.kind} is not printed by the prefilter`);
  }
}

function countNodes(ast: Expr | null): number {
  if (!ast) return 0;
  switch (ast.kind) {
    case 'and': case 'or': return countNodes(ast.left) + countNodes(ast.right);
    case 'not': return countNodes(ast.arg);
    default: return 1;
  }
}

/**
 * About 1.6 instructions a primitive once libpcap's optimiser has shared the
 * common tests (measured with `tcpdump -d` on the guarded ORs: 18 Freifunk
 * rules 196 instructions, 30 / 60 / 100 varied rules 146 / 292 / 522). The
 * budget leaves room for the estimate being 25% low.
 */
function estimateInstructions(termNodes: readonly number[]): number {
  let nodes = 0;
  for (const n of termNodes) nodes += n;
  return Math.ceil(1.6 * nodes) + 10;
}
