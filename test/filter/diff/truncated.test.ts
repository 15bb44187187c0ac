/**
 * Short and truncated packets the generated tests found (minimized), each run
 * through libpcap with its optimiser off (the oracle) and the engine: they must
 * agree on every packet. The optimised program's answer is reported where a
 * case was added for its difference, never expected.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writePcapFile, type CapturedPacket } from '../gen/pcap-file';
import { oracleMatch, oracleMatchOptimized } from '../gen/oracle';
import { runEngine } from './harness';

interface Case {
  expr: string;
  /** Link type of the capture file (101: LINKTYPE_RAW) and the one the engine is given. */
  fileDlt: number;
  dlt: number;
  hex: string;
  wirelen: number;
  /** Why libpcap answers as it does (for whoever reads a failure). */
  why: string;
  /**
   * The packet shows libpcap's optimizer at work: its optimized and unoptimized programs disagree
   * on it (so the case keeps testing the class it was added for).
   */
  optimizerDecides?: boolean;
}

/** Linux cooked (SLL) IPv4/UDP, source port 53, whole but cut after the source port (39 bytes). */
const SLL_UDP_SPORT_ONLY = '0001000100063333000000010000080045000049123400004011a6c7c0a8010100000000003514';

const CASES: readonly Case[] = [
  {
    expr: 'not udp[tcpflags] & icmp-echoreply != 0 and not ip6 protochain 17', fileDlt: 113, dlt: 113, wirelen: 73,
    hex: '00000001000601005e0000fb0000080045000039123400000111ad850a000001effffffb003514e900',
    why: 'protochain turns libpcap\'s optimizer off: `x & 0` keeps its load, which aborts',
  },
  {
    expr: 'ip6 protochain 50 or not udp && (not icmp[0] & icmp-echoreply != 0)', fileDlt: 1, dlt: 1, wirelen: 58,
    hex: '02cafe00000202cafe00000208004c00002c12344000010116e0e00080fbc0a801ffdff8ce8d5ed4d7c6a0342504540100001f7fa9772d87bcbf',
    why: 'whole packet, IPv4 header longer than the packet: icmp[0] aborts, not folded away without the optimizer',
  },
  {
    expr: '(icmp[0] & icmp-echoreply != 0) or not protochain 132', fileDlt: 101, dlt: 12, wirelen: 56,
    hex: '46000038123440000101',
    why: 'raw IPv4 cut at 10 bytes, protochain rule: unoptimized program',
  },
  {
    expr: 'not ip protochain 17 and net 0.0.0.0/0', fileDlt: 101, dlt: 12, wirelen: 40,
    hex: '450000281234000040060000',
    why: 'a /0 network still loads the address when libpcap does not optimize',
  },
  {
    expr: 'rarp[(tcp[45:2] << 4) ^ ip[6:1] :1] < carp[53:2] << len << 8 or not pppoes or not (protochain 112)', fileDlt: 1, dlt: 1, wirelen: 42,
    hex: 'ffffffffffffa45e601122330800450000',
    why: 'rarp[...] tests its index\'s protocols (tcp: reads ip[9], past caplen) before rarp itself',
  },
  {
    expr: '-icmp6[carp[15:2] ^ icmp[icmptype] << 1:2] != tcp-push - ip6[33] or not ip protochain 132', fileDlt: 1, dlt: 1, wirelen: 70,
    hex: '0180c20000000180c200000086dd600000000010',
    why: 'icmp6[...] tests its index\'s protocols (carp: IPv4, fails here) before IPv6 and the next header',
  },
  {
    expr: 'ip[1] & 0xffffffff != 0', fileDlt: 101, dlt: 12, wirelen: 12,
    hex: '450000281234000040060000',
    why: 'whole packet, ip[1] = 0: the optimizer makes `and #0xffffffff; jeq #0` a jset it takes as always true',
  },
  {
    expr: '(ip[1] & 0xffffffff) - 0 = 0 or ip[9] = 17', fileDlt: 101, dlt: 12, wirelen: 12,
    hex: '450000281234000040060000',
    why: 'the same after `- 0` disappears: always false',
  },
  {
    expr: 'ip[3] = 7 or ip[1] & 0xffffffff != 0', fileDlt: 101, dlt: 12, wirelen: 40,
    hex: '45',
    why: 'the always-true jset keeps its load here (libpcap rejects: ip[1] not captured)',
  },
  {
    expr: 'less 60 || not (ip6[14] & 0xf0) == 0x86dd or less 100', fileDlt: 101, dlt: 12, wirelen: 64,
    hex: '60000000',
    why: 'and_pullup moves the second length test before the IPv6 load',
  },
  {
    expr: 'dst net 192.168.0.0/16 || not ether proto 0x88cc', fileDlt: 113, dlt: 113, wirelen: 44,
    hex: '00010001000602cafe00800100000806040108000604000202cafe0000010a000001a45e60113233',
    why: 'the address tests cannot change the verdict: the optimizer drops them with their loads',
  },
  {
    expr: 'dst net 192.168.0.0/16 || not ether proto 0x88cc and arp host 10.0.0.1', fileDlt: 113, dlt: 113, wirelen: 44,
    hex: '00010001000602cafe00800100000806040108000604000202cafe0000010a000001a45e60113233',
    why: 'the same, although a later test of the same address could tell the branches apart on one path',
  },
  {
    expr: 'ip and port 6697 or udp port 53', fileDlt: 113, dlt: 113, wirelen: 39, hex: SLL_UDP_SPORT_ONLY, optimizerDecides: true,
    why: 'or_pullup: the optimizer tests sport == 53 right after sport != 6697, before loading dport (cut)',
  },
  {
    expr: 'ip and port 80 or udp port 53', fileDlt: 113, dlt: 113, wirelen: 39, hex: SLL_UDP_SPORT_ONLY, optimizerDecides: true,
    why: 'the same pull-up of the second source-port test over the first destination-port load',
  },
  {
    expr: 'ip and port 5353 or src port 53', fileDlt: 113, dlt: 113, wirelen: 39, hex: SLL_UDP_SPORT_ONLY, optimizerDecides: true,
    why: 'the same with `src port`',
  },
  {
    expr: 'ip and (port 80 or port 443)', fileDlt: 1, dlt: 1, wirelen: 36, optimizerDecides: true,
    hex: '02cafe00000202cafe0000020800450000491234000040110000c0a80101c0a8010201bb',
    why: 'whole Ethernet IPv4/UDP frame cut after the source port 443: sport == 443 is pulled above the dport load',
  },
  {
    expr: 'not ether[0] = 0 && !(ip6[0] > ip6[1])', fileDlt: 101, dlt: 12, wirelen: 1, hex: 'e6', optimizerDecides: true,
    why: 'raw IP: ether[0] and ip6[0] are one value; and_pullup moves `ip6[0] > ip6[1]` (loading byte 1) above the version test',
  },
];

