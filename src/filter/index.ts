/**
 * The filter engine: tcpdump expressions -> one JavaScript function per capture.
 * Pipeline: tokenize -> parse -> lower (per link type) -> optimize -> codegen.
 */
import { generate, type CodegenRule } from './codegen';
import { FilterError, Unsupported } from './errors';
import type { Cond } from './ir';
import { linkLayerFor } from './link';
import { Lowering, usesX } from './lower';
import { analyseOptimizer, chooseShared, dividesAtRunTime, simplify, snapNeeded, type OptimizerEffects } from './optimize';
import { parseFilter } from './parse';
import { TRUE } from './ir';
import type { Expr } from './ast';

export { describeLinkType } from './link';

export interface RuleInput { slot: number; expr: string }
export type RulePlan =
  | {
    slot: number; engine: 'javascript'; snapNeeded: number; shiftsOffsets: boolean;
    /**
     * false: libpcap's optimizer drops a test of this rule together with its loads, or moves a test
     * ahead of loads it may then skip (pull-ups), so on a packet where such a load would reach past
     * the captured bytes libpcap's verdict may differ from this engine's (short or truncated packets
     * only; packets holding every byte the rule reads agree).
     */
    exactOnTruncated: boolean;
  }
  | { slot: number; engine: 'libpcap'; reason: string }
  | { slot: number; engine: 'error'; message: string };
export interface CompiledMatcher {
  plans: RulePlan[];
  /** For every 'javascript' rule that matches: bytes[slot] += wirelen; packets[slot] += 1. */
  match(pkt: Uint8Array, caplen: number, wirelen: number): void;
  /** The same for the packet at pkt[offset] (a capture file read as one buffer). */
  matchAt: MatchAtFn;
  source: string;
}

export type MatchAtFn = (buffer: Uint8Array, offset: number, caplen: number, wirelen: number) => void;

/** Lowers one expression; the plan says how it will be evaluated, cond is set for 'javascript'. */
export function planRule(rule: RuleInput, linkType: number): { plan: RulePlan; cond: Cond | null } {
  const link = linkLayerFor(linkType);
  try {
    const ast = parseFilter(rule.expr);
    if (!link) return { plan: { slot: rule.slot, engine: 'libpcap', reason: `link type ${linkType} not supported` }, cond: null };
    const chain = ast !== null && hasProtochain(ast);
    const lowering = new Lowering(link, chain);
    const cond = simplify(ast === null ? TRUE : lowering.lower(ast));
    // libpcap refuses a rule its optimizer reduces to "reject"; with protochain it never optimizes,
    // accepts the rule and matches nothing (and must not get it: its protochain loop can hang).
    if (cond.k === 'false' && !chain) return { plan: { slot: rule.slot, engine: 'libpcap', reason: 'expression rejects all packets' }, cond: null };
    // A program with protochain (a loop) is never optimized by libpcap (gen_protochain sets
    // no_optimize), and the lowering then keeps every load it generates: exact on every packet.
    const effects = chain ? null : analyseOptimizer(cond);
    const reason = chain ? null : optimizerOnlyLibpcapKnows(ast, lowering, cond, effects);
    if (reason !== null) return { plan: { slot: rule.slot, engine: 'libpcap', reason }, cond: null };
    const exactOnTruncated = chain || (!lowering.irregular && effects !== null && !effects.removesTests);
    return {
      plan: { slot: rule.slot, engine: 'javascript', snapNeeded: snapNeeded(cond), shiftsOffsets: lowering.shifted, exactOnTruncated },
      cond,
    };
  } catch (e) {
    if (e instanceof FilterError) return { plan: { slot: rule.slot, engine: 'error', message: e.message }, cond: null };
    if (e instanceof Unsupported) return { plan: { slot: rule.slot, engine: 'libpcap', reason: e.message }, cond: null };
    // A defect here must not stop the daemon: libpcap still evaluates the rule.
    return { plan: { slot: rule.slot, engine: 'libpcap', reason: `internal compiler error: ${String(e)}` }, cond: null };
  }
}

/**
 * Why libpcap's optimized program may give whole packets verdicts this engine cannot reproduce
 * (null: it cannot, as far as known). Such rules are left to libpcap.
 */
