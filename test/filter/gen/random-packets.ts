/**
 * Random packets for differential tests: Ethernet (with VLAN/QinQ stacks,
 * MPLS, PPPoE, LLC), IPv4 (options, fragments), IPv6 (extension-header
 * chains), ARP/RARP, ICMPv6 ND, TCP/UDP with common ports, plus mutations
 * (bit flips, truncation so caplen < wirelen). Addresses and ports come from
 * small pools so that generated expressions actually hit them.
 */
import type { Prng } from './prng';
import type { PacketToWrite } from './pcap-file';
import {
  type Bytes, concat, ether, llcFrame, mplsStack, pppoeSession, ipv4Packet, ipv6Packet, tcpSegment, udpDatagram,
  icmpMessage, arpPacket, ndMessage, dnsMessage, dhcpMessage, type Ipv6Ext,
  ETH_IPV4, ETH_IPV6, ETH_ARP, ETH_RARP, ETH_VLAN, ETH_QINQ, ETH_MPLS, ETH_PPPOES, mac,
} from './packets';

export const OWN_MAC = '02:ca:fe:00:00:01';
export const MACS = [OWN_MAC, '02:ca:fe:00:00:02', 'a4:5e:60:11:22:33', 'ff:ff:ff:ff:ff:ff', '01:00:5e:00:00:fb', '33:33:00:00:00:01', '33:33:ff:00:00:01', '01:80:c2:00:00:00'];
export const IPV4S = ['10.0.0.1', '10.0.0.2', '10.1.2.3', '192.168.1.1', '192.168.1.255', '224.0.0.251', '239.255.255.250', '255.255.255.255', '0.0.0.0', '127.0.0.1', '172.16.5.4'];
export const IPV6S = ['fe80::1', 'fe80::2', '2001:db8::1', '2001:db8::2', 'ff02::1', 'ff02::2', 'ff02::1:ff00:1', '::', 'ff02::fb', '2001:db8:1::5'];
export const PORTS = [22, 53, 67, 68, 80, 123, 443, 546, 547, 5353, 8080, 1024, 65535, 0];
/** IP protocol numbers worth generating: ICMP, IGMP, IPIP, TCP, UDP, IPv6, GRE, ESP, AH, ICMPv6, OSPF, VRRP, PIM, SCTP. */
const PROTOS = [1, 2, 4, 6, 17, 41, 47, 50, 51, 58, 89, 112, 103, 132];

function port(r: Prng): number { return r.chance(0.8) ? r.pick(PORTS) : r.range(0, 65535); }

function transport(r: Prng, proto: number, v6: boolean): Bytes {
  const payload = r.bytes(r.pick([0, 0, 4, 12, 40]));
  switch (proto) {
    case 6: return tcpSegment(port(r), port(r), r.next() & 0x3f, payload, r.chance(0.3) ? Uint8Array.of(2, 4, 5, 0xb4, 1, 1) : undefined);
    case 17: {
      const kind = r.int(4);
      if (kind === 0) return udpDatagram(r.pick([53, 5353, 1024]), 53, dnsMessage(r.next() & 0xffff, r.chance(0.5)));
      if (kind === 1) return udpDatagram(53, r.pick([53, 1024, 5353]), dnsMessage(r.next() & 0xffff, r.chance(0.5)));
      if (kind === 2 && !v6) return udpDatagram(r.pick([67, 68]), r.pick([67, 68]), dhcpMessage(r.pick([1, 2] as const), r.pick(MACS), r.range(1, 8)));
      return udpDatagram(port(r), port(r), payload);
    }
    case 1: return icmpMessage(r.pick([0, 3, 5, 8, 11, 13, 42, 43, r.int(256)]), r.int(4), r.bytes(r.pick([4, 8, 28])));
    case 58: {
      if (r.chance(0.5)) return ndMessage(r.pick([133, 134, 135, 136] as const), r.pick(IPV6S), r.chance(0.6) ? r.pick(MACS) : undefined);
      return icmpMessage(r.pick([1, 2, 128, 129, 130, 131, 143, r.int(256)]), r.int(3), r.bytes(r.pick([4, 20])));
    }
    case 2: return icmpMessage(r.pick([0x11, 0x16, 0x17, 0x22]), 0, r.bytes(4));
    default: return r.bytes(r.pick([0, 8, 24]));
  }
}

