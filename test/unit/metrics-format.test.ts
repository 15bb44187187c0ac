/**
 * The Prometheus text of a `stats` reply: exact text for a small case,
 * promtool's verdict, hostile ids read back unescaped, counters past 2^32
 * and 2^53 in full digits, HELP/TYPE once per family.
 */
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { ruleLabels } from '../../src/config/label-list';
import { MetricsFormatter } from '../../src/outputs/metrics';
import type { InstanceStats, RuleStats, StatsReply } from '../../src/service/model';
import { parseExposition, promtoolCheck, sampleOf } from '../support/exposition';

const rule = (id: string, bytes: number, packets: number): RuleStats => ({ id, bytes, packets, bytes_per_second: 1.5, packets_per_second: 0.25 });

function instance(iface: string, rules: RuleStats[], state: InstanceStats['state'] = 'running'): InstanceStats {
  return { interface: iface, prefilter: '', state, socket: '/var/run/bpfcountd/x.sock', drops: { received: 7, dropped: 2, ifdropped: 1 }, rules };
}

/** Ids that break naive formatting: quotes, backslashes, braces, the text format's own characters, non-ASCII. */
const HOSTILE_PLAIN = [
  'say "hi"', 'back\\slash', 'trailing\\', '\\"', '}{', 'a,b=c', '# not a comment', 'x} 1\nfoo', 'tab\there',
  'ünïcödé ✓', 'emoji 🦀', 'with:colons:1:2', '  ', 'rule=x', 'a=b"c',
];
/** Label lists whose values need every escape. */
const HOSTILE_LISTS: [string, Record<string, string>][] = [
  ['v="q\\"uote"', { v: 'q"uote' }],
  ['v="back\\\\slash",w="new\\nline"', { v: 'back\\slash', w: 'new\nline' }],
  ['v="}{,=# \\\\n"', { v: '}{,=# \\n' }],
  ['_="",rule="r"', { _: '', rule: 'r' }],
];

