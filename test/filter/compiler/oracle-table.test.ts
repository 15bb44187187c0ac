/**
 * Expressions x captures: our per-packet verdicts against libpcap's (the oracle), on the shared
 * captures and on packets cut short at every length (where a load past the captured length
 * must abort the whole rule, wherever it sits).
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { planRule } from '../../../src/filter';
import { compare, CORPUS, oracleMatch, PCAPS, readCapture, writePcap, type Capture, type Compared } from './harness';

/** Each of these must be evaluated in JavaScript on Ethernet. */
const EXPRS = [
  'ip', 'ip6', 'arp', 'rarp', 'tcp', 'udp', 'icmp', 'icmp6', 'igmp', 'vrrp', 'ah', 'esp', 'sctp', 'pim',
  'host 192.168.1.1', 'ether broadcast', 'ether multicast', 'multicast and not broadcast', 'ip multicast',
  'ip6 multicast', 'port 53', 'src port 68', 'udp and src port 68', 'tcp port 80 or tcp port 443', 'not port 53',
  'not tcp', 'icmp6 and ip6[40] == 133', 'udp and port 53 and ((udp[11]&0x80) != 0x80 or (ip6[51]&0x80) != 0x80)',
  'ip[0] & 0xf > 5', 'tcp[13] & 2 != 0', 'tcp[tcpflags] & tcp-syn != 0', 'ip[6:2] & 0x1fff != 0', 'len > 100',
  'less 100', 'greater 500', 'ether[2000] = 0 or ip', 'ip or ether[2000] = 0', 'not ether[2000] = 0',
  'ip proto 17', 'ip6 proto 17', 'proto 17', 'net 10.0.0.0/8', 'src net 192.168.0.0/16 and dst port 53',
  'ether proto 0x88cc', 'portrange 1-1000', 'udp portrange 60-70', 'icmp[0] = 8', 'icmp6[0] = 135',
  'ip[2:2] > 576', 'udp[0:2] = 53 or udp[2:2] = 53', 'tcp[0:4] > 0', 'ip[2:2] - 20 > 100', 'ip[2:2] * 2 > 1000',
  'ip[2:2] / 3 > 100', 'ip[2:2] % 7 = 3', 'ip[0] ^ 0x45 = 0', 'ip[0] << 2 > 100', 'ip[0] >> 2 = 17', '-ip[0] > 5',
  'host 1.1.1.1 or 2.2.2.2', 'tcp[12] >> 4 > 5 and tcp[tcp[12] >> 4] = 0', 'ip6 host fe80::1 or ip6 net ff02::/16',
  'ether host ff:ff:ff:ff:ff:ff', 'not ether src 00:00:00:00:00:00 and arp[6:2] = 1', 'ip[ip[0] & 0xf] > 3',
  'udp[8:4] = 0 and not ip6', 'len - 60 > ip[2:2]', 'src host 10.0.0.1 or dst net 224.0.0.0/4 or 3.3.3.3',
  'tcp port http or udp port domain', 'ip proto \\udp', '', 'icmp[icmptype] = icmp-echo', 'arp[7] = 2 or rarp',
  'ip6 protochain 58', 'ip6 protochain 17', 'ip6 protochain 89', 'ip protochain 4', 'protochain 17', 'not ip6 protochain 58',
  'ether[0] << ether[1] = 0', 'ether[0] >> ether[1] != 0', 'ip[2:2] / ether[1] > 10', 'ip[2:2] % ether[5] = 1', 'ip[2:2] / len = 0',
  'ip[0] - 5 * 2 + 3 = 68', 'llc', 'llc i', 'llc s', 'llc u', 'llc rr', 'llc ui', 'llc xid', 'stp', 'ipx', 'netbeui', 'iso',
  'clnp', 'esis', 'isis', 'l1', 'l2', 'iih', 'lsp', 'snp', 'csnp', 'psnp', 'isis proto 0x12', 'decnet', 'atalk', 'aarp', 'ether proto 100', 'ether proto 6', 'ether proto \\iso', 'not stp and not ip',
  'len = 48 % 5 * 2', 'len = 2 * 3 % 4', 'len = 1 + 2 ^ 3', 'len = -2 % 3 + 1', '0 & carp[7] = 0', 'ip[0] + udp[0] > 0',
  'udp[0] + ip[0] > 0', 'not icmp6[13] & 0 != 0', '0 / ip[2] = 0', 'ip6 net 2001:db8::/32', 'ip6 net ::/1', 'net 0.0.0.0/0', 'ip or (3 = len)',
  'mpls and dst host 127', 'atalk[2] = 1', 'decnet[0] = 1', 'sca[1:2] > 1', 'vlan and decnet[0] = 0', 'host 10.1', 'host 167772161', 'net 10', 'dst 10', 'net 192.168 mask 255.255.255.0', 'src net 172.16/12', 'arp host 10.1',
  'portrange domain-smtp', 'udp portrange 20-smtp', 'portrange bootps-bootpc', 'portrange http-1000', 'tcp portrange 1000-10',
  'byte 2 = 3', 'byte 0 > 3', 'byte 0 < 3', 'byte 12 | 1', 'pppoed',
];

