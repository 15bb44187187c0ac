/** Runs the built daemon and the libpcap oracle on capture files. */
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { captureNames, TEST_PCAPS } from '../support/paths';

export const ROOT = join(__dirname, '..', '..', '..');
export const DAEMON = join(ROOT, 'dist', 'bpfcountd.js');
const ORACLE = join(ROOT, 'build', 'pcap-oracle');

export function buildOracle(): void {
  execFileSync(join(ROOT, 'test', 'oracle', 'build.sh'), { stdio: 'inherit' });
}

export interface Count { packets: number; bytes: number }

/** libpcap's count for each expression on a capture; throws on an expression libpcap refuses. */
export function oracleCounts(capture: string, exprs: readonly string[]): Count[] {
  const out = execFileSync(ORACLE, ['count', capture, '-'], { input: exprs.join('\n') + '\n', encoding: 'utf8' });
  return out.trimEnd().split('\n').map((line, i) => {
    const m = /^OK (\d+) (\d+)$/.exec(line);
    if (!m) throw new Error(`oracle refused '${exprs[i]}': ${line}`);
    return { packets: Number(m[1]), bytes: Number(m[2]) };
  });
}

export interface RuleFileEntry { id: string; expr: string }

/** Reads `id;expr` lines the simple way (the test's own reading, not the daemon's parser). */
export function ruleEntries(path: string, mac: string): RuleFileEntry[] {
  return readFileSync(path, 'utf8').split('\n')
    .filter((line) => line.trim() !== '' && !line.startsWith('#'))
    .map((line) => {
      const at = line.indexOf(';');
      return { id: line.slice(0, at), expr: line.slice(at + 1).replace(/\$MAC/g, `(${mac})`) };
    });
}

export interface DaemonRun { status: number | null; stdout: string; stderr: string }

export function runDaemon(args: readonly string[]): DaemonRun {
  const result = spawnSync(process.execPath, [DAEMON, ...args], { encoding: 'utf8' });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** Parses `<id>:<bytes>:<packets>` lines from the right, as consumers do. */
export function parseCounterLines(text: string): Map<string, Count> {
  const counts = new Map<string, Count>();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const m = /^(.*):(\d+):(\d+)$/.exec(line);
    if (!m) throw new Error(`bad counter line: ${line}`);
    counts.set(m[1], { bytes: Number(m[2]), packets: Number(m[3]) });
  }
  return counts;
}

/** Test captures by link type, from INDEX.tsv. */
export function capturesOfLinkType(linkType: string): string[] {
  return captureNames(linkType).map((name) => join(TEST_PCAPS, name));
}
