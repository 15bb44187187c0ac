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

/**
 * `text` with each `${id}` (ref = id) and `$MAC` (ref undefined) replaced, left to right; a `${`
 * without its `}` stays as written.
 */
function replaceReferences(text: string, value: (whole: string, ref: string | undefined) => string): string {
  let out = '';
  let copied = 0;
  for (let at = text.indexOf('$'); at >= 0; at = text.indexOf('$', at)) {
    const close = text.startsWith('${', at) ? text.indexOf('}', at + 2) : -1;
    const end = close >= 0 ? close + 1 : text.startsWith('$MAC', at) ? at + 4 : -1;
    if (end < 0) {
      at++;
      continue;
    }
    const whole = text.slice(at, end);
    out += text.slice(copied, at) + value(whole, close >= 0 ? text.slice(at + 2, close) : undefined);
    copied = at = end;
  }
  return out + text.slice(copied);
}

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
    const expr = replaceReferences(line.text, (whole, ref) => {
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
