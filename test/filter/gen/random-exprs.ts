/**
 * Random filter expressions from a grammar of primitives, qualifiers,
 * accessors and arithmetic. Values come from the same pools as the random
 * packets. Some generated expressions are invalid for libpcap; callers ask
 * the oracle's compile mode and drop those.
 */
import type { Prng } from './prng';
import { MACS, IPV4S, IPV6S, PORTS } from './random-packets';

const DIRS = ['src', 'dst', 'src or dst', 'src and dst'];
const PROTO_NAMES = ['ip', 'ip6', 'arp', 'rarp', 'tcp', 'udp', 'icmp', 'icmp6', 'igmp', 'sctp', 'ah', 'esp', 'vrrp', 'pim', 'atalk', 'aarp', 'decnet', 'lat', 'sca', 'moprc', 'mopdl', 'stp', 'ipx', 'netbeui', 'iso', 'llc', 'carp', 'igrp'];
const PROTO_NUMBERS = [1, 2, 4, 6, 17, 41, 47, 50, 51, 58, 89, 103, 112, 132, 255];
const ACCESSOR_PROTOS = ['ether', 'link', 'ip', 'ip6', 'tcp', 'udp', 'icmp', 'icmp6', 'arp', 'rarp', 'igmp', 'sctp', 'vrrp', 'pim', 'igrp', 'carp'];
const ETHER_TYPES = ['ip', 'ip6', 'arp', 'rarp', '0x88cc', '0x888e', '0x8100', '34525', 'atalk', 'decnet', 'ipx', 'netbeui', 'iso', 'stp', 'sca', 'lat', 'mopdl', 'moprc', 'aarp', 'loopback'];
const NAMED_CONSTS = ['tcp-fin', 'tcp-syn', 'tcp-rst', 'tcp-push', 'tcp-ack', 'tcp-urg', 'icmp-echo', 'icmp-echoreply', 'icmp-unreach', 'icmp-timxceed', 'icmp6-echo', 'icmp6-neighborsolicit', 'icmp6-routeradvert'];
const NAMED_OFFSETS: readonly [string, string][] = [['tcp', 'tcpflags'], ['icmp', 'icmptype'], ['icmp', 'icmpcode'], ['icmp6', 'icmp6type'], ['icmp6', 'icmp6code']];
const ARITH_OPS = ['+', '-', '*', '/', '%', '&', '|', '^', '<<', '>>'];
const RELOPS = ['=', '==', '!=', '<', '<=', '>', '>='];

function num(r: Prng, max: number): string {
  const v = r.chance(0.7) ? r.int(Math.min(max, 64) + 1) : r.int(max + 1);
  const k = r.int(10);
  if (k === 0) return `0x${v.toString(16)}`;
  if (k === 1 && v > 0) return `0${v.toString(8)}`;
  return String(v);
}

function accessor(r: Prng, depth: number): string {
  const named = r.chance(0.15);
  if (named) {
    const [proto, field] = r.pick(NAMED_OFFSETS);
    return `${proto}[${field}]`;
  }
  const proto = r.pick(ACCESSOR_PROTOS);
  const idx = depth < 2 && r.chance(0.15) ? arith(r, depth + 1) : r.chance(0.03) ? String(r.range(100, 3000)) : num(r, 60);
  const size = r.chance(0.02) ? ':3' : r.pick(['', '', ':1', ':2', ':4', ':2']);
  return `${proto}[${idx}${size}]`;
}

function operand(r: Prng, depth: number): string {
  const k = r.int(10);
  if (k < 5) return accessor(r, depth);
  if (k < 6) return 'len';
  if (k < 7) return r.pick(NAMED_CONSTS);
  if (k < 8 && depth < 3) return `(${arith(r, depth + 1)})`;
  if (k < 9 && depth < 3) return `-${operand(r, depth + 1)}`;
  return num(r, r.chance(0.8) ? 255 : 0xffffffff);
}