/** libpcap refuses these, optimiser off; so must we (a divisor's code starting with the constant 0...). */
const REFUSED = [
  'ip[2:2] / ip[0] > 10', 'ether[2] << ether[40] = 1', 'ether[2] % ip[0] = 0', 'ether[2] / (0 * ether[1]) = 1',
  'ether[2] / (ether[0] & 0) = 1', 'ether[2] / tcp[0] = 1', 'ip broadcast', 'vlan 4096',
  'tcp and 80', 'port 70000', 'ip and', 'mpls and arp', 'net 10.0.0.1/8', 
  'len != 000000000001', 'iso[0] = 1', 'esp[0] = 0', 'src host 00:11:22:33:44:55', 'host fe80::/10',
];

function cutShort(cap: Capture, maxLen: number): Capture {
  const packets = [];
  for (const p of cap.packets.slice(0, 12)) {
    for (let n = 0; n <= Math.min(maxLen, p.caplen); n += 1) packets.push({ data: p.data.subarray(0, n), caplen: n, wirelen: p.wirelen });
  }
  return { linkType: cap.linkType, packets };
}

test('the table is evaluated in JavaScript on Ethernet', () => {
  const refused = EXPRS.filter((e) => planRule({ slot: 0, expr: e }, 1).plan.engine !== 'javascript');
  assert.deepEqual(refused, []);
});

test('refused where libpcap refuses', () => {
  const theirs = oracleMatch(path.join(PCAPS, 'icmpv6.pcap'), REFUSED);
  assert.deepEqual(theirs.filter((r) => !r.startsWith('ERR')), [], 'libpcap must refuse the whole list');
  const accepted = REFUSED.filter((e) => planRule({ slot: 0, expr: e }, 1).plan.engine !== 'error');
  assert.deepEqual(accepted, []);
});

test('every shared capture: same packets match as with libpcap', () => {
  const extra = path.join(CORPUS, 'libpcap-filter-captures');
  const files = [...readdirSync(PCAPS).filter((f) => /\.pcap(ng)?$/.test(f)).map((f) => path.join(PCAPS, f)),
    ...['AH-IPcomp-IPv6.pcap', 'ipv6_ext_headers.pcap', 'ah-ipip-ping.pcap', 'pppoe.pcap', 'loopback.pcap', 'llc.pcap',
      'ISIS_p2p_adjacency.pcap', 'decnet.pcap', 'pim-packet-assortment.pcap'].map((f) => path.join(extra, f))];
  assert.ok(files.length >= 30);
  const bad = files.flatMap((f) => compare(f, readCapture(f), EXPRS));
  assert.deepEqual(bad, []);
});

test('packets cut short at every length: loads past caplen abort like BPF', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'filter-cut-'));
  const bad: string[] = [];
  for (const name of ['dns_tcp.pcap', 'icmpv6.pcap', 'afs.pcap', 'bgp-4byte-asn.pcap', 'LINKTYPE_RAW_ipv6.pcap', 'babel.pcap']) {
    const cap = cutShort(readCapture(path.join(PCAPS, name)), 90);
    const file = path.join(dir, name.replace(/\.pcap$/, '-cut.pcap'));
    writePcap(file, cap);
    bad.push(...compare(file, cap, EXPRS));
  }
  rmSync(dir, { recursive: true, force: true });
  assert.deepEqual(bad, []);
});

/** Ethernet packets re-encapsulated: VLAN, QinQ, MPLS (1 and 2 labels), PPPoE session. */
function encapsulated(cap: Capture): Capture {
  const out: Capture = { linkType: 1, packets: [] };
  const wrap = (p: Uint8Array, insert: number[], newType: number[]): Uint8Array => {
    const d = new Uint8Array(p.length + insert.length);
    d.set(p.subarray(0, 12), 0);
    d.set(newType, 12);
    d.set(insert, 14);
    d.set(p.subarray(14), 14 + insert.length);
    return d;
  };
  for (const p of cap.packets.slice(0, 20)) {
    const et = [p.data[12], p.data[13]];
    const isV6 = et[0] === 0x86 && et[1] === 0xdd;
    const variants = [
      wrap(p.data, [0x00, 0x0a, ...et], [0x81, 0x00]),
      wrap(p.data, [0x00, 0x05, 0x81, 0x00, 0x00, 0x0a, ...et], [0x88, 0xa8]),
      wrap(p.data, [0x00, 0x06, 0x41, 0x40], [0x88, 0x47]),
      wrap(p.data, [0x00, 0x06, 0x40, 0x40, 0x00, 0x00, 0x51, 0x40], [0x88, 0x47]),
      wrap(p.data, [0x11, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, isV6 ? 0x57 : 0x21], [0x88, 0x64]),
    ];
    for (const d of variants) out.packets.push({ data: d, caplen: d.length, wirelen: d.length });
  }
  return out;
}

