/** The engine under test (src/filter), re-exported for the diff tests and benchmarks. */
export { compileMatcher } from '../../../src/filter';
export type { RuleInput, RulePlan, CompiledMatcher } from '../../../src/filter';
