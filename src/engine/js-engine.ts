/**
 * The bridge to the JavaScript filter engine (src/filter): which rules it
 * evaluates, and the one compiled function per capture that does it.
 */
import { bindMatcher, codeOf, interpretRules, planMatcher, planRule, type MatchAtFn, type PlannedMatcher, type RulePlan } from '../filter';
import { isOptimiserRefusal } from '../capture/live-only';
import type { Memo } from '../capture/validate';
import type { Counters } from './counters';

export interface JsPlan {
  engine: 'javascript';
  /** Bytes from the start of the packet the rule may read. */
  snapNeeded: number;
  shiftsOffsets: boolean;
}
export interface LibpcapPlan {
  engine: 'libpcap';
  reason: string;
}
export type EnginePlan = JsPlan | LibpcapPlan;

export interface JsEvaluation {
  plans: EnginePlan[];
  /** Counts the packet at an offset of a buffer for every rule planned 'javascript'; undefined when there is none. */
  matchAt?: MatchAtFn;
  /** The generated code ('' while deferred). */
  source: string;
  /**
   * Deferred evaluations only: generates the code and returns the function that replaces
   * matchAt (the rule tree walked per packet); undefined when the generated code failed, and
   * matchAt then stays. The meaning is the same.
   */
  generated?: () => MatchAtFn | undefined;
}

const noMemo: Memo = (_key, compute) => compute();

/**
 * `exprs[i]` is counted in slot `slots[i]` of `counters`. Every expression
 * has been accepted by libpcap already, so an engine error is the engine's
 * limit, never the user's: such a rule goes to libpcap. Captures with the same
 * rules (sections sharing a filter file) share one compiled function through `memo`.
 * With `deferCode`, matchAt walks the lowered rules and generated() makes the code later (a
 * live capture counts from its first packet without waiting for code generation).
 */
export function planJavaScript(exprs: readonly string[], slots: readonly number[], linkType: number,
  counters: Counters, memo: Memo = noMemo, deferCode = false): JsEvaluation {
  const rules = exprs.map((expr, i) => ({ slot: slots[i], expr }));
  const planned = memo<PlannedMatcher>(`matcher\0${linkType}\0${JSON.stringify(rules)}`, () => planMatcher(rules, linkType));
  if (deferCode) {
    const plans = planned.plans.map(enginePlan);
    const matchAt = plans.some((plan) => plan.engine === 'javascript')
      ? interpretRules(planned.rules, counters.bytes, counters.packets) : undefined;
    const generated = (): MatchAtFn | undefined => {
      const code = codeOf(planned);
      return code.factory ? bindMatcher(code, counters.bytes, counters.packets).matchAt : undefined;
    };
    return { plans, matchAt, source: '', generated };
  }
  const compiled = bindMatcher(codeOf(planned), counters.bytes, counters.packets);
  const plans = compiled.plans.map(enginePlan);
  const any = plans.some((plan) => plan.engine === 'javascript');
  return { plans, matchAt: any ? compiled.matchAt : undefined, source: compiled.source };
}

function enginePlan(plan: RulePlan): EnginePlan {
  switch (plan.engine) {
    case 'javascript': return { engine: 'javascript', snapNeeded: plan.snapNeeded, shiftsOffsets: plan.shiftsOffsets };
    case 'libpcap': return { engine: 'libpcap', reason: plan.reason };
    case 'error': return { engine: 'libpcap', reason: `JavaScript engine refused it: ${plan.message}` };
  }
}

/**
 * Whether libpcap refused expr only in its optimiser (see isOptimiserRefusal) and the engine
 * evaluates the rule: then it is valid, as in the C original, which compiled unoptimised.
 */
export function validUnoptimised(message: string, expr: string, linkType: number): boolean {
  return isOptimiserRefusal(message) && planRule({ slot: 0, expr }, linkType).plan.engine === 'javascript';
}
