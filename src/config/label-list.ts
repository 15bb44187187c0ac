/**
 * Rule ids written as Prometheus label lists, as the C original's textfile
 * script read them: `type="arp",subtype="request"` becomes the labels
 * type="arp" and subtype="request" of the rule's metrics; any other id
 * becomes rule="<id>".
 *
 * An id is a label list when it starts with `<label name>="`; from there on
 * it must be one, strictly: `name="value"` pairs joined by `,` with nothing
 * around them, names as Prometheus allows ([a-zA-Z_][a-zA-Z0-9_]*, not
 * starting with `__`), values quoted with the escapes \\ \" \n only, each
 * name once. `instance` and `interface` are the daemon's own labels.
 */
import { isWordChar, isWordStart, runEnd } from '../chars';

/** One label, value unescaped. */
export type Label = readonly [name: string, value: string];

const LABEL_NAME = /[a-zA-Z_][a-zA-Z0-9_]*/y;
/** Labels every sample already has. */
const DAEMON_LABELS = new Set(['instance', 'interface']);
export const PLAIN_ID_LABEL = 'rule';

/** Starts with `name="`. */
export function isLabelList(id: string): boolean {
  if (!isWordStart(id.charCodeAt(0))) return false;
  const end = runEnd(id, 1, isWordChar);
  return id.charCodeAt(end) === 61 && id.charCodeAt(end + 1) === 34;
}

export class LabelListError extends Error {}

/** The labels a rule id stands for; throws LabelListError for a malformed list. */
export function ruleLabels(id: string): Label[] {
  if (!isLabelList(id)) return [[PLAIN_ID_LABEL, id]];
  const labels: Label[] = [];
  const seen = new Set<string>();
  let at = 0;
  for (;;) {
    LABEL_NAME.lastIndex = at;
    const name = LABEL_NAME.exec(id)?.[0];
    if (name === undefined) throw new LabelListError(`expected a label name at offset ${at}`);
    if (name.startsWith('__')) throw new LabelListError(`label name '${name}' is reserved (starts with __)`);
    if (DAEMON_LABELS.has(name)) throw new LabelListError(`label name '${name}' is set by the daemon`);
    if (seen.has(name)) throw new LabelListError(`label '${name}' appears twice`);
    seen.add(name);
    at += name.length;
    if (id.slice(at, at + 2) !== '="') throw new LabelListError(`expected '="' after label name '${name}'`);
    at += 2;
    let value = '';
    for (;;) {
      if (at >= id.length) throw new LabelListError(`value of label '${name}' has no closing '"'`);
      const c = id[at];
      if (c === '"') break;
      if (c === '\\') {
        const next = id[at + 1];
        if (next === '\\' || next === '"') value += next;
        else if (next === 'n') value += '\n';
        else throw new LabelListError(`value of label '${name}': unknown escape '\\${next ?? ''}' (only \\\\ \\" \\n)`);
        at += 2;
        continue;
      }
      value += c;
      at++;
    }
    at++;
    labels.push([name, value]);
    if (at === id.length) return labels;
    if (id[at] !== ',') throw new LabelListError(`expected ',' or the end after label '${name}', found '${id[at]}'`);
    at++;
  }
}

/** The same for every spelling of one label set (order does not matter): two rules must not share it. */
export function labelSetKey(labels: readonly Label[]): string {
  return labels.map(([name, value]) => `${name}\0${value}`).sort().join('\0\0');
}
