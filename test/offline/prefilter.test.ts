/**
 * The shared capture's kernel filter must never drop a packet a rule counts.
 * The binding compiles that filter with libpcap's optimiser (it always
 * optimises), while the rules mean what libpcap's unoptimised program does:
 * so the kernel filter is evaluated here by libpcap WITH its optimiser
 * (`match-opt`) and every rule by libpcap WITHOUT it (`match`), packet by
 * packet, on every shared Ethernet capture and on generated frames, for exact
 * ORs, coarse supersets, rule sets a naive OR would lose packets of, and rule
 * shapes libpcap's optimiser miscompiles. Each check asserts how many counted
 * packets it compared, so none can pass by comparing nothing.
 */
import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { INSTRUCTION_BUDGET, sharedKernelFilter, type KernelTerm } from '../../src/capture/prefilter';
import type { Expr } from '../../src/filter/ast';
import { parseFilter } from '../../src/filter/parse';
import { TEST_PCAPS } from '../support/paths';
import { writeEthernetPcap } from '../support/pcap';
import { expandRuleSet } from '../support/oracle';
import { Prng } from '../filter/gen/prng';
import { randomEthernetFrame } from '../filter/gen/random-packets';
import { buildOracle, ROOT, ruleEntries, capturesOfLinkType } from './helpers';

const ORACLE = join(ROOT, 'build', 'pcap-oracle');
const EN10MB = 1;
/** Longer than every rule of these tests reads. */
const LONG = 128;

/** libpcap's verdicts per packet; mode 'match' = optimiser off (rules), 'match-opt' = on (the kernel filter). */
function oracle(mode: 'match' | 'match-opt', capture: string, exprs: readonly string[]): string[] {
  const out = execFileSync(ORACLE, [mode, capture, '-'], { input: exprs.join('\n') + '\n', encoding: 'utf8', maxBuffer: 1 << 28 });
  return out.trimEnd().split('\n').map((line, i) => {
    // 'H': libpcap never finishes that packet (protochain loop); such a packet is not compared.
    assert.match(line, /^OK [01H]*$/, `oracle (${mode}) refused '${exprs[i]}'`);
    return line.slice(3);
  });
}

interface Coverage { packets: number; counted: number }

/**
 * Every packet some rule counts (with the prefilter), by the unoptimised meaning, passes the
 * kernel filter as libpcap's optimiser compiles it; `exact`: no other packet of at least LONG
 * bytes does (shorter ones may pass on their protocol alone, see prefilter.ts).
 */
function covers(filter: string, prefilter: string, rules: readonly string[], captures: readonly string[], exact = false): Coverage {
  const total: Coverage = { packets: 0, counted: 0 };
  for (const capture of captures) {
    const [kernel] = oracle('match-opt', capture, [filter || 'len >= 0']);
    const [pre, tagged, long, ...each] = oracle('match', capture, [prefilter || 'len >= 0', 'vlan', `len >= ${LONG}`, ...rules]);
    for (let i = 0; i < kernel.length; i++) {
      total.packets++;
      const counted = pre[i] === '1' && each.some((bits) => bits[i] === '1');
      if (counted) {
        total.counted++;
        assert.equal(kernel[i], '1', `${capture} packet ${i}: counted by rule '${rules[each.findIndex((b) => b[i] === '1')]}' but dropped by '${filter}'`);
      }
      // Offline there is no VLAN stripping: 'or vlan' is the only extra.
      if (exact && !counted && long[i] === '1') {
        assert.ok(kernel[i] === '0' || tagged[i] === '1', `${capture} packet ${i}: passed '${filter}' though no rule counts it`);
      }
    }
  }
  return total;
}

function assertCovers(prefilter: string, rules: readonly (string | KernelTerm)[], exact: boolean, captures: readonly string[], minCounted: number): Coverage {
  const shared = sharedKernelFilter(prefilter, rules, EN10MB);
  const texts = rules.map((r) => (typeof r === 'string' ? r : r.expr));
  const c = covers(shared.filter, prefilter, texts, captures, exact);
  assert.ok(c.counted >= minCounted, `only ${c.counted} counted packets of ${c.packets} compared (wanted ${minCounted})`);
  return c;
}

