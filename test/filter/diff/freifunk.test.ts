/**
 * The benchmark's workload, checked for correctness: bench/freifunk.filters
 * (expanded with $MAC as the daemon does) and the C original's example rules
 * on 20k packets of the Freifunk-like mix, a tenth of them cut short or
 * bit-flipped, per packet against libpcap.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseFilterText } from '../../../src/config/filter-file';
import { expandRules } from '../../../src/config/expand';
import { generateMix, BENCH_MAC } from '../../../bench/mix';
import { Prng } from '../gen/prng';
import { mutate } from '../gen/random-packets';
import { readCaptureFile, writePcapFile } from '../gen/pcap-file';
import { REPO_ROOT, oracleMatch } from '../gen/oracle';
import { assertClean, comparePackets, planText, runEngine, type Mismatch } from './harness';

test('Freifunk rule set on the benchmark mix agrees with libpcap packet by packet', () => {
  const path = join(REPO_ROOT, 'bench', 'freifunk.filters');
  const rules = expandRules(parseFilterText(readFileSync(path, 'utf8'), path), BENCH_MAC);
  const exprs = [...rules.map((r) => r.expr), 'arp[6:2] == 1', 'not ether broadcast and arp[6:2] == 2', 'ether broadcast and arp[6:2] == 2'];
  const r = new Prng(99);
  const packets = generateMix(20000, 4242).map((p) => (r.chance(0.1) ? mutate(r, p.data) : p));
  const dir = mkdtempSync(join(tmpdir(), 'bpfcountd-ff-'));
  try {
    const file = join(dir, 'mix.pcap');
    writePcapFile(file, packets, { linkType: 1 });
    const cap = readCaptureFile(file);
    const answers = oracleMatch(file, exprs);
    const run = runEngine(exprs, 1, cap.packets);
    const problems = [...run.counterErrors];
    const mismatches: Mismatch[] = [];
    let matched = 0;
    exprs.forEach((expr, i) => {
      const a = answers[i];
      const plan = run.plans[i];
      assert.ok(a.ok, `libpcap refuses ${expr}`);
      if (plan.engine !== 'javascript') { problems.push(`${expr}: not evaluated in JavaScript: ${planText(plan)}`); return; }
      mismatches.push(...comparePackets(expr, 'freifunk mix (20k, seed 4242)', a.value, run.bits[i] ?? '', cap.packets));
      matched += [...a.value].filter((b) => b === '1').length;
    });
    console.log(`freifunk: ${exprs.length} rules x ${cap.packets.length} packets, ${matched} matches by libpcap, ${mismatches.length} mismatching`);
    // Every rule of the set must see traffic, or the comparison proves little.
    answers.forEach((a, i) => assert.ok(a.ok && a.value.includes('1'), `no packet of the mix matches ${exprs[i]}`));
    assertClean('freifunk', problems, mismatches);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
