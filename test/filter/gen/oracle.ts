/**
 * Runs libpcap's answers through build/pcap-oracle (test/oracle/pcap-oracle.c),
 * building it first when needed. One process per batch of expressions.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

export const REPO_ROOT = join(__dirname, '..', '..', '..', '..');
const ORACLE = join(REPO_ROOT, 'build', 'pcap-oracle');
/** No oracle run may hang a test run forever. */
const TIMEOUT_MS = 300_000;
let built = false;

function ensureBuilt(): void {
  if (built) return;
  execFileSync('sh', [join(REPO_ROOT, 'test', 'oracle', 'build.sh')], { stdio: 'inherit' });
  built = true;
}

export type OracleAnswer = { ok: true; value: string } | { ok: false; error: string };

type Mode = 'count' | 'match' | 'compile' | 'match-opt' | 'compile-opt';

function run(mode: Mode, target: string, exprs: readonly string[]): OracleAnswer[] {
  ensureBuilt();
  for (const e of exprs) if (/[\n\r]/.test(e)) throw new Error(`expression with a line break: ${JSON.stringify(e)}`);
  // Every mode of the oracle is safe against libpcap's looping protochain ('H' packets).
  const out = execFileSync(ORACLE, [mode, target, '-'], { input: exprs.map((e) => `${e}\n`).join(''), maxBuffer: 1 << 30, encoding: 'utf8', timeout: TIMEOUT_MS, killSignal: 'SIGKILL' });
  const lines = out.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  if (lines.length !== exprs.length) throw new Error(`oracle answered ${lines.length} lines for ${exprs.length} expressions`);
  return lines.map((l) => {
    if (l.startsWith('OK')) return { ok: true, value: l.slice(3) };
    if (l.startsWith('ERR')) return { ok: false, error: l.slice(4) };
    throw new Error(`unexpected oracle line: ${l}`);
  });
}

/**
 * Per expression: the per-packet match string ("0101...") or libpcap's error, with libpcap's
 * optimiser OFF (the daemon's meaning). Packets on which libpcap's filter never returns (see
 * pcap-oracle.c: protochain over a looping AH chain) are marked 'H'.
 */
export function oracleMatch(capturePath: string, exprs: readonly string[]): OracleAnswer[] {
  return run('match', capturePath, exprs);
}

/** libpcap's answers WITH its optimiser: information only, never an expected value. */
export function oracleMatchOptimized(capturePath: string, exprs: readonly string[]): OracleAnswer[] {
  return run('match-opt', capturePath, exprs);
}

/** Per expression: "<packets> <wirebytes>" or libpcap's error (optimiser off). */
export function oracleCount(capturePath: string, exprs: readonly string[]): OracleAnswer[] {
  return run('count', capturePath, exprs);
}

/** Per expression: the instruction count, or libpcap's compile error for that link type (optimiser off). */
export function oracleCompile(linkType: number, exprs: readonly string[]): OracleAnswer[] {
  return run('compile', String(linkType), exprs);
}

/** The same with libpcap's optimiser (what the binding, which always optimises, accepts). */
export function oracleCompileOptimized(linkType: number, exprs: readonly string[]): OracleAnswer[] {
  return run('compile-opt', String(linkType), exprs);
}
