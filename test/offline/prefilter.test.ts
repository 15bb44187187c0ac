/**
 * The shared capture's kernel filter must never drop a packet a rule would
 * count: checked packet by packet with libpcap on every shared Ethernet
 * capture, for exact ORs, for coarse supersets and for rule sets where a
 * naive OR would lose packets.
 */
import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { INSTRUCTION_BUDGET, sharedKernelFilter } from '../../src/capture/prefilter';
import { buildOracle, ROOT, ruleEntries, sharedCaptures } from './helpers';

const ORACLE = join(ROOT, 'build', 'pcap-oracle');
const EN10MB = 1;

function matches(capture: string, exprs: readonly string[]): string[] {
  const out = execFileSync(ORACLE, ['match', capture, '-'], { input: exprs.join('\n') + '\n', encoding: 'utf8' });
  return out.trimEnd().split('\n').map((line, i) => {
    assert.match(line, /^OK [01]*$/, `oracle refused '${exprs[i]}'`);
    return line.slice(3);
  });
}

/** Every packet some rule matches (with the prefilter) passes the kernel filter; exact means no other does. */
function assertCovers(prefilter: string, rules: readonly string[], exact: boolean): void {
  const shared = sharedKernelFilter(prefilter, rules, EN10MB);
  for (const capture of sharedCaptures('EN10MB')) {
    const [kernel, pre, tagged, ...each] = matches(capture, [shared.filter || 'len >= 0', prefilter || 'len >= 0', 'vlan', ...rules]);
    for (let i = 0; i < kernel.length; i++) {
      const counted = pre[i] === '1' && each.some((bits) => bits[i] === '1');
      if (counted) assert.equal(kernel[i], '1', `${capture} packet ${i}: counted by a rule but dropped by '${shared.filter}'`);
      // Offline there is no VLAN stripping: 'or vlan' is the only extra.
      if (exact && !counted) {
        assert.ok(kernel[i] === '0' || tagged[i] === '1', `${capture} packet ${i}: passed '${shared.filter}' though no rule counts it`);
      }
    }
  }
}

before(buildOracle);

describe('shared kernel filter', () => {
  const freifunk = ruleEntries(join(ROOT, 'examples', 'example.filters'), '02:ba:7a:00:00:01').map((r) => r.expr);
  const broad = ruleEntries(join(ROOT, 'test', 'fixtures', 'broad-ethernet.filters'), '00:10:db:ff:10:01').map((r) => r.expr);

  it('is the exact OR of the example rules', () => {
    const shared = sharedKernelFilter('', freifunk, EN10MB);
    assert.match(shared.note, /^exactly/);
    assertCovers('', freifunk, true);
  });
  it('joins the prefilter', () => {
    const shared = sharedKernelFilter('ip6 or arp', freifunk, EN10MB);
    assert.ok(shared.filter.startsWith('(ip6 or arp) and ('));
    assertCovers('ip6 or arp', freifunk, true);
  });
  it('puts a single offset-shifting rule last', () => {
    const rules = ['vlan and ip', 'arp', 'ip6 multicast'];
    const shared = sharedKernelFilter('', rules, EN10MB);
    assert.match(shared.filter, /\(vlan and ip\) or \(vlan\)$/);
    assertCovers('', rules, true);
  });
  it('does not OR several offset-shifting rules (a naive OR loses packets)', () => {
    const rules = ['vlan and ip', 'vlan or ip', 'pppoes and ip', 'ip'];
    // The naive OR really is wrong on the shared captures: prove it with libpcap.
    const naive = rules.map((r) => `(${r})`).join(' or ');
    const lost = sharedCaptures('EN10MB').some((capture) => {
      const [joined, ...each] = matches(capture, [naive, ...rules]);
      return [...joined].some((bit, i) => bit === '0' && each.some((bits) => bits[i] === '1'));
    });
    assert.ok(lost, 'the naive OR should lose packets on some shared capture');
    assert.equal(sharedKernelFilter('', rules, EN10MB).filter, '');
    assertCovers('', rules, false);
  });
  it('keeps a shifting prefilter apart from the rules', () => {
    assert.equal(sharedKernelFilter('vlan', ['ip'], EN10MB).filter, 'vlan');
  });
  it('covers the broad rule set (exact or superset)', () => {
    const nonShifting = broad.filter((r) => !/vlan|pppoes|mpls|geneve/.test(r));
    assertCovers('', nonShifting, false);
  });
  it('gets coarser, never smaller, past the instruction budget', () => {
    const many: string[] = [];
    for (let i = 0; i < 150; i++) {
      many.push(`udp port ${1000 + i} and udp[8] = ${i % 256}`);
      many.push(`icmp6 and ip6[40] == ${128 + (i % 10)} and not ether src 02:00:00:00:00:${(i % 90 + 10).toString()}`);
    }
    const shared = sharedKernelFilter('', many, EN10MB);
    assert.match(shared.note, /superset/);
    assert.ok(shared.filter.length > 0 && shared.filter.length < 20000, shared.filter.slice(0, 200));
    assertCovers('', many.slice(0, 40), false);
    // The filter chosen for `many` must cover what `many` counts.
    for (const capture of sharedCaptures('EN10MB').slice(0, 8)) {
      const [kernel, ...each] = matches(capture, [shared.filter, ...many]);
      for (let i = 0; i < kernel.length; i++) {
        if (each.some((bits) => bits[i] === '1')) assert.equal(kernel[i], '1', `${capture} packet ${i}`);
      }
    }
    assert.ok(INSTRUCTION_BUDGET > 0);
  });
});