function arith(r: Prng, depth: number): string {
  let out = operand(r, depth);
  const n = depth < 3 ? r.pick([0, 0, 1, 1, 2]) : 0;
  for (let i = 0; i < n; i++) {
    const op = r.pick(ARITH_OPS);
    const rhs = op === '<<' || op === '>>' ? (r.chance(0.05) ? r.pick(['32', '33']) : r.pick(['0', '1', '4', '8', '31', operand(r, depth + 1)])) : operand(r, depth + 1);
    out += ` ${op} ${rhs}`;
  }
  return out;
}

function relation(r: Prng): string {
  return `${arith(r, 0)} ${r.pick(RELOPS)} ${arith(r, 1)}`;
}

function ipv4Net(r: Prng): string {
  const addr = r.pick(IPV4S).split('.');
  const k = r.int(4);
  if (k === 0) return `net ${addr.slice(0, 3).join('.')}`;
  if (k === 1) return `net ${addr.slice(0, 2).join('.')}.0.0/16`;
  if (k === 2) return `net ${addr[0]}.0.0.0 mask 255.0.0.0`;
  return `net ${addr.slice(0, 3).join('.')}.0/${r.pick([8, 16, 24, 28, 32])}`;
}

/** Primitives that only make sense on Ethernet; other link types get them rarely (to exercise refusals). */
const ETHERNET_ONLY = new Set([2, 3, 4, 12, 13, 14, 21, 24]);

/** @param kinds how many of the cases below to draw from (25: no arithmetic relations). */
function primitive(r: Prng, ethernet: boolean, kinds = 30): string {
  let k = r.int(kinds);
  while (!ethernet && ETHERNET_ONLY.has(k) && r.chance(0.9)) k = r.int(kinds);
  const dir = r.chance(0.4) ? `${r.pick(DIRS)} ` : '';
  switch (k) {
    case 0: return `${dir}host ${r.pick(IPV4S)}`;
    case 1: return `${r.pick(['', 'ip ', 'ip6 '])}${dir}host ${r.pick(IPV6S)}`.replace(/^ip /, 'ip6 ');
    case 2: return `ether ${dir}host ${r.pick(MACS)}`;
    case 3: return `ether ${r.pick(['src', 'dst', 'host'])} ${r.pick(MACS)}`;
    case 4: return `ether ${r.pick(['broadcast', 'multicast'])}`;
    case 5: return `${r.pick(['ip', 'ip6'])} ${r.pick(['multicast', 'broadcast'])}`;
    case 6: return r.pick(PROTO_NAMES);
    case 7: return `${r.pick(['', 'tcp ', 'udp ', 'sctp '])}${dir}port ${r.chance(0.2) ? r.pick(['domain', 'http', 'ssh', 'bootps', 'bootpc', 'ntp']) : r.pick(PORTS)}`;
    case 8: { const a = r.pick(PORTS); const b = r.pick(PORTS); return `${r.pick(['', 'tcp ', 'udp '])}${dir}portrange ${Math.min(a, b)}-${Math.max(a, b)}`; }
    case 9: return `${r.pick(['ip proto', 'ip6 proto', 'proto'])} ${r.chance(0.3) ? r.pick(['tcp', 'udp', 'icmp', '\\tcp', '\\udp']) : r.pick(PROTO_NUMBERS)}`;
    case 10: return `${r.pick(['ip protochain', 'ip6 protochain', 'protochain'])} ${r.pick(PROTO_NUMBERS)}`;
    case 11: return `ether proto ${r.pick(ETHER_TYPES).replace(/^([a-z])/, '\\$1')}`;
    case 12: return r.chance(0.5) ? 'vlan' : `vlan ${r.pick([1, 5, 100, 4095])}`;
    case 13: return r.chance(0.5) ? 'mpls' : `mpls ${r.int(1 << 20)}`;
    case 14: return r.chance(0.5) ? 'pppoes' : `pppoes ${r.int(65536)}`;
    case 15: return `${r.pick(['less', 'greater'])} ${r.pick([0, 60, 64, 100, 576, 1500, r.int(2000)])}`;
    case 16: return `${dir}${ipv4Net(r)}`;
    case 17: return `${dir}net ${r.pick(['fe80::/10', '2001:db8::/32', 'ff02::/16', '2001:db8:1::/48'])}`;
    case 18: return `${r.pick(['arp', 'rarp'])} ${dir}host ${r.pick(IPV4S)}`;
    case 19: return `ip ${dir}host ${r.pick(IPV4S)}`;
    case 20: return `${r.pick(['tcp', 'icmp', 'icmp6', 'udp'])}[${r.pick(['tcpflags', 'icmptype', '0', '13'])}] & ${r.pick(NAMED_CONSTS)} != 0`;
    case 21: return `llc${r.pick(['', ' i', ' s', ' u', ' rr', ' rnr', ' rej', ' ui', ' ua', ' disc', ' sabme', ' test', ' xid', ' frmr'])}`;
    case 22: return r.pick(['ip', 'ip6', 'arp', 'tcp', 'udp', 'icmp6']);
    case 23: return `${dir}${r.pick(['host', 'net'])} ${r.pick(['10.0.0', '192.168', '10', '127'])}`;
    case 24: return `geneve${r.chance(0.5) ? ` ${r.int(100)}` : ''}`;
    case 25: return r.chance(0.3) ? r.pick(['inbound', 'outbound', 'ifindex 1', 'gateway 10.0.0.1', 'ether host 10.0.0.1', 'host foo.invalid']) : relation(r);
    default: return relation(r);
  }
}

