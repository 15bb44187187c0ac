/**
 * `-r` mode against libpcap: every shared capture, counted by the daemon and
 * by the oracle, compared exactly (packets and wire bytes per rule).
 */
import { strict as assert } from 'node:assert';
import { before, describe, it } from 'node:test';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { writeEthernetPcap } from '../support/pcap';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import {
  buildOracle, oracleCounts, parseCounterLines, ROOT, ruleEntries, runDaemon, capturesOfLinkType,
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
  const captures = capturesOfLinkType('EN10MB');
  it('finds every Ethernet test capture', () => assert.ok(captures.length >= 23, `${captures.length} captures`));
  for (const capture of captures) {
    it(`${basename(capture)}: broad rule set`, () => assertExact(capture, join(FIXTURES, 'broad-ethernet.filters')));
    it(`${basename(capture)}: the C original's example rules`, () => assertExact(capture, join(FIXTURES, 'original-example.filters')));
  }
});

describe('other link types', () => {
  const captures = [...capturesOfLinkType('LINUX_SLL'), ...capturesOfLinkType('RAW')];
  it('finds every non-Ethernet test capture', () => assert.ok(captures.length >= 6, `${captures.length} captures`));
  for (const capture of captures) {
    it(`${basename(capture)}: IP rule set`, () => assertExact(capture, join(FIXTURES, 'broad-ip.filters')));
  }
});

describe('bundled example', () => {
  it('examples/sample.pcap with examples/example.filters', () =>
    assertExact(join(ROOT, 'examples', 'sample.pcap'), join(ROOT, 'examples', 'example.filters'), '02:ba:7a:00:00:01'));
});

describe('counters past 2^32', () => {
  it('sums wire lengths exactly beyond 32 bits', () => {
    // Three truncated frames whose wire length is almost 2^32 each: the byte count passes 2^33.
    const dir = mkdtempSync(join(tmpdir(), 'bpfc-big-'));
    try {
      const frame = Buffer.alloc(60);
      frame.fill(0xff, 0, 6); // broadcast destination
      frame.writeUInt16BE(0x0806, 12);
      const capture = join(dir, 'big.pcap');
      writeEthernetPcap(capture, [frame, frame, frame], [0xfffffff0, 0xfffffff0 - 1, 0xfffffff0 - 2]);
      const rules = join(dir, 'big.filters');
      writeFileSync(rules, 'all;len >= 0\narp;arp\nbcast;ether broadcast\n');
      assertExact(capture, rules);
      const run = runDaemon(['-r', capture, '-f', rules]);
      assert.match(run.stdout, /^all:12884901837:3$/m);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
