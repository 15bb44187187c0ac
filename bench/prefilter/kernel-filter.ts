/**
 * What the daemon will attach to its shared capture, from its own `--check`
 * ("shared capture: kernel filter <expr>, snap length <n>"), and the size of
 * that filter in classic BPF instructions as libpcap compiles it
 * (`tcpdump -d`: one line per instruction).
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DAEMON } from '../../test/support/paths';
import type { VethLink } from '../../test/support/netns';
import { ruleFileText, type BenchRule } from './rules';

export interface KernelFilterPlan {
  /** undefined when --check says "(none)". */
  filter?: string;
  snapLength: number;
  /** Instructions (tcpdump -d line count); 0 without a filter. */
  instructions: number;
  /** tcpdump's complaint if it could not compile the filter. */
  compileError?: string;
  /** The daemon's explanation under the kernel filter line (e.g. why there is none). */
  note: string;
  /** The daemon's own estimate ("about N BPF instructions"), if it prints one. */
  daemonEstimate?: number;
  /**
   * Rules the daemon leaves to libpcap on a handle of their own: each is one
   * more packet socket whose filter the kernel runs on every frame.
   */
  ownHandles: { id: string; filter: string; instructions: number }[];
}

function countInstructions(link: VethLink, filter: string): { instructions: number; error?: string } {
  const dump = spawnSync('ip', ['netns', 'exec', link.recvNs, 'tcpdump', '-d', '-y', 'EN10MB', '-i', link.recvIf, filter],
    { encoding: 'utf8', maxBuffer: 1 << 24, timeout: 60_000 });
  if (dump.status !== 0) return { instructions: NaN, error: dump.stderr.trim() };
  return { instructions: dump.stdout.split('\n').filter((l) => l.trim() !== '').length };
}

/** "rule <id>: ..." followed by "kernel filter: <expr>" lines of --check (own-handle rules). */
function ownHandleFilters(checkOutput: string): { id: string; filter: string }[] {
  const out: { id: string; filter: string }[] = [];
  let rule = '';
  for (const line of checkOutput.split('\n')) {
    const r = /^\s+rule (.*?): /.exec(line);
    if (r) { rule = r[1]; continue; }
    const k = /^\s+kernel filter: (.*)$/.exec(line);
    if (k && rule !== '') out.push({ id: rule, filter: k[1] });
  }
  return out;
}

export function kernelFilterPlan(link: VethLink, rules: readonly BenchRule[], workDir: string, name: string): KernelFilterPlan {
  const filterFile = join(workDir, `${name}-check.filter`);
  writeFileSync(filterFile, ruleFileText(rules));
  const check = spawnSync('ip', ['netns', 'exec', link.recvNs, process.execPath, DAEMON, '-i', link.recvIf, '-f', filterFile, '--check'],
    { encoding: 'utf8', maxBuffer: 1 << 24, timeout: 60_000 });
  if (check.status !== 0) throw new Error(`--check failed (${check.status}): ${check.stderr}`);
  const line = check.stdout.split('\n').find((l) => l.includes('shared capture: kernel filter'));
  const m = line && /shared capture: kernel filter (.*), snap length (\d+)\s*$/.exec(line);
  if (!m) throw new Error(`--check printed no "shared capture: kernel filter ..., snap length N" line:\n${check.stdout.slice(0, 2000)}`);
  const snapLength = Number(m[2]);
  const estimate = /about (\d+) BPF instructions/.exec(check.stdout);
  const ownHandles = ownHandleFilters(check.stdout).map((h) => ({ ...h, instructions: countInstructions(link, h.filter).instructions }));
  const lines = check.stdout.split('\n');
  const next = lines[lines.indexOf(line) + 1] ?? '';
  const note = /^\s+\(.*\)\s*$/.test(next) ? next.trim() : '';
  const base = { snapLength, ownHandles, note, daemonEstimate: estimate ? Number(estimate[1]) : undefined };
  if (m[1] === '(none)') return { ...base, instructions: 0 };
  const filter = m[1];
  const counted = countInstructions(link, filter);
  return { ...base, filter, instructions: counted.instructions, compileError: counted.error };
}

/** libpcap's message when the kernel refused the filter and it fell back to filtering in user space. */
export function kernelFilterRefused(stderr: string): string | undefined {
  return /Warning: Kernel filter failed[^\n]*/.exec(stderr)?.[0];
}
