/** Builds the C benchmark peers (bench/peer/*.c) into build/bench/ with cc -O2 -lpcap. */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

export const ROOT = join(__dirname, '..', '..');
export const BENCH_OUT = join(ROOT, 'build', 'bench');

export function buildPeer(name: string): string {
  const src = join(ROOT, 'bench', 'peer', `${name}.c`);
  const out = join(BENCH_OUT, name);
  mkdirSync(BENCH_OUT, { recursive: true });
  if (!existsSync(out) || statSync(src).mtimeMs > statSync(out).mtimeMs) {
    execFileSync('cc', ['-O2', '-Wall', '-o', out, src, '-lpcap'], { stdio: 'inherit' });
  }
  return out;
}
