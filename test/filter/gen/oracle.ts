/**
 * Runs libpcap's answers through build/pcap-oracle (test/oracle/pcap-oracle.c),
 * building it first when needed. One process per batch of expressions.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

export const REPO_ROOT = join(__dirname, '..', '..', '..', '..');
const ORACLE = join(REPO_ROOT, 'build', 'pcap-oracle');
let built = false;

function ensureBuilt(): void {
  if (built) return;
  execFileSync('sh', [join(REPO_ROOT, 'test', 'oracle', 'build.sh')], { stdio: 'inherit' });
  built = true;
}

export type OracleAnswer = { ok: true; value: string } | { ok: false; error: string };

function run(mode: 'count' | 'match' | 'compile', target: string, exprs: readonly string[]): OracleAnswer[] {
  ensureBuilt();
  for (const e of exprs) if (/[\n\r]/.test(e)) throw new Error(`expression with a line break: ${JSON.stringify(e)}`);
  const out = execFileSync(ORACLE, [mode, target, '-'], { input: exprs.map((e) => `${e}\n`).join(''), maxBuffer: 1 << 30, encoding: 'utf8' });
  const lines = out.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  if (lines.length !== exprs.length) throw new Error(`oracle answered ${lines.length} lines for ${exprs.length} expressions`);
  return lines.map((l) => {
    if (l.startsWith('OK')) return { ok: true, value: l.slice(3) };
    if (l.startsWith('ERR')) return { ok: false, error: l.slice(4) };
    throw new Error(`unexpected oracle line: ${l}`);
  });
}

/** Per expression: the per-packet match string ("0101...") or libpcap's error. */
export function oracleMatch(capturePath: string, exprs: readonly string[]): OracleAnswer[] {
  return run('match', capturePath, exprs);
}

/** Per expression: "<packets> <wirebytes>" or libpcap's error. */
export function oracleCount(capturePath: string, exprs: readonly string[]): OracleAnswer[] {
  return run('count', capturePath, exprs);
}

/** Per expression: the instruction count, or libpcap's compile error for that link type. */
export function oracleCompile(linkType: number, exprs: readonly string[]): OracleAnswer[] {
  return run('compile', String(linkType), exprs);
}