function optimizerOnlyLibpcapKnows(ast: Expr | null, lowering: Lowering, cond: Cond, effects: OptimizerEffects | null): string | null {
  const retested = effects === null || effects.retested;
  if ((lowering.prefixMiscompiled && lowering.addressTests >= 2) || (lowering.maskedOutWord && lowering.hostRepeated)) {
    return 'libpcap 1.10.3\'s optimizer miscompiles these address tests (a prefix word compared with 0, or a host tested twice next to a prefix)';
  }
  if (lowering.primitives >= MISCOMPILE_MIN_PRIMITIVES && !conjunction(ast) && (lowering.repeated || (lowering.linkLevel && retested))) {
    return 'a value is tested again after other tests: libpcap 1.10.3\'s optimizer may miscompile such rules (not modelled here)';
  }
  if (lowering.bothDirsOnVersion && lowering.primitives >= 3 && !conjunction(ast)) {
    return 'a src-and-dst address on raw IP with `or`: libpcap 1.10.3\'s optimizer may miscompile such rules (not modelled here)';
  }
  if (lowering.droppedIndexLoad && loadsThroughX(cond)) {
    return 'libpcap\'s optimizer drops an indexed load whose X register another test relies on (it then reads with X = 0)';
  }
  if (effects === null ? dividesAtRunTime(cond) : effects.dropsDivision) {
    return 'libpcap\'s optimizer may drop a division by a packet value (a zero divisor rejects the packet)';
  }
  return null;
}

/**
 * Fewest primitives of a rule libpcap 1.10.3 was seen to miscompile, always one testing a value
 * again after other tests: one primitive repeated, or a link-level primitive in between
 * (`udp or ip6 or len > 100 or ip` rejects a TCP/IPv4 packet; `(ip[2:2] > 100 or ether multicast)
 * and ether multicast and ip[2:2] > 100`). Random searches found none among about 120000 rules of
 * up to three primitives, nor among tens of thousands of larger ones that repeat no primitive and
 * have no link-level one (`port 80 or port 443 or port 22 or port 53`, `udp and (port 53 or ...)`).
 */
const MISCOMPILE_MIN_PRIMITIVES = 4;

/**
 * Whether e is primitives joined by `and`, none negated: no such rule was seen miscompiled (0 of
 * 110000 random ones with four or five primitives), while `not a and not b and not c and not d`
 * (blocks shaped like an or-chain) can be.
 */
function conjunction(e: Expr | null): boolean {
  if (e === null) return true;
  switch (e.kind) {
    case 'and': return conjunction(e.left) && conjunction(e.right);
    case 'or': case 'not': return false;
    default: return true;
  }
}

function loadsThroughX(c: Cond): boolean {
  switch (c.k) {
    case 'and': case 'or': return loadsThroughX(c.a) || loadsThroughX(c.b);
    case 'not': return loadsThroughX(c.a);
    case 'cmp': return usesX(c.a) || usesX(c.b);
    default: return false;
  }
}

function hasProtochain(e: Expr): boolean {
  switch (e.kind) {
    case 'and': case 'or': return hasProtochain(e.left) || hasProtochain(e.right);
    case 'not': return hasProtochain(e.arg);
    case 'addr': return e.q.addr === 'protochain';
    default: return false;
  }
}

export function compileMatcher(rules: readonly RuleInput[], linkType: number,
                               bytes: Float64Array, packets: Float64Array): CompiledMatcher {
  const plans: RulePlan[] = [];
  const compiled: CodegenRule[] = [];
  for (const r of rules) {
    const { plan, cond } = planRule(r, linkType);
    plans.push(plan);
    if (cond) compiled.push({ slot: r.slot, cond });
  }
  const source = generate(compiled, chooseShared(compiled.map((c) => c.cond)));
  let matchAt: MatchAtFn;
  try {
    const factory = new Function('B', 'N', source) as (b: Float64Array, n: Float64Array) => MatchAtFn;
    matchAt = factory(bytes, packets);
  } catch (e) {
    // Generated code that does not compile is a defect: hand every rule to libpcap rather than fail.
    const reason = `internal code generation error: ${String(e)}`;
    return {
      plans: plans.map((p): RulePlan => (p.engine === 'javascript' ? { slot: p.slot, engine: 'libpcap', reason } : p)),
      match: () => undefined,
      matchAt: () => undefined,
      source,
    };
  }
  return { plans, match: (pkt, caplen, wirelen) => matchAt(pkt, 0, caplen, wirelen), matchAt, source };
}
