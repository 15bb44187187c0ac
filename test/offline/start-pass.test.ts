/**
 * A start or a reload is one pass: sections that share a filter file have each distinct
 * expression checked by libpcap once and share one compiled matcher, and count exactly as
 * sections opened on their own.
 */
import { strict as assert } from 'node:assert';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ExpressionChecker } from '../../src/capture/validate';
import { expandRules } from '../../src/config/expand';
import { readFilterFile } from '../../src/config/filter-file';
import { CaptureSet } from '../../src/engine/capture-set';
import { Counters } from '../../src/engine/counters';
import { TEST_PCAPS } from '../support/paths';
import { ROOT } from './helpers';

const MAC = '00:10:db:ff:10:01';
const CAPTURE = join(TEST_PCAPS, 'eapon1.pcap');

function openSet(checker: ExpressionChecker, filters: string, prefilter: string): CaptureSet {
  const rules = expandRules(readFilterFile(filters), MAC);
  const set = new CaptureSet({ name: 'x', source: { kind: 'file', path: CAPTURE }, prefilter, rules }, new Counters(rules.length));
  set.open(checker);
  return set;
}

function summary(set: CaptureSet): unknown {
  set.readAll();
  return {
    plans: set.plans, kernelFilter: set.kernelFilter, snap: set.snapLength,
    bytes: [...set.counters.bytes], packets: [...set.counters.packets],
  };
}

describe('one pass over several sections', () => {
  it('memo: computed once per key within a pass, every time outside one, forgotten when the pass ends', async () => {
    const checker = new ExpressionChecker();
    let calls = 0;
    const compute = (): number => ++calls;
    assert.equal(checker.memo('k', compute), 1);
    assert.equal(checker.memo('k', compute), 2);
    await checker.inPass(async () => {
      assert.equal(checker.memo('k', compute), 3);
      await checker.inPass(async () => assert.equal(checker.memo('k', compute), 3));
      await new Promise((resolve) => setImmediate(resolve));
      assert.equal(checker.memo('k', compute), 3);
    });
    assert.equal(checker.memo('k', compute), 4);
    await checker.inPass(async () => assert.equal(checker.memo('k', compute), 5));
  });

  it('libpcap verdicts within a pass are those outside one', async () => {
    const checker = new ExpressionChecker();
    const exprs = ['ip', 'ip or', 'udp port 53', 'ip and ip6', 'inbound', 'ether[0] / 0 == 1'];
    const outside = exprs.map((e) => checker.check(e, 1));
    const inside = await checker.inPass(async () => exprs.flatMap((e) => [checker.check(e, 1), checker.check(e, 1)]));
    assert.deepEqual(inside, outside.flatMap((m) => [m, m]));
  });

  for (const [filters, prefilter] of [
    ['files/etc/bpfcountd.filters', ''],
    ['test/fixtures/broad-ethernet.filters', ''],
    ['test/fixtures/broad-ethernet.filters', 'not arp'],
  ]) {
    it(`${filters}${prefilter ? ` with prefilter '${prefilter}'` : ''}: three sections in one pass count as each alone`, async () => {
      const path = join(ROOT, filters);
      const alone = new ExpressionChecker();
      const expected = summary(openSet(alone, path, prefilter));
      const shared = new ExpressionChecker();
      const sets = await shared.inPass(async () => [0, 1, 2].map(() => openSet(shared, path, prefilter)));
      // Each set counts into its own counters, though they share the compiled matcher.
      for (const set of sets) assert.deepEqual(summary(set), expected);
      for (const set of sets) set.close();
    });
  }
});