function ipv4Options(r: Prng): Bytes {
  // NOP, record route with room for 1..3 addresses, router alert, or garbage.
  switch (r.int(4)) {
    case 0: return Uint8Array.of(1, 1, 1, 0);
    case 1: { const n = r.range(1, 3); return concat(Uint8Array.of(7, 3 + 4 * n, 4), new Uint8Array(4 * n)); }
    case 2: return Uint8Array.of(0x94, 4, 0, 0);
    default: return r.bytes(r.pick([4, 8, 12, 40]));
  }
}

export function randomIpv4(r: Prng): Bytes {
  const proto = r.chance(0.85) ? r.pick([6, 17, 17, 1, 2]) : r.pick(PROTOS);
  const frag = r.chance(0.2);
  return ipv4Packet({
    src: r.pick(IPV4S), dst: r.pick(IPV4S), proto,
    ttl: r.pick([1, 64, 255]),
    options: r.chance(0.2) ? ipv4Options(r) : undefined,
    moreFragments: frag && r.chance(0.6),
    fragOffset: frag ? r.pick([0, 0, 1, 185, 8191]) : 0,
    dontFragment: r.chance(0.3),
    tos: r.chance(0.1) ? r.int(256) : 0,
  }, proto === 4 ? randomIpv4Inner(r) : proto === 41 ? randomIpv6(r) : transport(r, proto, false));
}

function randomIpv4Inner(r: Prng): Bytes {
  return ipv4Packet({ src: r.pick(IPV4S), dst: r.pick(IPV4S), proto: 17 }, udpDatagram(port(r), port(r), new Uint8Array(4)));
}

export function randomIpv6(r: Prng): Bytes {
  const proto = r.chance(0.85) ? r.pick([6, 17, 58, 58]) : r.pick(PROTOS);
  const ext: Ipv6Ext[] = [];
  if (r.chance(0.35)) {
    const n = r.range(1, 4);
    for (let i = 0; i < n; i++) {
      const type = r.pick([0, 60, 43, 44, 51] as const);
      ext.push({ type, extraUnits: r.chance(0.3) ? r.range(1, 2) : 0, fragOffset: type === 44 && r.chance(0.5) ? r.range(1, 100) : 0, moreFragments: r.chance(0.5) });
    }
  }
  return ipv6Packet({ src: r.pick(IPV6S), dst: r.pick(IPV6S), next: proto, ext, hopLimit: r.pick([1, 64, 255]) }, transport(r, proto, true));
}

function randomArp(r: Prng): Bytes {
  return arpPacket(r.pick([1, 2, 3, 4]), r.pick(MACS), r.pick(IPV4S), r.chance(0.5) ? '00:00:00:00:00:00' : r.pick(MACS), r.pick(IPV4S));
}

/** An L3 packet and the Ethernet type that announces it. */
export function randomL3(r: Prng): { type: number; bytes: Bytes } {
  const k = r.int(20);
  if (k < 8) return { type: ETH_IPV4, bytes: randomIpv4(r) };
  if (k < 14) return { type: ETH_IPV6, bytes: randomIpv6(r) };
  if (k < 17) return { type: ETH_ARP, bytes: randomArp(r) };
  if (k < 18) return { type: ETH_RARP, bytes: randomArp(r) };
  return { type: r.pick([0x88cc, 0x888e, 0x88f7, 0x8137, 0x6003, 0x0842, r.range(0x600, 0xffff)]), bytes: r.bytes(r.range(0, 60)) };
}

