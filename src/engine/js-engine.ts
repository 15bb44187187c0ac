/**
 * The bridge to the JavaScript filter engine (src/filter): which rules it
 * evaluates, and the one compiled function per capture that does it.
 */
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
  /** Counts one packet for every rule planned 'javascript'; undefined when there is none. */
  match?: (packet: Uint8Array, caplen: number, wirelen: number) => void;
  source: string;
}

/** `exprs[i]` is counted in slot `slots[i]` of `counters`. */
export function planJavaScript(exprs: readonly string[], _slots: readonly number[], _linkType: number,
  _counters: Counters): JsEvaluation {
  return {
    plans: exprs.map(() => ({ engine: 'libpcap', reason: 'JavaScript engine not built yet' })),
    source: '',
  };
}