function tempPcap(name: string, frames: readonly Uint8Array[]): string {
  const path = join(mkdtempSync(join(tmpdir(), 'bpfc-kernel-')), name);
  writeEthernetPcap(path, frames.map((f) => Buffer.from(f)));
  return path;
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
  return tempPcap('short.pcap', frames.map((f) => Uint8Array.from(f)));
}

/**
 * Random Ethernet frames (VLAN, MPLS, PPPoE, LLC, ARP, IPv4/6 with extension headers...), bits
 * flipped in some, and a quarter of them malformed runts: shorter on the wire than the headers
 * they announce (the kernel filter sees whole packets only, so no other truncation).
 */
function generatedCapture(seed: number, n: number): string {
  const r = new Prng(seed);
  const frames = Array.from({ length: n }, () => {
    let f = Uint8Array.from(randomEthernetFrame(r));
    if (r.chance(0.2) && f.length > 0) f[r.int(f.length)] ^= 1 << r.int(8);
    if (r.chance(0.25)) f = f.slice(0, r.int(f.length + 1));
    return f;
  });
  return tempPcap(`generated-${seed}.pcap`, frames);
}

before(buildOracle);

describe('shared kernel filter (optimised) covers the rules (unoptimised)', () => {
  const freifunk = ruleEntries(join(ROOT, 'examples', 'example.filters'), '02:ba:7a:00:00:01').map((r) => r.expr);
  const broad = ruleEntries(join(ROOT, 'test', 'fixtures', 'broad-ethernet.filters'), '00:10:db:ff:10:01').map((r) => r.expr);
  const en10mb = capturesOfLinkType('EN10MB');
  const generated = generatedCapture(20261206, 3000);

  it('is the exact OR of the example rules', () => {
    const shared = sharedKernelFilter('', freifunk, EN10MB);
    assert.match(shared.note, /^exactly/);
    // Unicast bulk traffic (long frames no rule counts) stays in the kernel.
    const [kernel] = oracle('match-opt', join(TEST_PCAPS, 'mptcp-v0.pcap'), [shared.filter]);
    const [long] = oracle('match', join(TEST_PCAPS, 'mptcp-v0.pcap'), [`len >= ${LONG}`]);
    assert.ok([...long].filter((bit) => bit === '1').length >= 10);
    assert.ok([...kernel].every((bit, i) => bit === '0' || long[i] === '0'), 'long unicast TCP frames pass the kernel filter');
    assertCovers('', freifunk, true, [...en10mb, generated], 500);
  });

  it('is not hidden by a rule that reads past short packets (loads past the end abort the whole filter)', () => {
    const short = shortFramesCapture();
    const rules = ['ether[200] = 1', 'ether proto 0x88b5', 'greater 0', 'udp and port 53 and udp[10] & 0x80 = 0', 'arp', 'icmp6'];
    const naive = rules.map((r) => `(${r})`).join(' or ');
    const [joined] = oracle('match-opt', short, [naive]);
    assert.ok(joined.includes('0'), 'the plain OR loses short frames: the test must be able to fail');
    assertCovers('', rules, true, [short, ...en10mb], 1000);
    assertCovers('', ['udp[10] & 0x80 = 0', 'ip6[40] == 133', 'ether proto 0x88b5'], true, [short], 3);
  });

  it('joins the prefilter', () => {
    const shared = sharedKernelFilter('ip6 or arp', freifunk, EN10MB);
    assert.ok(shared.filter.startsWith('(ip6 or arp) and ('));
    assertCovers('ip6 or arp', freifunk, true, [...en10mb, generated], 200);
  });

  it('does not join a rule that shifts offsets (vlan shifts the trailing vlan test and vice versa)', () => {
    const rules = ['vlan and ip', 'arp', 'ip6 multicast'];
    assert.equal(sharedKernelFilter('', rules, EN10MB).filter, '');
    assertCovers('', rules, false, [...en10mb, generated], 100);
  });

  it('does not OR several offset-shifting rules (a naive OR loses packets)', () => {
    const rules = ['vlan and ip', 'vlan or ip', 'pppoes and ip', 'ip'];
    // The naive OR really is wrong on these captures: prove it with libpcap.
    const naive = rules.map((r) => `(${r})`).join(' or ');
    const lost = [...en10mb, generated].some((capture) => {
      const [joined] = oracle('match-opt', capture, [naive]);
      const each = oracle('match', capture, rules);
      return [...joined].some((bit, i) => bit === '0' && each.some((bits) => bits[i] === '1'));
    });
    assert.ok(lost, 'the naive OR should lose packets on some capture');
    assert.equal(sharedKernelFilter('', rules, EN10MB).filter, '');
    assertCovers('', rules, false, [...en10mb, generated], 1000);
  });

  it('keeps a shifting prefilter apart from the rules', () => {
    assert.equal(sharedKernelFilter('vlan', ['ip'], EN10MB).filter, 'vlan');
  });

  it('covers the broad rule set (exact or superset)', () => {
    const nonShifting = broad.filter((r) => !/vlan|pppoes|mpls|geneve/.test(r));
    assertCovers('', nonShifting, false, [...en10mb, generated], 1000);
  });

  it('covers the shipped default rules and composed (${id}) rule sets', () => {
    const shipped = expandRuleSet(ruleEntries(join(ROOT, 'files', 'etc', 'bpfcountd.filters'), '02:ba:7a:00:00:01'), '02:ba:7a:00:00:01');
    assertCovers('', shipped, false, [...en10mb, generated], 500);
    const original = expandRuleSet(ruleEntries(join(ROOT, 'test', 'fixtures', 'original-example.filters'), '02:ba:7a:00:00:01'), '02:ba:7a:00:00:01');
    assertCovers('', original.filter((r) => !/vlan|pppoes|mpls|geneve/.test(r)), false, [...en10mb, generated], 100);
  });

  it('covers rule shapes libpcap\'s optimiser miscompiles (their unoptimised verdicts)', () => {
    const miscompiled = [
      'udp or ip6 or len > 100 or ip', 'udp or ip6 or ether[0] = 1 or ip', 'net 10.0.0.0/8 or ip6 or ether multicast or arp',
      '(ip[2:2] > 100 or ether multicast) and ether multicast and ip[2:2] > 100',
      'ip[9] = 17 or ether[0] = 1 and (ether[0] = 1 or ether[0] = 1) and ether[0] = 1 and not not ip[9] = 17',
      'udp[13] & 0 != 0 or udp[9] <= 1', 'udp[13] & 0 != 0 or port 67', 'ip[len - 40] & 0 != 0 and not icmp[0] & 0 != 0 or not ip[len - 40] > 10',
      'not host 10.0.0.1 and not ip and not ether multicast and not arp', 'ip and port 6697 or udp port 53', 'ip and (port 80 or port 443)',
      'ip or not ip', 'tcp and (port 53 or not port 53)', 'net fe80::/65 and net fe80::/65', 'src and dst net 0.0.0.0/1 and src net 0.0.0.0/1 or host 10.0.0.1',
      // Found losing DHCP broadcasts in an exact OR (the optimiser drops the ldxb of `udp[13] & 0`).
      '(ether broadcast or not (ether broadcast and not udp[9] <= 1) and not not udp[13] & 0 != 0) or (udp[9] <= 1 and ether broadcast)',
    ];
    // One at a time (each may pass everything) and all together.
    let counted = 0;
    for (const rule of miscompiled) counted += assertCovers('', [rule], false, [generated], 0).counted;
    assert.ok(counted >= 3000, `only ${counted} counted packets compared`);
    assertCovers('', miscompiled, false, [...en10mb, generated], 1000);
  });

  it('covers separate rules that together form shapes the optimiser miscompiles', () => {
    const sets = [
      ['udp', 'ip6', 'len > 100', 'ip'], ['udp', 'ip6', 'ether[0] = 1', 'ip'], ['net 10.0.0.0/8', 'ip6', 'ether multicast', 'arp'],
      ['udp[13] & 0 != 0', 'udp[9] <= 1'], ['udp[13] & 0 != 0', 'port 67'], ['ip[2:2] > 100 or ether multicast', 'ether multicast and ip[2:2] > 100'],
      ['ip and port 6697', 'udp port 53'], ['net fe80::/65', 'net fe80::/65 and tcp'], ['not host 10.0.0.1 and not ip', 'not ether multicast and not arp'],
      ['ip[9] = 17', 'ether[0] = 1', 'ether[0] = 1 and ip[9] = 17'], ['less 60', 'tcp', 'less 100', 'udp'], ['ether multicast', 'ip', 'ip6', 'ether multicast and ip'],
    ];
    let counted = 0;
    for (const rules of sets) counted += assertCovers('', rules, false, [generated], 0).counted;
    assert.ok(counted >= 10000, `only ${counted} counted packets compared`);
  });

  it('puts the parts of a disjunction the optimiser may miscompile in exactly', () => {
    const rule = 'net 10.0.0.0/8 or ip6 or ether multicast or arp';
    const shared = sharedKernelFilter('', [rule], EN10MB);
    assert.match(shared.filter, /net 10\.0\.0\.0\/8/);
    assert.match(shared.note, /^exactly/);
    assertCovers('', [rule], false, [...en10mb, generated], 500);
  });

  it('keeps the protocol tests of a conjunction the optimiser may miscompile, not "everything" (Freifunk\'s ARP reply rule)', () => {
    const rule = 'not ether broadcast and arp and arp[6:2] == 2 and not ether src 02:ca:fe:00:00:01';
    const shared = sharedKernelFilter('', [rule], EN10MB);
    assert.match(shared.filter, /\(len < 14 or \(arp\)\)/);
    assertCovers('', [rule], false, [...en10mb, generated], 40);
  });

  it('covers random rule sets built from repeated primitives (the optimiser\'s miscompile shapes)', () => {
    const r = new Prng(20261206);
    const pool = ['ip', 'ip6', 'arp', 'udp', 'tcp', 'len > 100', 'less 60', 'port 53', 'host 10.0.0.1', 'net 10.0.0.0/8', 'ether multicast',
      'ether[0] = 1', 'ip[2:2] > 100', 'ip[9] = 17', 'tcp[13] & 2 != 0', 'udp[9] <= 1', 'arp[6:2] = 1', 'icmp6 and ip6[40] = 135'];
    const rule = (): string => {
      const some = Array.from({ length: r.range(2, 4) }, () => r.pick(pool));
      const primitive = (): string => (r.chance(0.25) ? 'not ' : '') + r.pick(some);
      let out = primitive();
      for (let i = r.range(2, 5); i > 1; i--) out += ` ${r.pick(['and', 'or', 'and not', 'or not'])} ${primitive()}`;
      return out;
    };
    let counted = 0;
    for (let set = 0; set < 30; set++) {
      const rules = Array.from({ length: 8 }, rule);
      counted += assertCovers('', rules, false, [generated], 0).counted;
    }
    assert.ok(counted >= 25000, `only ${counted} counted packets compared`);
  });

  it('takes rules only libpcap\'s optimiser refuses (a divisor folded to 0) coarse', () => {
    const terms: KernelTerm[] = [
      { expr: 'arp[6:2] = 1', coarse: false },
      { expr: 'ip[0] / (1 - 1) > 0 or udp', coarse: true },
      { expr: 'udp port 53 and udp[10] / (2 - 2) = 1 or icmp6', coarse: true },
    ];
    const shared = sharedKernelFilter('', terms, EN10MB);
    assert.ok(!shared.filter.includes('/'), shared.filter);
    assertCovers('', terms, false, [...en10mb, generated], 200);
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
    // Frames the rules count: UDP to each port with the byte the rule wants, ICMPv6 of each type.
    const mac = [2, 0, 0, 0, 0, 1];
    const frames: Uint8Array[] = [];
    for (let i = 0; i < 150; i++) {
      const port = 1000 + i;
      frames.push(Uint8Array.from([...mac, ...mac, 0x08, 0x00, 0x45, 0, 0, 40, 0, 0, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
        0x9c, 0x40, port >> 8, port & 0xff, 0, 20, 0, 0, i % 256, ...new Array<number>(11).fill(0)]));
    }
    for (let t = 128; t < 138; t++) {
      frames.push(Uint8Array.from([...mac, 2, 0, 0, 0, 0, 0x77, 0x86, 0xdd, 0x60, 0, 0, 0, 0, 8, 58, 255, ...new Array<number>(32).fill(0),
        t, 0, 0, 0, 0, 0, 0, 0]));
    }
    const crafted = tempPcap('coarse.pcap', frames);
    const c = covers(shared.filter, '', many, [crafted, generated, ...en10mb.slice(0, 8)]);
    assert.ok(c.counted >= 160, `only ${c.counted} counted packets compared`);
    // Networks keep their prefix length when the comparisons are dropped (`net 10.7.0.0/16`, not a /32);
    // the frames are longer than the rules read, so no length guard lets them through.
    const nets = Array.from({ length: 120 }, (_, i) => `net 10.${i}.0.0/16 and udp[8] = ${i}`);
    const coarse = sharedKernelFilter('', nets, EN10MB);
    assert.match(coarse.note, /superset \(no-comparisons\)/);
    const toNets: Uint8Array[] = [];
    for (let i = 0; i < 120; i++) {
      toNets.push(Uint8Array.from([...mac, ...mac, 0x08, 0x00, 0x45, 0, 0, 40, 0, 0, 0, 0, 64, 17, 0, 0, 10, i, 7, 9, 10, 0, 0, 2,
        0x9c, 0x40, 0, 53, 0, 20, 0, 0, i, ...new Array<number>(60).fill(0)]));
    }
    const n = covers(coarse.filter, '', nets, [tempPcap('nets.pcap', toNets)]);
    assert.ok(n.counted >= 120, `only ${n.counted} counted packets compared`);
    assert.ok(INSTRUCTION_BUDGET > 0);
  });
});

