/**
 * The benchmark's two kinds of traffic:
 * - bulk unicast: 1400-byte TCP data segments (ACK|PSH, never SYN/FIN/RST)
 *   from one client MAC to the router's MAC, IPv4 only or with a share of
 *   IPv6; none of the benchmark's rules may match them (checked with
 *   libpcap by the caller);
 * - control: the small frames the rules are written for (ARP, ICMPv6 ND,
 *   DHCP, DNS, multicast), nearly all of them matched by some rule.
 * Deterministic (seeded), so every run replays the same bytes.
 */
import { Prng } from '../../test/filter/gen/prng';
import {
  type Bytes, ether, ipv4Packet, ipv6Packet, tcpSegment, udpDatagram, arpPacket, ndMessage, dnsMessage, dhcpMessage, icmpMessage,
  ETH_IPV4, ETH_IPV6, ETH_ARP, TCP_ACK, TCP_PSH,
} from '../../test/filter/gen/packets';

export const FRAME_BYTES = 1400;
export const CLIENT_MAC = 'a6:10:20:30:40:50';
const BCAST = 'ff:ff:ff:ff:ff:ff';

function hex2(n: number): string { return n.toString(16).padStart(2, '0'); }

/** TCP payload that makes the whole Ethernet frame FRAME_BYTES long. */
function payload(r: Prng, headerBytes: number): Uint8Array {
  return r.bytes(FRAME_BYTES - headerBytes);
}

/**
 * `count` distinct unicast frames to `routerMac`; `v6Share` of them IPv6.
 * The ports (client 40000-40999, server 443/8443) are chosen so that no
 * benchmark rule matches them.
 */
export function unicastFrames(count: number, routerMac: string, v6Share: number, seed = 1400): Buffer[] {
  const r = new Prng(seed);
  const frames: Buffer[] = [];
  for (let i = 0; i < count; i++) {
    const sport = 40000 + (i % 1000);
    const dport = i % 3 === 0 ? 8443 : 443;
    const flags = TCP_ACK | (i % 2 === 0 ? TCP_PSH : 0);
    let frame: Bytes;
    if (r.chance(v6Share)) {
      const seg = tcpSegment(sport, dport, flags, payload(r, 14 + 40 + 20));
      frame = ether(routerMac, CLIENT_MAC, ETH_IPV6, ipv6Packet({ src: '2001:db8:10::50', dst: `2001:db8:20::${(i % 16) + 1}`, next: 6 }, seg));
    } else {
      const seg = tcpSegment(sport, dport, flags, payload(r, 14 + 20 + 20));
      frame = ether(routerMac, CLIENT_MAC, ETH_IPV4, ipv4Packet({ src: '10.20.30.50', dst: `93.184.216.${(i % 16) + 1}`, proto: 6, dontFragment: true, id: i & 0xffff }, seg));
    }
    if (frame.length !== FRAME_BYTES) throw new Error(`unicast frame is ${frame.length} bytes, not ${FRAME_BYTES}`);
    frames.push(Buffer.from(frame));
  }
  return frames;
}

function padded(b: Bytes): Buffer {
  // Ethernet minimum without FCS, as a NIC pads short frames.
  return b.length < 60 ? Buffer.concat([Buffer.from(b), Buffer.alloc(60 - b.length)]) : Buffer.from(b);
}

/** `count` control frames of a mesh node's everyday kinds; about 1 in 10 from `ownMac`. */
export function controlFrames(count: number, ownMac: string, seed = 53): Buffer[] {
  const r = new Prng(seed);
  const frames: Buffer[] = [];
  for (let i = 0; i < count; i++) {
    const host = r.range(1, 250);
    const peer = `a6:00:00:10:20:${hex2(host)}`;
    const src = r.chance(0.1) ? ownMac : peer;
    const v4 = `10.20.0.${host}`;
    const ll6 = `fe80::a4ff:fe10:${host.toString(16)}`;
    const k = r.int(100);
    let f: Bytes;
    if (k < 25) { // ARP requests, replies, gratuitous replies
      const kind = r.int(10);
      if (kind < 6) f = ether(BCAST, src, ETH_ARP, arpPacket(1, src, v4, '00:00:00:00:00:00', '10.20.0.1'));
      else if (kind < 9) f = ether(ownMac === src ? peer : ownMac, src, ETH_ARP, arpPacket(2, src, v4, ownMac, '10.20.0.1'));
      else f = ether(BCAST, src, ETH_ARP, arpPacket(2, src, v4, BCAST, v4));
    } else if (k < 50) { // ICMPv6 ND
      const type = r.pick([133, 134, 135, 135, 136] as const);
      const dmac = type === 133 ? '33:33:00:00:00:02' : type === 134 ? '33:33:00:00:00:01' : `33:33:ff:10:00:${hex2(host)}`;
      const dst = type === 133 ? 'ff02::2' : type === 134 ? 'ff02::1' : `ff02::1:ff10:${host.toString(16)}`;
      f = ether(dmac, src, ETH_IPV6, ipv6Packet({ src: ll6, dst, next: 58, hopLimit: 255 }, ndMessage(type, `2001:db8::${host.toString(16)}`, src)));
    } else if (k < 60) { // DHCPv4
      const client = r.chance(0.5);
      const l4 = client ? udpDatagram(68, 67, dhcpMessage(1, src, 1)) : udpDatagram(67, 68, dhcpMessage(2, peer, 2));
      f = ether(client ? BCAST : peer, src, ETH_IPV4, ipv4Packet({ src: client ? '0.0.0.0' : '10.20.0.1', dst: client ? '255.255.255.255' : v4, proto: 17 }, l4));
    } else if (k < 80) { // DNS over IPv4 and IPv6
      const response = r.chance(0.5);
      const l4 = response ? udpDatagram(53, 40000 + host, dnsMessage(host, true)) : udpDatagram(40000 + host, 53, dnsMessage(host, false));
      f = r.chance(0.5)
        ? ether(ownMac, src === ownMac ? peer : src, ETH_IPV4, ipv4Packet({ src: v4, dst: '10.20.0.1', proto: 17 }, l4))
        : ether(ownMac, src === ownMac ? peer : src, ETH_IPV6, ipv6Packet({ src: `2001:db8::${host.toString(16)}`, dst: '2001:db8::1', next: 17 }, l4));
    } else if (k < 95) { // mDNS, SSDP, MLD
      const m = r.int(3);
      if (m === 0) f = ether('01:00:5e:00:00:fb', src, ETH_IPV4, ipv4Packet({ src: v4, dst: '224.0.0.251', proto: 17, ttl: 255 }, udpDatagram(5353, 5353, dnsMessage(0, false))));
      else if (m === 1) f = ether('01:00:5e:7f:ff:fa', src, ETH_IPV4, ipv4Packet({ src: v4, dst: '239.255.255.250', proto: 17, ttl: 4 }, udpDatagram(50000 + host, 1900, new Uint8Array(120))));
      else f = ether('33:33:00:00:00:16', src, ETH_IPV6, ipv6Packet({ src: ll6, dst: 'ff02::16', next: 58, hopLimit: 1, ext: [{ type: 0 }] }, icmpMessage(143, 0, new Uint8Array(24))));
    } else { // batman-adv broadcast
      f = ether(BCAST, src, 0x4305, new Uint8Array(r.range(30, 100)));
    }
    frames.push(padded(f));
  }
  return frames;
}
