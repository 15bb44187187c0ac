/**
 * The oracle: Debian's libpcap itself (build/pcap-oracle, test/oracle/), never
 * our code. Counts packets and wire bytes per expression on a capture, or
 * gives the per-packet match bits.
 */
import { existsSync } from 'node:fs';
import { ORACLE, ORACLE_BUILD } from './paths';
import { run } from './netns';
import type { Count } from './socket-client';

export type OracleCount = ({ ok: true } & Count) | { ok: false; error: string };

export function ensureOracle(): void {
  if (!existsSync(ORACLE)) run(['sh', ORACLE_BUILD]);
  if (!existsSync(ORACLE)) throw new Error(`${ORACLE} missing after ${ORACLE_BUILD} (needs libpcap-dev and cc)`);
}

function oracleLines(mode: 'count' | 'match', capture: string, exprs: readonly string[]): string[] {
  ensureOracle();
  for (const e of exprs) if (/[\n\r]/.test(e)) throw new Error(`expression spans lines: ${JSON.stringify(e)}`);
  const out = run([ORACLE, mode, capture, '-'], exprs.map((e) => `${e}\n`).join(''));
  const lines = out.split('\n').filter((l) => l !== '');
  if (lines.length !== exprs.length) throw new Error(`oracle answered ${lines.length} lines for ${exprs.length} expressions`);
  return lines;
}

export function oracleCount(capture: string, exprs: readonly string[]): OracleCount[] {
  return oracleLines('count', capture, exprs).map((line) => {
    const ok = /^OK (\d+) (\d+)$/.exec(line);
    if (ok) return { ok: true, packets: Number(ok[1]), bytes: Number(ok[2]) };
    return { ok: false, error: line.replace(/^ERR /, '') };
  });
}

/** Per expression, one boolean per packet of the capture. */
export function oracleMatch(capture: string, exprs: readonly string[]): boolean[][] {
  return oracleLines('match', capture, exprs).map((line, i) => {
    const ok = /^OK ([01]*)$/.exec(line);
    if (!ok) throw new Error(`libpcap rejects '${exprs[i]}': ${line}`);
    return [...ok[1]].map((c) => c === '1');
  });
}

/** `$MAC` as the daemon expands it: the interface's MAC, in parentheses. */
export function expandMac(expr: string, mac: string): string {
  return expr.replace(/\$MAC/g, `(${mac})`);
}

/**
 * A rule file's expressions as the daemon documents their expansion: `$MAC`
 * is the MAC and `${id}` an earlier rule's expanded expression, both in
 * parentheses. (Written here from that contract, not taken from src/.)
 */
export function expandRuleSet(rules: readonly { id: string; expr: string }[], mac: string): string[] {
  const done = new Map<string, string>();
  return rules.map((r) => {
    const expr = r.expr.replace(/\$\{([^}]*)\}|\$MAC/g, (_whole: string, ref: string | undefined) => {
      if (ref === undefined) return `(${mac})`;
      const earlier = done.get(ref);
      if (earlier === undefined) throw new Error(`rule '${r.id}' refers to unknown earlier rule '${ref}'`);
      return `(${earlier})`;
    });
    done.set(r.id, expr);
    return expr;
  });
}
