/**
 * Expansion of `$MAC` (the interface's MAC address) and `${id}` (an earlier
 * rule's expanded expression). Both are wrapped in parentheses so that
 * `not ${a}` means what it reads like.
 */
import { ConfigError } from './errors';
import type { RuleLine } from './filter-file';
import { labelSetKey, ruleLabels } from './label-list';

export interface Rule {
  id: string;
  /** Fully expanded tcpdump expression. */
  expr: string;
  where: string;
}

const REFERENCE = /\$\{([^}]*)\}|\$MAC/g;

/**
 * @param mac the interface's MAC (`aa:bb:cc:dd:ee:ff`), or undefined when no
 *   interface is known; a rule that uses `$MAC` then is an error.
 */
export function expandRules(lines: readonly RuleLine[], mac: string | undefined): Rule[] {
  const expanded = new Map<string, string>();
  const rules: Rule[] = [];
  // Two ids with one label set (`a="1",b="2"` and `b="2",a="1"`, `x` and `rule="x"`) would be one metric series.
  const labelSets = new Map<string, RuleLine>();
  for (const line of lines) {
    if (expanded.has(line.id)) throw new ConfigError(line.where, `duplicate rule id '${line.id}'`);
    const key = labelSetKey(ruleLabels(line.id));
    const same = labelSets.get(key);
    if (same !== undefined) throw new ConfigError(line.where, `rule '${line.id}' has the same metric labels as rule '${same.id}' (${same.where})`);
    labelSets.set(key, line);
    const expr = line.text.replace(REFERENCE, (whole: string, ref: string | undefined) => {
      if (ref === undefined) {
        if (mac === undefined) throw new ConfigError(line.where, `rule '${line.id}' uses $MAC but no interface MAC is known (use -i or --mac)`);
        return `(${mac})`;
      }
      const earlier = expanded.get(ref);
      if (earlier === undefined) throw new ConfigError(line.where, `rule '${line.id}' refers to unknown rule '${whole}' (only earlier rules can be used)`);
      return `(${earlier})`;
    });
    expanded.set(line.id, expr);
    rules.push({ id: line.id, expr, where: line.where });
  }
  return rules;
}
