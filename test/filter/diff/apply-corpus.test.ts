/**
 * libpcap's own apply tests: expression + capture + per-packet expectation.
 * The expectation is re-checked against the oracle, then the engine must give
 * the same per-packet answer when it plans the rule in JavaScript.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readCaptureFile } from '../gen/pcap-file';
import { oracleMatch } from '../gen/oracle';
import { capturePath, engineDlts, readApplyCases } from './corpus';
import { comparePackets, assertClean, recordFindings, runEngine, planText, type Mismatch } from './harness';

test('apply corpus: per-packet match arrays', () => {
  const cases = readApplyCases();
  assert.ok(cases.length >= 50, `apply corpus has ${cases.length} cases`);
  const mismatches: Mismatch[] = [];
  const problems: string[] = [];
  const fallbacks: string[] = [];
  let compared = 0;
  for (const c of cases) {
    const path = capturePath(c.savefile);
    const cap = readCaptureFile(path);
    const expected = c.match.join('');
    const [oracle] = oracleMatch(path, [c.expr]);
    assert.ok(oracle.ok && oracle.value === expected, `libpcap disagrees with the corpus on ${c.expr} / ${c.savefile}`);
    assert.equal(cap.packets.length, expected.length, `${c.savefile}: packet count`);
    // The DLT as the daemon sees it (pcap_datalink), e.g. DLT_RAW 12 for LINKTYPE_RAW 101.
    const run = runEngine([c.expr], engineDlts(cap.linkType)[0], cap.packets);
    problems.push(...run.counterErrors);
    const plan = run.plans[0];
    if (plan.engine === 'libpcap') { fallbacks.push(`${c.expr} on ${c.savefile} (DLT ${cap.linkType}): ${plan.reason}`); continue; }
    if (plan.engine === 'error') { problems.push(`engine refuses ${c.expr} on ${c.savefile} (DLT ${cap.linkType}) which libpcap accepts: ${planText(plan)}`); continue; }
    mismatches.push(...comparePackets(c.expr, c.savefile, expected, run.bits[0] ?? '', cap.packets));
    compared++;
  }
  recordFindings('apply corpus', mismatches);
  console.log(`apply corpus: ${cases.length} cases, ${compared} compared in JavaScript, ${mismatches.length} mismatching packets, ${fallbacks.length} fallbacks to libpcap` +
    (fallbacks.length ? `:\n  ${fallbacks.join('\n  ')}` : ''));
  assertClean('apply corpus', problems, mismatches);
  assert.equal(compared + fallbacks.length, cases.length, 'every case is compared or named as left to libpcap');
  assert.ok(compared >= 38, `only ${compared} cases compared in JavaScript`);
});
