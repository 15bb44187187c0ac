/** The engine under test (src/filter), re-exported for the diff tests and benchmarks. */
export { bindMatcher, codeOf, compileMatcher, interpretRules, planMatcher } from '../../../src/filter';
export type { RuleInput, RulePlan, CompiledMatcher } from '../../../src/filter';
