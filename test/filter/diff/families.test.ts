/**
 * The family sweep (families.ts) on every link type the engine handles:
 * for each expression, libpcap's accept/refuse decision against the engine's
 * plan, and per-packet verdicts on one capture per link type holding all
 * shared captures of that type plus crafted and random whole packets.
 *
 * FILTER_FAMILY_RANDOM=<n> adds n random packets per link type (default 300),
 * FILTER_FAMILY_COMBINATIONS=<n> pairs of accepted expressions (default 600):
 * larger values are the long mode; FILTER_FAMILY_SEED replays another draw;
 * FILTER_FAMILY_CAPTURES=<dir> adds the first 60 packets of every capture in dir
 * of a link type swept here (e.g. tcpdump's tests/, which holds 4000+ such packets).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Prng, seedFromEnv } from '../gen/prng';
import { readCaptureFile, writePcapFile, type PacketToWrite } from '../gen/pcap-file';
import { oracleCompile, oracleMatch } from '../gen/oracle';
import { allCaptures, engineDlts, oracleDlt, type NamedCapture } from './corpus';
import { combinations, familyExpressions, familyPackets, mergeValues, POOL_VALUES, valuesFromPackets, type FamilyExpr } from './families';
import { comparePackets, assertClean, recordFindings, runEngine, planText, type Mismatch } from './harness';

/** File link types: 101 is run by the engine as DLT 12 and 101 (engineDlts). */
const FILE_DLTS = [1, 113, 276, 101, 0, 108];
/** Families of everyday rules: libpcap accepting one and the engine leaving it to libpcap is a defect too. */
const COMMON_FAMILIES = new Set(['ether proto', 'ip proto', 'ip6 proto', 'any proto', 'ipv4 host', 'ipv4 net', 'numeric host/net', 'ipv6 host', 'ipv6 net',
  'ipv6 forms', 'ether host', 'broadcast/multicast', 'port', 'portrange', 'len', 'vlan', 'mpls', 'named constants', 'qualifier inheritance']);
const DEFAULT_SEED = 4242;

interface Tally { exprs: number; accepted: number; refused: number; fallbacks: number; packets: number; decisions: number }

/** More captures for the long mode (e.g. tcpdump's tests/ directory): every readable pcap/pcapng file in dir. */
function extraCaptures(dir: string | undefined): NamedCapture[] {
  if (!dir) return [];
  const out: NamedCapture[] = [];
  for (const f of readdirSync(dir).sort()) {
    if (!/\.pcap(ng)?$/.test(f)) continue;
    try {
      out.push({ name: f, path: join(dir, f), capture: readCaptureFile(join(dir, f)) });
    } catch {
      // Not a capture this reader understands: skipped.
    }
  }
  return out;
}

