/**
 * Small Ethernet frames (60-86 bytes) of the kinds a mesh node sees most:
 * ARP, IPv4 TCP/UDP (DNS, NetBIOS, mDNS), ICMPv6 neighbour discovery. For the
 * replay measurement: many packets, little data. Checksums are left zero
 * (nothing on the link verifies them).
 */

function mac(text: string): Buffer {
  return Buffer.from(text.split(':').map((h) => parseInt(h, 16)));
}

function ethernet(dst: string, src: string, type: number, payload: Buffer): Buffer {
  const head = Buffer.alloc(14);
  mac(dst).copy(head, 0);
  mac(src).copy(head, 6);
  head.writeUInt16BE(type, 12);
  const frame = Buffer.concat([head, payload]);
  // Padded to the Ethernet minimum (60 bytes without FCS), as a NIC would.
  return frame.length < 60 ? Buffer.concat([frame, Buffer.alloc(60 - frame.length)]) : frame;
}

function ipv4(src: number, dst: number, proto: number, l4: Buffer): Buffer {
  const h = Buffer.alloc(20);
  h[0] = 0x45;
  h.writeUInt16BE(20 + l4.length, 2);
  h[8] = 64;
  h[9] = proto;
  h.writeUInt32BE(src >>> 0, 12);
  h.writeUInt32BE(dst >>> 0, 16);
  return Buffer.concat([h, l4]);
}

function udp(sport: number, dport: number, payloadLength: number): Buffer {
  const u = Buffer.alloc(8 + payloadLength);
  u.writeUInt16BE(sport, 0);
  u.writeUInt16BE(dport, 2);
  u.writeUInt16BE(u.length, 4);
  return u;
}

function tcp(sport: number, dport: number, flags: number): Buffer {
  const t = Buffer.alloc(20);
  t.writeUInt16BE(sport, 0);
  t.writeUInt16BE(dport, 2);
  t[12] = 0x50;
  t[13] = flags;
  return t;
}

function arp(op: number, senderMac: string, senderIp: number, targetIp: number): Buffer {
  const a = Buffer.alloc(28);
  a.writeUInt16BE(1, 0);
  a.writeUInt16BE(0x0800, 2);
  a[4] = 6;
  a[5] = 4;
  a.writeUInt16BE(op, 6);
  mac(senderMac).copy(a, 8);
  a.writeUInt32BE(senderIp >>> 0, 14);
  a.writeUInt32BE(targetIp >>> 0, 24);
  return a;
}

function neighborSolicitation(srcLast: number, targetLast: number): Buffer {
  const h = Buffer.alloc(40 + 24);
  h[0] = 0x60;
  h.writeUInt16BE(24, 4);
  h[6] = 58;
  h[7] = 255;
  Buffer.from([0xfe, 0x80]).copy(h, 8);
  h[23] = srcLast;
  Buffer.from([0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, 0, 0, targetLast]).copy(h, 24);
  h[40] = 135;
  Buffer.from([0xfe, 0x80]).copy(h, 48);
  h[63] = targetLast;
  return h;
}

/** `count` frames, deterministic; about one in eight is addressed to `ownMac`. */
export function smallFrames(count: number, ownMac: string): Buffer[] {
  const frames: Buffer[] = [];
  for (let i = 0; i < count; i++) {
    const host = (i * 37) % 250 + 1;
    const peer = `a6:00:00:10:20:${(host & 0xff).toString(16).padStart(2, '0')}`;
    const dst = i % 8 === 0 ? ownMac : `a6:00:00:10:21:${((i * 13) & 0xff).toString(16).padStart(2, '0')}`;
    const v4 = (10 << 24) | (20 << 16) | host;
    switch (i % 8) {
      case 0: frames.push(ethernet(dst, peer, 0x0800, ipv4(v4, 0x0a140001, 6, tcp(40000 + host, 443, 0x10)))); break;
      case 1: frames.push(ethernet('ff:ff:ff:ff:ff:ff', peer, 0x0806, arp(1, peer, v4, 0x0a140001))); break;
      case 2: frames.push(ethernet(dst, peer, 0x0806, arp(2, peer, v4, 0x0a140002))); break;
      case 3: frames.push(ethernet(dst, peer, 0x0800, ipv4(v4, 0x08080808, 17, udp(50000 + host, 53, 20)))); break;
      case 4: frames.push(ethernet('01:00:5e:00:00:fb', peer, 0x0800, ipv4(v4, 0xe00000fb, 17, udp(5353, 5353, 12)))); break;
      case 5: frames.push(ethernet(`33:33:ff:00:00:${(host & 0xff).toString(16).padStart(2, '0')}`, peer, 0x86dd, neighborSolicitation(host, (host * 3) & 0xff))); break;
      case 6: frames.push(ethernet('ff:ff:ff:ff:ff:ff', peer, 0x0800, ipv4(v4, 0x0a14ffff, 17, udp(137, 137, 18)))); break;
      default: frames.push(ethernet(dst, peer, 0x0800, ipv4(v4, 0x5db8d822, 6, tcp(40000 + host, 80, 0x18)))); break;
    }
  }
  return frames;
}