const SHIFTED = [
  'vlan', 'vlan 10', 'vlan 5', 'vlan and ip', 'ip or vlan and ip', 'vlan and ip or ip', 'ip or vlan', 'vlan or ip',
  'not vlan and ip', 'vlan and vlan and ip', 'vlan and vlan 10 and tcp port 53', 'vlan and icmp6 and ip6[40] = 135',
  'vlan 1 or vlan 5 and ip', 'mpls', 'mpls 100', 'mpls and ip', 'mpls 100 and ip6', 'mpls and mpls and ip',
  'mpls and mpls 5 and udp', 'mpls and tcp[13] & 2 != 0', 'pppoes', 'pppoes 3 and ip', 'pppoes and ip6', 'pppoes and tcp port 53',
  'pppoes 4 or ip', 'not pppoes and ip', 'pppoes and ether[20:2] == 0xc021', 'pppoes and ether[0] = 0x11', 'pppoes and byte 7 = 0x21',
  'pppoes and link proto 0x21', 'pppoes and ether proto 0x57', 'vlan and ether host ff:ff:ff:ff:ff:ff', 'mpls and len > 100',
];

/**
 * Tautologies whose loads can still reject: libpcap's optimiser drops such tests with their loads,
 * its unoptimised program (the meaning counted) does not. Each row must decide packets both ways.
 */
const TAUTOLOGIES = [
  'ip or not ip', 'ether[2000]=0 or not ether[2000]=0', 'tcp[100]=1 or not tcp[100]=1', '(tcp and port 53) or (tcp and not port 53)',
  'tcp and (port 53 or not port 53)', 'ip[60]=1 or not ip[60]=1 and tcp', 'tcp[100]=1 or tcp and not tcp[100]=1', 'vlan and ip or ip',
  'ip and (ip[60] = 1 or ip[60] != 1)', 'udp[2:2] = 53 or not udp[2:2] = 53', 'ip6 and (ip6[100] = 1 or ip6[100] != 1) or arp',
];

/** Whole packets, the same padded with zeros to 2100 bytes (loads far out succeed), and cut at every length up to 110. */
function wholeAndCut(cap: Capture): Capture {
  const cut = cutShort(cap, 110);
  const long = cap.packets.slice(0, 12).map((p) => {
    const d = new Uint8Array(2100);
    d.set(p.data.subarray(0, p.caplen));
    return { data: d, caplen: d.length, wirelen: d.length };
  });
  return { linkType: cap.linkType, packets: [...cap.packets, ...long, ...cut.packets] };
}

test('tautologies whose loads can reject: the unoptimised verdict on every packet', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'filter-taut-'));
  const bad: string[] = [];
  const tally = new Map<string, Compared>();
  for (const name of ['dns_tcp.pcap', 'icmpv6.pcap', 'eapon1.pcap']) {
    const cap = wholeAndCut(readCapture(path.join(PCAPS, name)));
    const file = path.join(dir, name.replace(/\.pcap$/, '-taut.pcap'));
    writePcap(file, cap);
    bad.push(...compare(file, cap, TAUTOLOGIES, tally));
  }
  rmSync(dir, { recursive: true, force: true });
  assert.deepEqual(bad, []);
  for (const e of TAUTOLOGIES) {
    const t = tally.get(e);
    assert.ok(t && t.decisions >= 1000, `${e}: only ${t?.decisions ?? 0} decisions compared`);
    assert.ok(t.matches > 0 && t.matches < t.decisions, `${e}: libpcap's verdicts are all ${t.matches ? 'matches' : 'non-matches'} (${t.decisions} packets)`);
  }
});

test('vlan/mpls/pppoes shift the offsets of what follows them in the text', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'filter-encap-'));
  const unplanned = SHIFTED.filter((e) => {
    const plan = planRule({ slot: 0, expr: e }, 1).plan;
    return plan.engine !== 'javascript' || !plan.shiftsOffsets;
  });
  assert.deepEqual(unplanned, []);
  const bad: string[] = [];
  for (const name of ['dns_tcp.pcap', 'icmpv6.pcap', 'dcb_ets.pcap']) {
    const cap = encapsulated(readCapture(path.join(PCAPS, name)));
    const file = path.join(dir, name.replace(/\.pcap$/, '-encap.pcap'));
    writePcap(file, cap);
    bad.push(...compare(file, cap, SHIFTED));
    const cut = cutShort(cap, 80);
    const cutFile = file.replace(/\.pcap$/, '-cut.pcap');
    writePcap(cutFile, cut);
    bad.push(...compare(cutFile, cut, SHIFTED));
  }
  rmSync(dir, { recursive: true, force: true });
  assert.deepEqual(bad, []);
});