test('short and truncated packets: the engine gives libpcap\'s unoptimised verdict', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bpfcountd-trunc-'));
  try {
    const problems: string[] = [];
    let compared = 0;
    CASES.forEach((c, n) => {
      const data = Buffer.from(c.hex, 'hex');
      const path = join(dir, `case${n}.pcap`);
      writePcapFile(path, [{ data, wirelen: c.wirelen }], { linkType: c.fileDlt });
      const [want] = oracleMatch(path, [c.expr]);
      const [opt] = oracleMatchOptimized(path, [c.expr]);
      assert.ok(want.ok, `libpcap refuses ${c.expr}`);
      const packet: CapturedPacket = { data, caplen: data.length, wirelen: c.wirelen, tsSec: 0, tsFrac: 0 };
      const run = runEngine([c.expr], c.dlt, [packet]);
      const plan = run.plans[0];
      if (plan.engine !== 'javascript') { problems.push(`${c.expr}: planned ${plan.engine}`); return; }
      compared++;
      if (c.optimizerDecides && opt.ok && opt.value === want.value) problems.push(`${c.expr}: libpcap's optimized and unoptimized programs agree here (${want.value}); the case no longer shows the optimizer's effect`);
      if (run.bits[0] !== want.value) {
        problems.push(`${c.expr} on DLT ${c.dlt} ${c.hex} (wirelen ${c.wirelen}): engine ${run.bits[0]}, libpcap ${want.value} (optimised: ${opt.ok ? opt.value : opt.error}; ${c.why})`);
      }
    });
    assert.deepEqual(problems, []);
    assert.equal(compared, CASES.length);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** An Ethernet IPv4/TCP frame (whole). */
const TCP_FRAME = '02cafe00000202cafe00000208004500002c123440000106e0e0c0a80001c0a80002003500350018000000000000';

test('byte & / | test the accumulator: JavaScript only where its value is known', () => {
  // libpcap 1.10.3 emits no load for `byte N & V` / `byte N | V`: the test reads what the code
  // before it left in A (0 at the start of the program).
  const exprs = ['ip and byte 0 & 0x800', 'tcp and byte 5 & 6', 'ip and byte 0 | 0', 'byte 0 & 1 or ip', 'byte 0 | 0 or ip', 'not byte 3 & 2 and tcp'];
  const dir = mkdtempSync(join(tmpdir(), 'bpfcountd-byteop-'));
  try {
    const data = Buffer.from(TCP_FRAME, 'hex');
    const path = join(dir, 'tcp.pcap');
    writePcapFile(path, [{ data }], { linkType: 1 });
    const answers = oracleMatch(path, exprs);
    const run = runEngine(exprs, 1, [{ data, caplen: data.length, wirelen: data.length, tsSec: 0, tsFrac: 0 }]);
    let js = 0;
    exprs.forEach((e, i) => {
      const a = answers[i];
      assert.ok(a.ok, `libpcap refuses ${e}`);
      if (run.plans[i].engine !== 'javascript') return;
      js++;
      assert.equal(run.bits[i], a.value, `${e}: engine vs libpcap on a whole TCP frame`);
    });
    assert.ok(js >= 3, 'byte & / | at the start of a rule should stay in JavaScript');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** An Ethernet ARP request between 192.168.1.1 and 192.168.1.2, to a unicast address (whole). */
const ARP_FRAME = '02cafe00000102cafe0000020806000108000604000102cafe000002c0a80101000000000000c0a80102';
/** An Ethernet IPv4/TCP frame to a unicast address (whole). */
const TCP_UNICAST = '02cafe00000102cafe000002080045000028123400004006000002cafe0001c0a80102003500350000000000000000000000000000';
/** An Ethernet IPv4/UDP frame (67 -> 67) whose second payload byte is 0 (whole). */
const UDP_FRAME = '02cafe00000102cafe0000020800' + '4500002412340000ff11e6ffc0a80101ffffffff004300430010000000000000000000000000';
/** Raw IPv6/UDP from 2001:db8::1 to ff02::1 (whole). */
const RAW_UDP6 = '600000000008114020010db8000000000000000000000001ff0200000000000000000000000000010035003500080000';
/** A DNS query over IPv4/UDP, padded with zeros to 300 bytes (whole): ip[len - 40] is a 0 there. */
const DNS_FRAME_300 = ('ffffffffffffa45e6011223308004500003912340000ff11207e7f0000010a0000010035040000250000484801000001000000000000076578616d706c65036f72670000010001').padEnd(600, '0');
/** IPv6/ICMPv6 whose bytes at ARP's target-address offset are 0: a division by arp[15:4] there divides by 0. */
const ICMP6_FRAME = '02cafe00000102cafe00000186dd6000000000183a01ff020000000000000000000000000001ff0200000000000000000001ff0000018f000000be599a4011e0d4d55a2d1002d2b9fd2f7c42e8';

test('rules libpcap 1.10.3\'s optimiser miscompiles (pull-ups, a lost ldxb, a dropped division): JavaScript with the unoptimised verdict', () => {
  // libpcap's own optimizer gives these whole packets verdicts its unoptimized program does not
  // (and_pullup/or_pullup with stale dominators; an `ldxb`/`tax` deleted with a folded
  // `udp[13] & 0` that a later accessor shared; a dropped division by a packet value).
  const cases: { expr: string; hex: string; raw?: boolean }[] = [
    { expr: 'net 10.0.0.0/8 or ip6 or ether multicast or arp', hex: ARP_FRAME },
    { expr: 'not host 10.0.0.1 and not ip and not ether multicast and not arp', hex: ARP_FRAME },
    { expr: 'udp or ip6 or len > 100 or ip', hex: TCP_UNICAST },
    { expr: 'udp or ip6 or ether[0] = 1 or ip', hex: TCP_UNICAST },
    { expr: '(ip[2:2] > 100 or ether multicast) and ether multicast and ip[2:2] > 100', hex: TCP_UNICAST },
    { expr: 'ip[9] = 17 or ether[0] = 1 and (ether[0] = 1 or ether[0] = 1) and ether[0] = 1 and not not ip[9] = 17', hex: TCP_UNICAST },
    { expr: 'dst host 224.0.0.251 or udp and src and dst net 2001:db8::/32', hex: RAW_UDP6, raw: true },
    { expr: 'udp and src and dst net 2001:db8::/32', hex: RAW_UDP6, raw: true },
    { expr: 'udp[13] & 0 != 0 or udp[9] <= 1', hex: UDP_FRAME },
    { expr: 'udp[13] & 0 != 0 or port 67', hex: UDP_FRAME },
    { expr: 'ip[len - 40] & 0 != 0 and not icmp[0] & 0 != 0 or not ip[len - 40] > 10', hex: DNS_FRAME_300 },
    { expr: 'ip6 proto 1 or len / arp[15:4] != icmp6[21:2] && icmp6[icmptype] & icmp6-routeradvert != 0 || icmp6', hex: ICMP6_FRAME },
    // Shapes the optimiser compiles right, for comparison.
    { expr: 'net 10.0.0.0/8 or ether multicast or arp', hex: ARP_FRAME },
    { expr: 'ip and tcp and not ether multicast and len > 40', hex: TCP_UNICAST },
    { expr: 'port 80 or port 443 or port 22 or port 53', hex: TCP_UNICAST },
    { expr: 'udp and (port 53 or port 123 or port 67 or port 68)', hex: UDP_FRAME },
  ];
  const dir = mkdtempSync(join(tmpdir(), 'bpfcountd-miscompile-'));
  try {
    const problems: string[] = [];
    let miscompiled = 0;
    cases.forEach((c, n) => {
      const data = Buffer.from(c.hex, 'hex');
      const path = join(dir, `case${n}.pcap`);
      writePcapFile(path, [{ data }], { linkType: c.raw ? 101 : 1 });
      const [want] = oracleMatch(path, [c.expr]);
      const [opt] = oracleMatchOptimized(path, [c.expr]);
      assert.ok(want.ok, `libpcap refuses ${c.expr}`);
      if (!opt.ok || opt.value !== want.value) miscompiled++;
      const run = runEngine([c.expr], c.raw ? 12 : 1, [{ data, caplen: data.length, wirelen: data.length, tsSec: 0, tsFrac: 0 }]);
      if (run.plans[0].engine !== 'javascript') { problems.push(`${c.expr}: not evaluated in JavaScript`); return; }
      if (run.bits[0] !== want.value) problems.push(`${c.expr}: engine ${run.bits[0]}, libpcap ${want.value} (optimised: ${opt.ok ? opt.value : opt.error})`);
    });
    assert.deepEqual(problems, []);
    // Information about libpcap, and proof the table still holds the shapes it is about.
    assert.ok(miscompiled >= 9, `expected libpcap's optimizer to change most verdicts here, it changed ${miscompiled}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