describe('the instruction estimate', () => {
  /** Primitives of a tree, as the estimate counts them. */
  function primitives(e: Expr | null): number {
    if (!e) return 0;
    if (e.kind === 'and' || e.kind === 'or') return primitives(e.left) + primitives(e.right);
    if (e.kind === 'not') return primitives(e.arg);
    return 1;
  }
  const sets: [string, string][] = [
    ['files/etc/bpfcountd.filters', '02:00:00:00:00:01'], ['examples/example.filters', '02:ba:7a:00:00:01'],
    ['test/fixtures/broad-ethernet.filters', '00:10:db:ff:10:01'], ['bench/freifunk.filters', '02:00:00:00:00:01'],
  ];
  for (const [file, mac] of sets) {
    it(`${file}: counted from each term's parts, equal to counting the parsed filter`, () => {
      const exprs = ruleEntries(join(ROOT, file), mac).map((r) => r.expr);
      let compared = 0;
      for (const rules of [exprs, ...exprs.map((e) => [e]), exprs.map((expr): KernelTerm => ({ expr, coarse: true }))]) {
        const shared = sharedKernelFilter('', rules, EN10MB);
        const about = /about (\d+) BPF instructions/.exec(shared.note);
        if (!about) continue;
        assert.equal(Number(about[1]), Math.ceil(1.6 * primitives(parseFilter(shared.filter))) + 10, shared.filter);
        compared++;
      }
      assert.ok(compared > exprs.length / 2, `only ${compared} estimates compared`);
    });
  }
});
