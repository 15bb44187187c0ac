/**
 * Shrinks an expression on which the engine and libpcap disagree for one
 * packet: repeatedly tries dropping top-level and/or terms, keeping single
 * terms, unwrapping parentheses and `not`, and keeps the shortest candidate
 * that still disagrees. For findings reports; libpcap stays the judge.
 *
 *   node build/test/filter/gen/minimize.js <dlt> <packet hex> <wirelen> <expression>
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writePcapFile } from './pcap-file';
import { oracleCompile, oracleMatch } from './oracle';
import { compileMatcher } from '../diff/engine';

/** Splits at top-level and/or (outside parentheses and brackets); keeps each connective with the term after it. */
export function topLevelTerms(expr: string): { conj: string; term: string }[] {
  const tokens = expr.match(/\(|\)|\[|\]|&&|\|\||[^\s()[\]]+/g) ?? [];
  const out: { conj: string; term: string }[] = [];
  let depth = 0;
  let conj = '';
  let cur: string[] = [];
  for (const t of tokens) {
    if (t === '(' || t === '[') depth++;
    if (t === ')' || t === ']') depth--;
    if (depth === 0 && (t === 'and' || t === 'or' || t === '&&' || t === '||')) {
      out.push({ conj, term: cur.join(' ') });
      conj = t;
      cur = [];
    } else cur.push(t);
  }
  out.push({ conj, term: cur.join(' ') });
  return out.map((x) => ({ conj: x.conj, term: x.term.replace(/\( /g, '(').replace(/ \)/g, ')').replace(/ \[ /g, '[').replace(/ \]/g, ']') }));
}

function join2(parts: readonly { conj: string; term: string }[]): string {
  return parts.map((p, i) => (i === 0 ? p.term : `${p.conj} ${p.term}`)).join(' ');
}

function candidates(expr: string): string[] {
  const parts = topLevelTerms(expr);
  const out = new Set<string>();
  if (parts.length > 1) {
    for (let i = 0; i < parts.length; i++) {
      out.add(parts[i].term);
      const rest = parts.filter((_, j) => j !== i);
      out.add(join2(rest));
    }
  }
  const unwrapped = expr.replace(/^(not |!)\s*/, '');
  if (unwrapped !== expr) out.add(unwrapped);
  const paren = /^(?:not |!)?\s*\((.*)\)$/.exec(expr);
  if (paren && topLevelTerms(`(${paren[1]})`).length === 1) out.add(paren[1]);
  for (let i = 0; i < parts.length; i++) {
    const inner = /^((?:not |!)?\s*)\((.*)\)$/.exec(parts[i].term);
    if (!inner) continue;
    for (const c of candidates(inner[2])) {
      const copy = parts.map((p) => ({ ...p }));
      copy[i].term = `${inner[1]}(${c})`;
      out.add(join2(copy));
    }
  }
  out.delete(expr);
  return [...out].filter((c) => c.trim() !== '');
}

function engineAnswer(expr: string, dlt: number, pkt: Uint8Array, wirelen: number): string | null {
  const counts = new Float64Array(1);
  const m = compileMatcher([{ slot: 0, expr }], dlt, new Float64Array(1), counts);
  if (m.plans[0].engine !== 'javascript') return null;
  m.match(pkt, pkt.length, wirelen);
  return counts[0] > 0 ? '1' : '0';
}

/** Shrinks expr while the engine still disagrees with libpcap (optimiser off) on this packet. */
export function minimize(expr: string, dlt: number, pkt: Uint8Array, wirelen: number, fileLinkType = dlt): string {
  const dir = mkdtempSync(join(tmpdir(), 'bpfcountd-min-'));
  try {
    const path = join(dir, 'one.pcap');
    writePcapFile(path, [{ data: pkt, wirelen }], { linkType: fileLinkType });
    let best = expr;
    for (let round = 0; round < 50; round++) {
      const cands = candidates(best).sort((a, b) => a.length - b.length);
      if (cands.length === 0) break;
      const answers = oracleMatch(path, cands);
      const next = cands.find((c, i) => {
        const a = answers[i];
        if (!a.ok || a.value === 'H') return false;
        const e = engineAnswer(c, dlt, pkt, wirelen);
        return e !== null && e !== a.value;
      });
      if (!next) break;
      best = next;
    }
    return best;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Shrinks an expression libpcap accepts (for this DLT) but the engine refuses with 'error'. */
export function minimizeRefusal(expr: string, dlt: number, oracleDlt = dlt): string {
  let best = expr;
  for (let round = 0; round < 50; round++) {
    const cands = candidates(best).sort((a, b) => a.length - b.length);
    if (cands.length === 0) break;
    const answers = oracleCompile(oracleDlt, cands);
    const next = cands.find((c, i) => answers[i].ok &&
      compileMatcher([{ slot: 0, expr: c }], dlt, new Float64Array(1), new Float64Array(1)).plans[0].engine === 'error');
    if (!next) break;
    best = next;
  }
  return best;
}

if (require.main === module) {
  const [dlt, hex, wirelen, ...rest] = process.argv.slice(2);
  const pkt = Buffer.from(hex, 'hex');
  console.log(minimize(rest.join(' '), Number(dlt), pkt, Number(wirelen || pkt.length), Number(dlt) === 12 ? 101 : Number(dlt)));
}
