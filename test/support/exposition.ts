/**
 * Test-side readers of the Prometheus text format: promtool (Debian's
 * prometheus package) as the judge of validity, and a small strict parser
 * that gives back label values unescaped, to compare with what was sent.
 */
import { spawnSync } from 'node:child_process';

/** `promtool check metrics` on the text: its exit status and what it said. */
export function promtoolCheck(text: string): { status: number | null; output: string } {
  const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8', timeout: 30_000 });
  if (r.error) throw new Error(`promtool: ${r.error.message} (install Debian's prometheus package)`);
  return { status: r.status, output: `${r.stdout}${r.stderr}`.trim() };
}

export interface Sample {
  name: string;
  labels: Record<string, string>;
  /** As written. */
  value: string;
}

export interface Exposition {
  help: Map<string, string>;
  type: Map<string, string>;
  samples: Sample[];
}

const NAME = /[a-zA-Z_:][a-zA-Z0-9_:]*/y;
const LABEL = /[a-zA-Z_][a-zA-Z0-9_]*/y;

/** Throws on anything but HELP/TYPE comments and `name{labels} value` lines; a text must end with a newline. */
export function parseExposition(text: string): Exposition {
  if (!text.endsWith('\n')) throw new Error(`no final newline: ${JSON.stringify(text.slice(-60))}`);
  const out: Exposition = { help: new Map(), type: new Map(), samples: [] };
  for (const line of text.slice(0, -1).split('\n')) {
    const comment = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line);
    if (comment) {
      const map = comment[1] === 'HELP' ? out.help : out.type;
      if (map.has(comment[2])) throw new Error(`second ${comment[1]} for ${comment[2]}`);
      map.set(comment[2], comment[3]);
      continue;
    }
    out.samples.push(parseSample(line));
  }
  return out;
}

function parseSample(line: string): Sample {
  NAME.lastIndex = 0;
  const name = NAME.exec(line)?.[0];
  if (name === undefined) throw new Error(`not a sample: ${line}`);
  let at = name.length;
  const labels: Record<string, string> = {};
  if (line[at] === '{') {
    at++;
    while (line[at] !== '}') {
      LABEL.lastIndex = at;
      const label = LABEL.exec(line)?.[0];
      if (label === undefined || line.slice(at + label.length, at + label.length + 2) !== '="') throw new Error(`bad label at ${at}: ${line}`);
      at += label.length + 2;
      let value = '';
      while (line[at] !== '"') {
        if (at >= line.length) throw new Error(`unterminated value: ${line}`);
        if (line[at] === '\\') {
          const e = line[at + 1];
          if (e === 'n') value += '\n';
          else if (e === '\\' || e === '"') value += e;
          else throw new Error(`bad escape \\${e}: ${line}`);
          at += 2;
        } else {
          value += line[at++];
        }
      }
      at++;
      if (label in labels) throw new Error(`label ${label} twice: ${line}`);
      labels[label] = value;
      if (line[at] === ',') at++;
      else if (line[at] !== '}') throw new Error(`expected , or } at ${at}: ${line}`);
    }
    at++;
  }
  if (line[at] !== ' ') throw new Error(`expected a space before the value: ${line}`);
  const value = line.slice(at + 1);
  if (!/^(-?\d+(\.\d+)?(e[+-]?\d+)?|NaN|[+-]Inf)$/.test(value)) throw new Error(`bad value '${value}': ${line}`);
  return { name, labels, value };
}

/** The one sample of `name` whose labels include all of `labels`. */
export function sampleOf(e: Exposition, name: string, labels: Record<string, string>): Sample {
  const found = e.samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  if (found.length !== 1) throw new Error(`${found.length} samples of ${name} with ${JSON.stringify(labels)}`);
  return found[0];
}
