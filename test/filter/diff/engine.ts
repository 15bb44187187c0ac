/**
 * The engine under test. Until src/filter/index.ts exists this loads it at
 * run time against the agreed contract (so ./build.sh keeps compiling);
 * switch to a static import once the compiler is committed.
 */
import { join } from 'node:path';
import { REPO_ROOT } from '../gen/oracle';

export interface RuleInput { slot: number; expr: string }
export type RulePlan =
  | { slot: number; engine: 'javascript'; snapNeeded: number; shiftsOffsets: boolean }
  | { slot: number; engine: 'libpcap'; reason: string }
  | { slot: number; engine: 'error'; message: string };
export interface CompiledMatcher { plans: RulePlan[]; match(pkt: Uint8Array, caplen: number, wirelen: number): void; source: string }
type CompileMatcher = (rules: readonly RuleInput[], linkType: number, bytes: Float64Array, packets: Float64Array) => CompiledMatcher;

let loaded: CompileMatcher | undefined;

export function compileMatcher(rules: readonly RuleInput[], linkType: number, bytes: Float64Array, packets: Float64Array): CompiledMatcher {
  if (!loaded) {
    const mod = require(join(REPO_ROOT, 'build', 'src', 'filter', 'index.js')) as { compileMatcher: CompileMatcher };
    loaded = mod.compileMatcher;
  }
  return loaded(rules, linkType, bytes, packets);
}
