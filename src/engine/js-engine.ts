/**
 * The bridge to the JavaScript filter engine (src/filter): which rules it
 * evaluates, and the one compiled function per capture that does it.
 */
import { compileMatcher, type MatchAtFn } from '../filter';
import type { Counters } from './counters';

export interface JsPlan {
  engine: 'javascript';
  /** Bytes from the start of the packet the rule may read. */
  snapNeeded: number;
  shiftsOffsets: boolean;
  /**
   * false: libpcap's optimiser drops a test of this rule, which only shows on
   * packets cut short before the bytes the rule reads (caplen < wire length).
   */
  exactOnTruncated: boolean;
}
export interface LibpcapPlan {
  engine: 'libpcap';
  reason: string;
}
export type EnginePlan = JsPlan | LibpcapPlan;

export interface JsEvaluation {
  plans: EnginePlan[];
  /** Counts one packet for every rule planned 'javascript'; undefined when there is none. */
  match?: (packet: Uint8Array, caplen: number, wirelen: number) => void;
  /** The same for a packet at an offset of a larger buffer. */
  matchAt?: MatchAtFn;
  source: string;
}

/**
 * `exprs[i]` is counted in slot `slots[i]` of `counters`. Every expression
 * has been accepted by libpcap already, so an engine error is the engine's
 * limit, never the user's: such a rule goes to libpcap.
 */
const PROTOCHAIN = /(^|[^\w.-])protochain($|[^\w.-])/;

export function planJavaScript(exprs: readonly string[], slots: readonly number[], linkType: number,
  counters: Counters, truncatedPackets: boolean): JsEvaluation {
  const compiled = compileMatcher(exprs.map((expr, i) => ({ slot: slots[i], expr })), linkType,
    counters.bytes, counters.packets);
  // Capture files may hold packets cut short anywhere; a live capture's snap
  // length covers every byte the rules read, so there it cannot happen.
  // Not protochain: libpcap 1.10 can loop forever on it (a crafted AH chain), the engine cannot.
  const toLibpcap = compiled.plans.map((p, i) => truncatedPackets && p.engine === 'javascript' && !p.exactOnTruncated
    && !PROTOCHAIN.test(exprs[i]));
  if (toLibpcap.some(Boolean)) {
    const keep = toLibpcap.map((moved) => !moved);
    const again = planJavaScript(exprs.filter((_, i) => keep[i]), slots.filter((_, i) => keep[i]), linkType, counters, false);
    let next = 0;
    const plans = keep.map((kept): EnginePlan => kept ? again.plans[next++]
      : { engine: 'libpcap', reason: 'libpcap\'s optimiser changes it on packets cut short, as capture files may hold' });
    return { plans, match: again.match, matchAt: again.matchAt, source: again.source };
  }
  const plans = compiled.plans.map((plan): EnginePlan => {
    switch (plan.engine) {
      case 'javascript': return {
        engine: 'javascript', snapNeeded: plan.snapNeeded, shiftsOffsets: plan.shiftsOffsets, exactOnTruncated: plan.exactOnTruncated,
      };
      case 'libpcap': return { engine: 'libpcap', reason: plan.reason };
      case 'error': return { engine: 'libpcap', reason: `JavaScript engine refused it: ${plan.message}` };
    }
  });
  const any = plans.some((plan) => plan.engine === 'javascript');
  return { plans, match: any ? compiled.match : undefined, matchAt: any ? compiled.matchAt : undefined, source: compiled.source };
}
