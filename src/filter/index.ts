/**
 * The filter engine: tcpdump expressions -> one JavaScript function per capture.
 * Pipeline: tokenize -> parse -> lower (per link type) -> optimize -> codegen.
 */
import { generate, type CodegenRule } from './codegen';
import { FilterError, Unsupported } from './errors';
import type { Cond } from './ir';
import { linkLayerFor } from './link';
import { jobMemo } from './job-memo';
import { Lowering } from './lower';
import { chooseShared, simplify, snapNeeded } from './optimize';
import { parseFilter } from './parse';
import { TRUE } from './ir';

export { describeLinkType } from './link';
export { interpretRules } from './interpret';

export interface RuleInput { slot: number; expr: string }
export type RulePlan =
  | { slot: number; engine: 'javascript'; snapNeeded: number; shiftsOffsets: boolean }
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

/**
 * Lowers one expression; the plan says how it will be evaluated, cond is set for 'javascript'.
 * The meaning is that of libpcap's program as generated, without its optimiser (the C original's,
 * `tcpdump -O`'s): tests in the order written, and a load past the captured bytes rejects the rule.
 * A rule that can never match (`tcp and udp`) counts 0 here too.
 */
export function planRule(rule: RuleInput, linkType: number): { plan: RulePlan; cond: Cond | null } {
  const { plan, cond } = planOnce(rule.expr, linkType);
  return { plan: { ...plan, slot: rule.slot }, cond };
}

/** Plans of the current job (job-memo.ts): the matcher and the kernel filter's length guards plan each rule. */
const plannedInJob = jobMemo<{ plan: RulePlan; cond: Cond | null }>();

function planOnce(expr: string, linkType: number): { plan: RulePlan; cond: Cond | null } {
  return plannedInJob(`${linkType}\0${expr}`, () => planUncached({ slot: 0, expr }, linkType));
}

function planUncached(rule: RuleInput, linkType: number): { plan: RulePlan; cond: Cond | null } {
  const link = linkLayerFor(linkType);
  try {
    const ast = parseFilter(rule.expr);
    if (!link) return { plan: { slot: rule.slot, engine: 'libpcap', reason: `link type ${linkType} not supported` }, cond: null };
    const lowering = new Lowering(link);
    const cond = simplify(ast === null ? TRUE : lowering.lower(ast));
    return {
      plan: { slot: rule.slot, engine: 'javascript', snapNeeded: snapNeeded(cond), shiftsOffsets: lowering.shifted },
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
 * The counter-independent half of compileMatcher: plans, source and the compiled factory. One
 * prepared matcher serves any number of captures with the same rules (bindMatcher), which then
 * share its code.
 */
export interface PreparedMatcher {
  plans: RulePlan[];
  source: string;
  /** undefined when the generated code did not compile (every 'javascript' plan is then 'libpcap'). */
  factory?: (b: Float64Array, n: Float64Array) => MatchAtFn;
}

/**
 * The plans and lowered tests of a capture's rules: enough to count with (interpretRules) before
 * the generated code exists. Shared by captures with the same rules; `code` is filled in by the
 * first codeOf() and then shared too.
 */
export interface PlannedMatcher {
  plans: RulePlan[];
  rules: CodegenRule[];
  code?: PreparedMatcher;
}

export function planMatcher(rules: readonly RuleInput[], linkType: number): PlannedMatcher {
  const plans: RulePlan[] = [];
  const compiled: CodegenRule[] = [];
  for (const r of rules) {
    const { plan, cond } = planRule(r, linkType);
    plans.push(plan);
    if (cond) compiled.push({ slot: r.slot, cond });
  }
  return { plans, rules: compiled };
}

/** The generated function of planned rules (made once per PlannedMatcher). */
export function codeOf(planned: PlannedMatcher): PreparedMatcher {
  if (!planned.code) planned.code = generateMatcher(planned);
  return planned.code;
}

function generateMatcher({ plans, rules }: PlannedMatcher): PreparedMatcher {
  const source = generate(rules, chooseShared(rules.map((c) => c.cond)));
  try {
    const factory = new Function('B', 'N', source) as (b: Float64Array, n: Float64Array) => MatchAtFn;
    return { plans, source, factory };
  } catch (e) {
    // Generated code that does not compile is a defect: hand every rule to libpcap rather than fail.
    const reason = `internal code generation error: ${String(e)}`;
    return {
      plans: plans.map((p): RulePlan => (p.engine === 'javascript' ? { slot: p.slot, engine: 'libpcap', reason } : p)),
      source,
    };
  }
}

/** A prepared matcher counting into `bytes` and `packets`. */
export function bindMatcher(prepared: PreparedMatcher, bytes: Float64Array, packets: Float64Array): CompiledMatcher {
  const { plans, source, factory } = prepared;
  if (!factory) return { plans, match: () => undefined, matchAt: () => undefined, source };
  const matchAt = factory(bytes, packets);
  return { plans, match: (pkt, caplen, wirelen) => matchAt(pkt, 0, caplen, wirelen), matchAt, source };
}

export function compileMatcher(rules: readonly RuleInput[], linkType: number,
                               bytes: Float64Array, packets: Float64Array): CompiledMatcher {
  return bindMatcher(codeOf(planMatcher(rules, linkType)), bytes, packets);
}