describe('metrics text', () => {
  it('is exactly this for a small reply', () => {
    const text = new MetricsFormatter().format({
      wan: instance('eth0', [rule('plain', 100, 1), rule('type="arp",subtype="request"', 42, 1)]),
      lan: { ...instance('br-lan', [], 'waiting'), drops: { received: 0, dropped: 0, ifdropped: 0 } },
    });
    const families = text.split('\n').filter((l) => l.startsWith('# TYPE')).map((l) => l.slice(7));
    assert.deepEqual(families, [
      'bpfcountd_packets_total counter', 'bpfcountd_bytes_total counter', 'bpfcountd_received_packets_total counter',
      'bpfcountd_kernel_dropped_packets_total counter', 'bpfcountd_interface_dropped_packets_total counter', 'bpfcountd_instance_state gauge',
    ]);
    assert.deepEqual(text.split('\n').filter((l) => l !== '' && !l.startsWith('#')), [
      'bpfcountd_packets_total{instance="wan",interface="eth0",rule="plain"} 1',
      'bpfcountd_packets_total{instance="wan",interface="eth0",type="arp",subtype="request"} 1',
      'bpfcountd_bytes_total{instance="wan",interface="eth0",rule="plain"} 100',
      'bpfcountd_bytes_total{instance="wan",interface="eth0",type="arp",subtype="request"} 42',
      'bpfcountd_received_packets_total{instance="wan",interface="eth0"} 7',
      'bpfcountd_received_packets_total{instance="lan",interface="br-lan"} 0',
      'bpfcountd_kernel_dropped_packets_total{instance="wan",interface="eth0"} 2',
      'bpfcountd_kernel_dropped_packets_total{instance="lan",interface="br-lan"} 0',
      'bpfcountd_interface_dropped_packets_total{instance="wan",interface="eth0"} 1',
      'bpfcountd_interface_dropped_packets_total{instance="lan",interface="br-lan"} 0',
      'bpfcountd_instance_state{instance="wan",interface="eth0",state="running"} 1',
      'bpfcountd_instance_state{instance="wan",interface="eth0",state="waiting"} 0',
      'bpfcountd_instance_state{instance="lan",interface="br-lan",state="running"} 0',
      'bpfcountd_instance_state{instance="lan",interface="br-lan",state="waiting"} 1',
    ]);
    const check = promtoolCheck(text);
    assert.equal(check.status, 0, check.output);
    assert.equal(check.output, '');
  });

  it('hostile ids: promtool accepts the text, and every label reads back as sent', () => {
    const plain = HOSTILE_PLAIN.map((id, i) => rule(id, 1000 + i, i));
    const lists = HOSTILE_LISTS.map(([id], i) => rule(id, 2000 + i, 100 + i));
    const stats: StatsReply = { 'in"st\\ance': instance('eth"0\\', [...plain, ...lists]) };
    const text = new MetricsFormatter().format(stats);
    const check = promtoolCheck(text);
    assert.equal(check.status, 0, check.output);
    const parsed = parseExposition(text);
    const base = { instance: 'in"st\\ance', interface: 'eth"0\\' };
    for (const r of plain) {
      const s = sampleOf(parsed, 'bpfcountd_bytes_total', { ...base, rule: r.id });
      assert.deepEqual(s.labels, { ...base, rule: r.id });
      assert.equal(s.value, String(r.bytes));
    }
    HOSTILE_LISTS.forEach(([, labels], i) => {
      const s = sampleOf(parsed, 'bpfcountd_packets_total', { ...base, ...labels });
      assert.deepEqual(s.labels, { ...base, ...labels });
      assert.equal(s.value, String(100 + i));
    });
    assert.equal(parsed.samples.filter((s) => s.name === 'bpfcountd_packets_total').length, HOSTILE_PLAIN.length + HOSTILE_LISTS.length);
    // The list ids are the ones the config accepts.
    for (const [id, labels] of HOSTILE_LISTS) assert.deepEqual(Object.fromEntries(ruleLabels(id)), labels);
  });

  it('counters past 2^32 and 2^53 print in full digits', () => {
    const values = [2 ** 32 + 1, 2 ** 53 - 1, 2 ** 53, 2 ** 64, 1e21, 12345678901234567890];
    const stats: StatsReply = { big: instance('eth0', values.map((v, i) => rule(`r${i}`, v, v))) };
    const text = new MetricsFormatter().format(stats);
    assert.equal(promtoolCheck(text).status, 0);
    const parsed = parseExposition(text);
    values.forEach((v, i) => {
      const s = sampleOf(parsed, 'bpfcountd_bytes_total', { rule: `r${i}` });
      assert.match(s.value, /^\d+$/);
      assert.equal(BigInt(s.value), BigInt(v));
    });
    assert.equal(sampleOf(parsed, 'bpfcountd_packets_total', { rule: 'r1' }).value, '9007199254740991');
    assert.equal(sampleOf(parsed, 'bpfcountd_packets_total', { rule: 'r3' }).value, '18446744073709551616');
  });

  it('HELP and TYPE once per family, before its samples, also with no instance', () => {
    const text = new MetricsFormatter().format({ a: instance('eth0', [rule('x', 1, 1)]), b: instance('eth1', [rule('x', 2, 2)]) });
    const parsed = parseExposition(text);
    assert.equal(parsed.type.size, 6);
    assert.deepEqual([...parsed.help.keys()], [...parsed.type.keys()]);
    const lines = text.split('\n');
    for (const family of parsed.type.keys()) {
      const typeAt = lines.indexOf(lines.find((l) => l.startsWith(`# TYPE ${family} `)) ?? '');
      const firstSample = lines.findIndex((l) => l.startsWith(`${family}{`));
      assert.ok(typeAt >= 0 && typeAt < firstSample, family);
    }
    const empty = new MetricsFormatter().format({});
    assert.equal(parseExposition(empty).samples.length, 0);
    assert.equal(promtoolCheck(empty).status, 0);
  });

  it('a reload that changes ids shows the new labels (the label cache follows)', () => {
    const f = new MetricsFormatter();
    for (let round = 0; round < 50; round++) {
      const ids = [`r${round}`, `k="${round}"`];
      const parsed = parseExposition(f.format({ x: instance('eth0', ids.map((id) => rule(id, round, round))) }));
      assert.deepEqual(parsed.samples.filter((s) => s.name === 'bpfcountd_packets_total').map((s) => s.labels.rule ?? s.labels.k),
        [`r${round}`, String(round)]);
    }
  });

  it('an id the configuration would refuse (malformed list) still formats, as a plain id', () => {
    const parsed = parseExposition(new MetricsFormatter().format({ x: instance('eth0', [rule('a="b"c', 5, 5)]) }));
    assert.deepEqual(sampleOf(parsed, 'bpfcountd_bytes_total', {}).labels, { instance: 'x', interface: 'eth0', rule: 'a="b"c' });
  });

  it('promtool refuses broken text (the check can fail)', () => {
    assert.notEqual(promtoolCheck('bpfcountd_packets_total{rule="a"b"} 1\n').status, 0);
    assert.notEqual(promtoolCheck('# TYPE x counter\nx{rule="a\n"} 1\n').status, 0);
  });
});