test('expression families agree with libpcap on every link type (accept/refuse and per packet)', () => {
  const seed = seedFromEnv('FILTER_FAMILY_SEED', DEFAULT_SEED);
  const randomCount = Math.max(0, Number(process.env.FILTER_FAMILY_RANDOM ?? '300') || 0);
  const combinationCount = Math.max(0, Number(process.env.FILTER_FAMILY_COMBINATIONS ?? '600') || 0);
  const dir = mkdtempSync(join(tmpdir(), 'bpfcountd-families-'));
  const problems: string[] = [];
  const mismatches: Mismatch[] = [];
  const fallbacks = new Map<string, Set<string>>();
  const summary: string[] = [];
  const real = allCaptures();
  const extra = extraCaptures(process.env.FILTER_FAMILY_CAPTURES);
  let total = 0;
  try {
    for (const fileDlt of FILE_DLTS) {
      const r = new Prng((seed + fileDlt) >>> 0);
      const own = real.filter((c) => c.capture.linkType === fileDlt);
      const toWrite: PacketToWrite[] = [...own.map((c) => c.capture.packets), ...extra.filter((c) => c.capture.linkType === fileDlt).map((c) => c.capture.packets.slice(0, 60))]
        .flatMap((list) => list.filter((p) => p.caplen <= 65535).map((p) => ({ data: p.data, wirelen: Math.max(p.wirelen, p.caplen) })));
      toWrite.push(...familyPackets(fileDlt === 101 ? 101 : fileDlt, r, randomCount));
      const path = join(dir, `families-dlt${fileDlt}.pcap`);
      writePcapFile(path, toWrite, { linkType: fileDlt });
      const packets = readCaptureFile(path).packets;
      const values = mergeValues(valuesFromPackets(fileDlt, packets, 4), POOL_VALUES);
      const base: FamilyExpr[] = familyExpressions(values, { ether: fileDlt === 1 });
      const baseCompiled = oracleCompile(oracleDlt(fileDlt), base.map((f) => f.expr));
      const combos = combinations(base.filter((_, i) => baseCompiled[i].ok).map((f) => f.expr), r, combinationCount);
      const fam = [...base, ...combos];
      const exprs = fam.map((f) => f.expr);
      const compiled = [...baseCompiled, ...oracleCompile(oracleDlt(fileDlt), combos.map((f) => f.expr))];
      const runnable = exprs.filter((_, i) => compiled[i].ok);
      const answers = oracleMatch(path, runnable);
      for (const dlt of engineDlts(fileDlt)) {
        const t: Tally = { exprs: exprs.length, accepted: 0, refused: 0, fallbacks: 0, packets: packets.length, decisions: 0 };
        const label = `DLT ${dlt}`;
        const plans = runEngine(exprs, dlt, []).plans;
        exprs.forEach((expr, i) => {
          const a = compiled[i];
          const plan = plans[i];
          const family = fam[i].family;
          if (!a.ok) {
            t.refused++;
            if (plan.engine === 'javascript') problems.push(`${label} [${family}] ${JSON.stringify(expr)}: planned in JavaScript but libpcap refuses it: ${a.error}`);
            return;
          }
          t.accepted++;
          if (plan.engine === 'error') problems.push(`${label} [${family}] ${JSON.stringify(expr)}: engine refuses what libpcap accepts: ${planText(plan)}`);
          if (plan.engine === 'libpcap') {
            t.fallbacks++;
            // Everyday rules must not lose the JavaScript engine (DLT_NULL: the AF word's byte order is the file's, unknown here).
            if (COMMON_FAMILIES.has(family) && dlt !== 0 && !/geneve|decnet|protochain|llc/.test(expr)) {
              problems.push(`${label} [${family}] ${JSON.stringify(expr)}: common expression left to libpcap: ${planText(plan)}`);
            }
            const set = fallbacks.get(`${label} ${family}`) ?? new Set<string>();
            set.add(`${expr} (${plan.reason})`);
            fallbacks.set(`${label} ${family}`, set);
          }
        });
        const run = runEngine(runnable, dlt, packets, { padded: true });
        problems.push(...run.counterErrors.map((e) => `${label}: ${e}`));
        runnable.forEach((expr, i) => {
          const a = answers[i];
          const plan = run.plans[i];
          if (plan.engine !== 'javascript') return;
          const want = a.ok ? a.value : null;
          if (want === null) {
            problems.push(`${label} ${JSON.stringify(expr)}: libpcap compiles it but refuses it on the capture: ${a.ok ? '' : a.error}`);
            return;
          }
          t.decisions += [...want].filter((c) => c !== 'H').length;
          mismatches.push(...comparePackets(expr, `families ${label}`, want, run.bits[i] ?? '', packets));
        });
        total += t.decisions;
        summary.push(`${label}: ${t.exprs} expressions (${t.accepted} accepted by libpcap, ${t.refused} refused), ${t.fallbacks} planned 'libpcap', ` +
          `${t.packets} packets, ${t.decisions} packet decisions compared (none excused)`);
      }
    }
  } finally {
    if (problems.length === 0 && mismatches.length === 0) rmSync(dir, { recursive: true, force: true });
    else console.log(`family captures kept in ${dir}`);
  }
  console.log(`families (seed ${seed}, ${randomCount} random packets per link type):\n  ${summary.join('\n  ')}`);
  if (process.env.FILTER_FAMILY_FALLBACKS) {
    for (const [k, set] of fallbacks) console.log(`fallbacks ${k}: ${[...set].join('; ')}`);
  }
  recordFindings(`families (seed ${seed})`, mismatches);
  assertClean('families', problems, mismatches, `replay with FILTER_FAMILY_SEED=${seed}`);
  assert.ok(summary.length === 7);
  assert.ok(total >= 1_000_000, `only ${total} packet decisions compared`);
});
