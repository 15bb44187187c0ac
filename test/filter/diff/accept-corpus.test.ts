/**
 * Every expression libpcap accepts on Ethernet, on every Ethernet capture we
 * have, compared packet by packet with libpcap. Expressions the engine hands
 * to libpcap are counted as fallbacks (not passes); the ones libpcap itself
 * refuses when reading a savefile must be refused by the oracle and must not
 * be planned in JavaScript.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { oracleCompile, oracleMatch } from '../gen/oracle';
import { allCaptures, readExpressions } from './corpus';
import { checkSnapNeeded, describe, comparePackets, assertClean, recordFindings, runEngine, planText, type Mismatch } from './harness';

/** Need packet direction metadata, which a savefile on Ethernet does not have. */
const LIVE_ONLY = new Set(['inbound', 'outbound']);

test('accept corpus on every EN10MB capture agrees with libpcap packet by packet', () => {
  const exprs = readExpressions('accept-en10mb.txt');
  assert.ok(exprs.length >= 200, `accept corpus has ${exprs.length} expressions`);
  const captures = allCaptures().filter((c) => c.capture.linkType === 1);
  assert.ok(captures.length >= 40, `only ${captures.length} Ethernet captures found`);

  // All of them compile for a live Ethernet handle: the corpus is what it says.
  const compiled = oracleCompile(1, exprs);
  compiled.forEach((a, i) => assert.ok(a.ok, `libpcap refuses accept-corpus expression ${exprs[i]}`));

  const mismatches: Mismatch[] = [];
  const problems: string[] = [];
  let compared = 0;
  let comparedPackets = 0;
  const fallbacks = new Map<string, string>();
  let snapChecked = 0;
  for (const [ci, c] of captures.entries()) {
    const answers = oracleMatch(c.path, exprs);
    // Half the captures go through a buffer longer than caplen at an odd offset.
    const run = runEngine(exprs, 1, c.capture.packets, { padded: ci % 2 === 1 });
    const snapMismatches = checkSnapNeeded(exprs, 1, c.capture.packets, run, answers.map((a) => (a.ok ? a.value : null)), c.name);
    problems.push(...snapMismatches.map((m) => `snapNeeded too small: ${describe(m)}`));
    snapChecked++;
    problems.push(...run.counterErrors.map((e) => `${c.name}: ${e}`));
    exprs.forEach((expr, i) => {
      const a = answers[i];
      const plan = run.plans[i];
      if (!a.ok) {
        if (!LIVE_ONLY.has(expr)) problems.push(`${c.name}: libpcap unexpectedly refuses ${expr}: ${a.error}`);
        if (plan.engine === 'javascript') problems.push(`${c.name}: ${expr} is live-only (libpcap: ${a.error}) but planned in JavaScript`);
        return;
      }
      if (LIVE_ONLY.has(expr)) problems.push(`${c.name}: libpcap accepted live-only ${expr} on a savefile`);
      if (plan.engine === 'libpcap') { fallbacks.set(expr, plan.reason); return; }
      if (plan.engine === 'error') { problems.push(`${c.name}: engine refuses ${expr} which libpcap accepts: ${planText(plan)}`); return; }
      const got = run.bits[i] ?? '';
      mismatches.push(...comparePackets(expr, c.name, a.value, got, c.capture.packets));
      compared++;
      comparedPackets += a.value.length;
    });
  }
  recordFindings('accept corpus', mismatches);
  console.log(`accept corpus: ${exprs.length} expressions x ${captures.length} Ethernet captures: ${compared} (expression, capture) pairs, ` +
    `snapNeeded re-checked on ${snapChecked} captures, ` +
    `${comparedPackets} packet decisions compared, ${mismatches.length} mismatching; ${fallbacks.size} expressions fall back to libpcap` +
    (fallbacks.size ? `:\n  ${[...fallbacks].map(([e, r]) => `${e} (${r})`).join('\n  ')}` : ''));
  assertClean('accept corpus', problems, mismatches);
  assert.ok(compared > 0, 'nothing was compared');
});
