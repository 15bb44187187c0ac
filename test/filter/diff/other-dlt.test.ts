/**
 * The non-Ethernet captures (Linux cooked SLL, raw IP) with the hand-picked
 * expressions and the accept corpus: per packet against libpcap, and whatever
 * libpcap refuses on that link type must not be planned in JavaScript.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { oracleMatch } from '../gen/oracle';
import { allCaptures, engineDlts, readExpressions } from './corpus';
import { IP_LEVEL_EXPRS } from './exprs';
import { comparePackets, assertClean, recordFindings, runEngine, planText, type Mismatch } from './harness';

const TARGET_DLTS = new Set([113, 101, 276, 0, 108]);

test('non-Ethernet captures agree with libpcap packet by packet', () => {
  const captures = allCaptures().filter((c) => TARGET_DLTS.has(c.capture.linkType));
  const dlts = new Set(captures.map((c) => c.capture.linkType));
  assert.ok(dlts.has(113) && dlts.has(101), `expected SLL and RAW captures, found DLTs ${[...dlts].join(',')}`);
  const exprs = [...new Set([...IP_LEVEL_EXPRS, ...readExpressions('accept-en10mb.txt')])];
  const mismatches: Mismatch[] = [];
  const problems: string[] = [];
  let compared = 0;
  let refused = 0;
  let packets = 0;
  const fallbacks = new Set<string>();
  for (const c of captures) {
    const answers = oracleMatch(c.path, exprs);
    for (const dlt of engineDlts(c.capture.linkType)) {
      const run = runEngine(exprs, dlt, c.capture.packets, { padded: true });
      problems.push(...run.counterErrors.map((e) => `${c.name}: ${e}`));
      exprs.forEach((expr, i) => {
        const a = answers[i];
        const plan = run.plans[i];
        if (!a.ok) {
          refused++;
          if (plan.engine === 'javascript') problems.push(`${c.name} (DLT ${dlt}): ${expr} planned in JavaScript but libpcap refuses it: ${a.error}`);
          return;
        }
        if (plan.engine === 'libpcap') { fallbacks.add(`DLT ${dlt}: ${expr} (${plan.reason})`); return; }
        if (plan.engine === 'error') { problems.push(`${c.name} (DLT ${dlt}): engine refuses ${expr} which libpcap accepts: ${planText(plan)}`); return; }
        mismatches.push(...comparePackets(expr, `${c.name} as DLT ${dlt}`, a.value, run.bits[i] ?? '', c.capture.packets));
        compared++;
        packets += a.value.length;
      });
    }
  }
  recordFindings('non-Ethernet captures', mismatches);
  console.log(`non-Ethernet: ${captures.length} captures (DLTs ${[...dlts].join(', ')}) x ${exprs.length} expressions: ${compared} pairs, ${packets} packet decisions compared, ` +
    `${mismatches.length} mismatching, ${refused} refused by libpcap, ${fallbacks.size} fallbacks`);
  assertClean('non-Ethernet', problems, mismatches);
  assert.ok(compared > 0);
});