/** One random expression; `size` bounds the number of primitives. */
export function randomExpression(r: Prng, size = 4, ethernet = true): string {
  const n = r.range(1, size);
  let out = r.chance(0.15) ? `not ${primitive(r, ethernet)}` : primitive(r, ethernet);
  for (let i = 1; i < n; i++) {
    const conj = r.pick(['and', 'or', '&&', '||', 'and not', 'or not']);
    const rhs = r.chance(0.25) ? `(${randomExpression(r, 2, ethernet)})` : primitive(r, ethernet);
    out += ` ${conj} ${rhs}`;
    if (r.chance(0.15)) out = r.chance(0.5) ? `(${out})` : `!(${out})`;
  }
  return out;
}

/** A relation users actually write: one accessor, optionally masked, against a constant. */
function simpleRelation(r: Prng, ethernet: boolean): string {
  const protos = ethernet ? ['ether', 'ip', 'ip6', 'tcp', 'udp', 'icmp', 'icmp6', 'arp', 'vlan'] : ['ip', 'ip6', 'tcp', 'udp', 'icmp', 'icmp6', 'link'];
  let proto = r.pick(protos);
  if (proto === 'vlan') proto = 'ether'; // placeholder for a tagged frame's bytes
  const size = r.pick(['', ':1', ':2', ':4']);
  const idx = r.pick([0, 1, 2, 6, 9, 11, 12, 13, 14, 20, 40, 42, 51, r.int(64)]);
  const acc = r.chance(0.1) ? r.pick(['tcp[tcpflags]', 'icmp[icmptype]', 'icmp6[icmp6type]', 'icmp[icmpcode]']) : `${proto}[${idx}${size}]`;
  const masked = r.chance(0.4) ? `${acc} & 0x${r.pick([1, 2, 0x0f, 0x10, 0x80, 0xf0, 0xff, 0x1fff, 0xffff]).toString(16)}` : acc;
  const lhs = r.chance(0.3) ? `(${masked})` : masked;
  return `${lhs} ${r.pick(RELOPS)} ${r.pick(['0', '1', '2', '6', '17', '58', '0x80', '133', '135', '0x86dd', '255', String(r.int(256))])}`;
}

/** Expressions shaped like real bpfcountd rules: primitives and one-accessor relations under and/or/not. */
export function randomRuleLike(r: Prng, ethernet = true): string {
  const term = (): string => {
    const t = r.chance(0.4) ? simpleRelation(r, ethernet) : primitive(r, ethernet, 25);
    return r.chance(0.2) ? `not ${t}` : t;
  };
  let out = term();
  const n = r.range(0, 3);
  for (let i = 0; i < n; i++) {
    const rhs = r.chance(0.2) ? `(${term()} ${r.pick(['and', 'or'])} ${term()})` : term();
    out += ` ${r.pick(['and', 'or', 'and', '&&', '||'])} ${rhs}`;
  }
  return out;
}