export function randomEthernetFrame(r: Prng): Bytes {
  const dst = r.pick(MACS);
  const src = r.chance(0.9) ? r.pick(MACS.slice(0, 3)) : r.pick(MACS);
  const k = r.int(20);
  if (k === 0) return llcFrame(dst, src, r.pick([0x42, 0xe0, 0xaa, 0xfe, 0x06, r.int(256)]), r.pick([0x42, 0xe0, 0xaa, 0x06]), r.pick([0x03, 0x01, 0xaf, r.int(256)]), r.bytes(r.range(0, 40)));
  if (k === 1) {
    const inner = r.chance(0.5) ? randomIpv4(r) : randomIpv6(r);
    return ether(dst, src, ETH_MPLS, mplsStack(Array.from({ length: r.range(1, 3) }, () => r.int(1 << 20)), inner));
  }
  if (k === 2) {
    const v6 = r.chance(0.4);
    return ether(dst, src, ETH_PPPOES, pppoeSession(r.int(65536), v6 ? 0x57 : 0x21, v6 ? randomIpv6(r) : randomIpv4(r)));
  }
  const l3 = randomL3(r);
  const tags: [number, number][] = [];
  if (r.chance(0.3)) {
    const n = r.range(1, 3);
    for (let i = 0; i < n; i++) tags.push([r.pick([ETH_VLAN, ETH_VLAN, ETH_QINQ, 0x9100]), r.pick([1, 5, 100, 4095, r.int(65536)])]);
  }
  return ether(dst, src, l3.type, l3.bytes, tags);
}

/** Flip bits, cut the capture short (caplen < wirelen), or leave as is. */
export function mutate(r: Prng, frame: Bytes): PacketToWrite {
  const data = Uint8Array.from(frame);
  if (r.chance(0.25)) {
    const flips = r.range(1, 4);
    for (let i = 0; i < flips && data.length > 0; i++) data[r.int(data.length)] ^= 1 << r.int(8);
  }
  let wirelen = data.length;
  let captured: Uint8Array = data;
  if (r.chance(0.2)) captured = data.subarray(0, r.int(data.length + 1));
  if (r.chance(0.05)) wirelen += r.range(1, 2000); // wire length beyond what was ever captured
  // Ethernet minimum frame size: short frames are padded on the wire.
  return { data: captured, wirelen: Math.max(wirelen, captured.length) };
}

/** Link-layer header for the non-Ethernet DLTs, wrapping an IP packet. */
export function linkWrap(linkType: number, r: Prng, l3: { type: number; bytes: Bytes }): Bytes {
  const be16 = (v: number): Bytes => Uint8Array.of(v >>> 8, v & 0xff);
  switch (linkType) {
    case 1: return ether(r.pick(MACS), r.pick(MACS), l3.type, l3.bytes);
    case 101: return l3.bytes;
    case 113: { // LINUX_SLL: packet type, ARPHRD, address length, 8-byte address, protocol
      const addr = concat(mac(r.pick(MACS)), Uint8Array.of(0, 0));
      return concat(be16(r.pick([0, 1, 2, 3, 4])), be16(1), be16(6), addr, be16(l3.type), l3.bytes);
    }
    case 276: { // LINUX_SLL2: protocol, reserved, ifindex, ARPHRD, packet type, address length, address
      const addr = concat(mac(r.pick(MACS)), Uint8Array.of(0, 0));
      return concat(be16(l3.type), be16(0), Uint8Array.of(0, 0, 0, r.range(1, 4)), be16(1), Uint8Array.of(r.pick([0, 1, 2, 3, 4]), 6), addr, l3.bytes);
    }
    case 0: case 108: { // NULL: host-order AF (little endian here); LOOP: network order
      const af = l3.type === ETH_IPV6 ? r.pick([24, 28, 30]) : l3.type === ETH_IPV4 ? 2 : r.int(40);
      const word = linkType === 0 ? Uint8Array.of(af, 0, 0, 0) : Uint8Array.of(0, 0, 0, af);
      return concat(word, l3.bytes);
    }
    default: throw new Error(`no wrapper for DLT ${linkType}`);
  }
}

/** A random packet for a non-Ethernet link type (IP mostly, some other protocols). */
export function randomFrameFor(linkType: number, r: Prng): Bytes {
  if (linkType === 1) return randomEthernetFrame(r);
  const l3 = linkType === 101 ? (r.chance(0.5) ? { type: ETH_IPV4, bytes: randomIpv4(r) } : { type: ETH_IPV6, bytes: randomIpv6(r) }) : randomL3(r);
  if (linkType === 101 && r.chance(0.05)) return r.bytes(r.range(0, 30)); // neither v4 nor v6 version nibble
  return linkWrap(linkType, r, l3);
}
