/**
 * `-r` mode against libpcap: every shared capture, counted by the daemon and
 * by the oracle, compared exactly (packets and wire bytes per rule).
 */
import { strict as assert } from 'node:assert';
import { before, describe, it } from 'node:test';
import { basename, join } from 'node:path';
import {
  buildOracle, oracleCounts, parseCounterLines, ROOT, ruleEntries, runDaemon, sharedCaptures,
} from './helpers';

const MAC = '00:10:db:ff:10:01';
const FIXTURES = join(ROOT, 'test', 'fixtures');

function assertExact(capture: string, filterFile: string, mac = MAC): void {
  const rules = ruleEntries(filterFile, mac);
  const run = runDaemon(['-r', capture, '-f', filterFile, '--mac', mac]);
  assert.equal(run.status, 0, run.stderr);
  const got = parseCounterLines(run.stdout);
  assert.deepEqual([...got.keys()], rules.map((r) => r.id), 'one line per rule, in file order');
  const expected = oracleCounts(capture, rules.map((r) => r.expr));
  rules.forEach((rule, i) => {
    assert.deepEqual(got.get(rule.id), expected[i], `${basename(capture)}: rule ${rule.id} (${rule.expr})`);
  });
}

before(buildOracle);

describe('Ethernet captures', () => {
  const captures = sharedCaptures('EN10MB');
  it('finds the shared Ethernet captures', () => assert.ok(captures.length >= 20, `${captures.length} captures`));
  for (const capture of captures) {
    it(`${basename(capture)}: broad rule set`, () => assertExact(capture, join(FIXTURES, 'broad-ethernet.filters')));
    it(`${basename(capture)}: the C original's example rules`, () => assertExact(capture, join(FIXTURES, 'original-example.filters')));
  }
});

describe('other link types', () => {
  const captures = [...sharedCaptures('LINUX_SLL'), ...sharedCaptures('RAW')];
  it('finds the shared non-Ethernet captures', () => assert.ok(captures.length >= 5));
  for (const capture of captures) {
    it(`${basename(capture)}: IP rule set`, () => assertExact(capture, join(FIXTURES, 'broad-ip.filters')));
  }
});

describe('bundled example', () => {
  it('examples/sample.pcap with examples/example.filters', () =>
    assertExact(join(ROOT, 'examples', 'sample.pcap'), join(ROOT, 'examples', 'example.filters'), '02:ba:7a:00:00:01'));
});
