/**
 * The shared capture's kernel filter must never drop a packet a rule would
 * count: checked packet by packet with libpcap on every shared Ethernet
 * capture, for exact ORs, for coarse supersets and for rule sets where a
 * naive OR would lose packets.
 */
import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { INSTRUCTION_BUDGET, sharedKernelFilter } from '../../src/capture/prefilter';
import { TEST_PCAPS } from '../support/paths';
import { writeEthernetPcap } from '../support/pcap';
import { buildOracle, ROOT, ruleEntries, capturesOfLinkType } from './helpers';

const ORACLE = join(ROOT, 'build', 'pcap-oracle');
const EN10MB = 1;
/** Longer than every rule of these tests reads. */
const LONG = 128;

function matches(capture: string, exprs: readonly string[]): string[] {
  const out = execFileSync(ORACLE, ['match', capture, '-'], { input: exprs.join('\n') + '\n', encoding: 'utf8' });
  return out.trimEnd().split('\n').map((line, i) => {
    assert.match(line, /^OK [01]*$/, `oracle refused '${exprs[i]}'`);
    return line.slice(3);
  });
}

/**
 * Every packet some rule matches (with the prefilter) passes the kernel
 * filter; `exact`: no other packet of at least LONG bytes does (shorter ones
 * may pass on their protocol alone, see prefilter.ts).
 */
function assertCovers(prefilter: string, rules: readonly string[], exact: boolean, captures = capturesOfLinkType('EN10MB')): void {
  const shared = sharedKernelFilter(prefilter, rules, EN10MB);
  for (const capture of captures) {
    const [kernel, pre, tagged, long, ...each] = matches(capture,
      [shared.filter || 'len >= 0', prefilter || 'len >= 0', 'vlan', `len >= ${LONG}`, ...rules]);
    for (let i = 0; i < kernel.length; i++) {
      const counted = pre[i] === '1' && each.some((bits) => bits[i] === '1');
      if (counted) assert.equal(kernel[i], '1', `${capture} packet ${i}: counted by a rule but dropped by '${shared.filter}'`);
      // Offline there is no VLAN stripping: 'or vlan' is the only extra.
      if (exact && !counted && long[i] === '1') {
        assert.ok(kernel[i] === '0' || tagged[i] === '1', `${capture} packet ${i}: passed '${shared.filter}' though no rule counts it`);
      }
    }
  }
}

/** Short frames on which rules that read far would abort a plain OR of the rules. */
function shortFramesCapture(): string {
  const frames: number[][] = [];
  const mac = [2, 0, 0, 0, 0, 1];
  const ether = (type: number, payload: number[]): number[] => [...mac, ...mac, type >> 8, type & 0xff, ...payload];
  const udp4 = (payloadLength: number): number[] => ether(0x0800, [0x45, 0, 0, 28 + payloadLength, 0, 0, 0, 0, 64, 17, 0, 0,
    10, 0, 0, 1, 10, 0, 0, 2, 0x9c, 0x40, 0, 53, 0, 8 + payloadLength, 0, 0, ...new Array<number>(payloadLength).fill(0)]);
  for (let n = 0; n < 12; n++) frames.push(udp4(n));
  frames.push(ether(0x88b5, new Array<number>(46).fill(0)));
  frames.push(ether(0x0806, [0, 1, 8, 0, 6, 4, 0, 1, ...new Array<number>(20).fill(0)]));
  frames.push(ether(0x86dd, [0x60, 0, 0, 0, 0, 0, 58, 255]));
  frames.push([...mac, ...mac]);
  const path = join(mkdtempSync(join(tmpdir(), 'bpfc-short-')), 'short.pcap');
  writeEthernetPcap(path, frames.map((frame) => Buffer.from(frame)));
  return path;
}

before(buildOracle);

describe('shared kernel filter', () => {
  const freifunk = ruleEntries(join(ROOT, 'examples', 'example.filters'), '02:ba:7a:00:00:01').map((r) => r.expr);
  const broad = ruleEntries(join(ROOT, 'test', 'fixtures', 'broad-ethernet.filters'), '00:10:db:ff:10:01').map((r) => r.expr);

  it('is the exact OR of the example rules', () => {
    const shared = sharedKernelFilter('', freifunk, EN10MB);
    assert.match(shared.note, /^exactly/);
    // Unicast bulk traffic (long frames no rule counts) stays in the kernel.
    const [kernel, long] = matches(join(TEST_PCAPS, 'mptcp-v0.pcap'), [shared.filter, `len >= ${LONG}`]);
    assert.ok([...long].some((bit) => bit === '1'));
    assert.ok([...kernel].every((bit, i) => bit === '0' || long[i] === '0'), 'long unicast TCP frames pass the kernel filter');
    assertCovers('', freifunk, true);
  });
  it('is not hidden by a rule that reads past short packets (loads past the end abort the whole filter)', () => {
    const short = shortFramesCapture();
    const rules = ['ether[200] = 1', 'ether proto 0x88b5', 'greater 0', 'udp and port 53 and udp[10] & 0x80 = 0', 'arp', 'icmp6'];
    const naive = rules.map((r) => `(${r})`).join(' or ');
    const [joined] = matches(short, [naive]);
    assert.ok(joined.includes('0'), 'the plain OR loses short frames: the test must be able to fail');
    assertCovers('', rules, true, [short, ...capturesOfLinkType('EN10MB')]);
    assertCovers('', ['udp[10] & 0x80 = 0', 'ip6[40] == 133', 'ether proto 0x88b5'], true, [short]);
  });
  it('joins the prefilter', () => {
    const shared = sharedKernelFilter('ip6 or arp', freifunk, EN10MB);
    assert.ok(shared.filter.startsWith('(ip6 or arp) and ('));
    assertCovers('ip6 or arp', freifunk, true);
  });
  it('does not join a rule that shifts offsets (vlan shifts the trailing vlan test and vice versa)', () => {
    const rules = ['vlan and ip', 'arp', 'ip6 multicast'];
    assert.equal(sharedKernelFilter('', rules, EN10MB).filter, '');
    assertCovers('', rules, false);
  });
  it('does not OR several offset-shifting rules (a naive OR loses packets)', () => {
    const rules = ['vlan and ip', 'vlan or ip', 'pppoes and ip', 'ip'];
    // The naive OR really is wrong on the shared captures: prove it with libpcap.
    const naive = rules.map((r) => `(${r})`).join(' or ');
    const lost = capturesOfLinkType('EN10MB').some((capture) => {
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
    for (const capture of capturesOfLinkType('EN10MB').slice(0, 8)) {
      const [kernel, ...each] = matches(capture, [shared.filter, ...many]);
      for (let i = 0; i < kernel.length; i++) {
        if (each.some((bits) => bits[i] === '1')) assert.equal(kernel[i], '1', `${capture} packet ${i}`);
      }
    }
    assert.ok(INSTRUCTION_BUDGET > 0);
  });
});
