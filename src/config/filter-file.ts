/**
 * Filter files: one rule per line, `<id>;<tcpdump expression>`.
 * Blank lines and lines starting with `#` are skipped. `$MAC` and `${id}` are
 * expanded later (see expand.ts), once the interface's MAC is known.
 */
import { ConfigError } from './errors';
import { LabelListError, ruleLabels } from './label-list';
import { readConfigText } from './read';
import { jobMemo } from '../filter/job-memo';

export interface RuleLine {
  id: string;
  /** The expression as written, before `$MAC` and `${id}` expansion. */
  text: string;
  /** `file:line`, for error messages. */
  where: string;
}

/** Sections usually share one filter file: a start reads and parses it once (job-memo.ts). */
const readInJob = jobMemo<readonly RuleLine[]>();

/** The file's rules (shared within a job: not to be modified). */
export function readFilterFile(path: string): readonly RuleLine[] {
  return readInJob(path, () => parseFilterText(readConfigText(path, 'filter file'), path));
}

export function parseFilterText(content: string, file: string): RuleLine[] {
  const rules: RuleLine[] = [];
  const lines = content.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const where = `${file}:${i + 1}`;
    const line = lines[i].endsWith('\r') ? lines[i].slice(0, -1) : lines[i];
    if (line.trim() === '' || line.trimStart().startsWith('#')) continue;
    rules.push(parseRuleLine(line, where));
  }
  return rules;
}

/** One `<id>;<expr>` definition (also used for UCI `list rule`). */
export function parseRuleLine(line: string, where: string): RuleLine {
  const semicolon = line.indexOf(';');
  if (semicolon < 0) throw new ConfigError(where, `missing ';' between rule id and expression`);
  const id = line.slice(0, semicolon).trim();
  const text = line.slice(semicolon + 1).trim();
  if (id === '') throw new ConfigError(where, 'empty rule id');
  if (text === '') throw new ConfigError(where, `rule '${id}' has an empty expression`);
  if (id.includes('\n') || id.includes('\0')) throw new ConfigError(where, `rule id contains a control character`);
  try {
    ruleLabels(id);
  } catch (err) {
    if (err instanceof LabelListError) throw new ConfigError(where, `rule id '${id}' is not a valid label list: ${err.message}`);
    throw err;
  }
  return { id, text, where };
}
