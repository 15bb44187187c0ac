/**
 * Byte-level packet builders for generated tests. Each returns the encoded
 * bytes of one layer with its payload; no checksums beyond IPv4's header one
 * (filters never verify them).
 */

export type Bytes = Uint8Array;

export function concat(...parts: readonly Bytes[]): Bytes {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let off = 0;
  for (const p of parts) { out.set(p, off); off += p.length; }
  return out;
}

function u16(v: number): Bytes { return Uint8Array.of((v >>> 8) & 0xff, v & 0xff); }
function u32(v: number): Bytes { return Uint8Array.of((v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff); }

export function mac(text: string): Bytes {
  const parts = text.split(':');
  if (parts.length !== 6) throw new Error(`bad MAC ${text}`);
  return Uint8Array.from(parts.map((h) => parseInt(h, 16)));
}

export function ipv4(text: string): Bytes {
  const parts = text.split('.').map(Number);
  if (parts.length !== 4) throw new Error(`bad IPv4 ${text}`);
  return Uint8Array.from(parts);
}

export function ipv6(text: string): Bytes {
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
  const h = head === '' ? [] : head.split(':');
  const t = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  if (groups.length !== 8) throw new Error(`bad IPv6 ${text}`);
  return concat(...groups.map((g) => u16(parseInt(g, 16))));
}

export const ETH_IPV4 = 0x0800;
export const ETH_ARP = 0x0806;
export const ETH_RARP = 0x8035;
export const ETH_IPV6 = 0x86dd;
export const ETH_VLAN = 0x8100;
export const ETH_QINQ = 0x88a8;
export const ETH_MPLS = 0x8847;
export const ETH_PPPOES = 0x8864;

/** An Ethernet II frame; `tags` are (TPID, TCI) pairs in outer-to-inner order. */
export function ether(dst: string, src: string, type: number, payload: Bytes, tags: readonly [number, number][] = []): Bytes {
  const tagBytes = tags.map(([tpid, tci]) => concat(u16(tpid), u16(tci)));
  return concat(mac(dst), mac(src), ...tagBytes, u16(type), payload);
}

/** An 802.3 frame with a length field and an LLC header. */
export function llcFrame(dst: string, src: string, dsap: number, ssap: number, control: number, payload: Bytes): Bytes {
  const llc = concat(Uint8Array.of(dsap, ssap, control), payload);
  return concat(mac(dst), mac(src), u16(llc.length), llc);
}

export function mplsStack(labels: readonly number[], payload: Bytes): Bytes {
  const entries = labels.map((label, i) => u32(((label & 0xfffff) << 12) | (i === labels.length - 1 ? 0x100 : 0) | 64));
  return concat(...entries, payload);
}

export function pppoeSession(sessionId: number, pppProto: number, payload: Bytes): Bytes {
  return concat(Uint8Array.of(0x11, 0x00), u16(sessionId), u16(payload.length + 2), u16(pppProto), payload);
}

export interface Ipv4Fields {
  src: string;
  dst: string;
  proto: number;
  ttl?: number;
  id?: number;
  /** Raw option bytes; padded to a multiple of 4. */
  options?: Bytes;
  dontFragment?: boolean;
  moreFragments?: boolean;
  /** In 8-byte units. */
  fragOffset?: number;
  tos?: number;
  /** Override the IHL nibble (to build malformed headers). */
  ihl?: number;
}

export function ipv4Packet(f: Ipv4Fields, payload: Bytes): Bytes {
  const opts = f.options ?? new Uint8Array(0);
  const padded = concat(opts, new Uint8Array((4 - (opts.length % 4)) % 4));
  const hlen = 20 + padded.length;
  const h = new Uint8Array(hlen);
  h[0] = 0x40 | ((f.ihl ?? hlen / 4) & 0xf);
  h[1] = f.tos ?? 0;
  h.set(u16(hlen + payload.length), 2);
  h.set(u16(f.id ?? 0x1234), 4);
  const frag = (f.dontFragment ? 0x4000 : 0) | (f.moreFragments ? 0x2000 : 0) | ((f.fragOffset ?? 0) & 0x1fff);
  h.set(u16(frag), 6);
  h[8] = f.ttl ?? 64;
  h[9] = f.proto;
  h.set(ipv4(f.src), 12);
  h.set(ipv4(f.dst), 16);
  h.set(padded, 20);
  let sum = 0;
  for (let i = 0; i < hlen; i += 2) sum += (h[i] << 8) | h[i + 1];
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  h.set(u16(~sum & 0xffff), 10);
  return concat(h, payload);
}

export interface Ipv6Ext {
  /** 0 hop-by-hop, 43 routing, 44 fragment, 60 destination options, 51 AH. */
  type: 0 | 43 | 44 | 60 | 51;
  /** Fragment header only. */
  fragOffset?: number;
  moreFragments?: boolean;
  /** Extra 8-byte units for HBH/DST/RT (AH: extra 4-byte units). */
  extraUnits?: number;
}

export interface Ipv6Fields {
  src: string;
  dst: string;
  /** The upper-layer protocol after all extension headers. */
  next: number;
  hopLimit?: number;
  ext?: readonly Ipv6Ext[];
  trafficClass?: number;
  flowLabel?: number;
}

export function ipv6Packet(f: Ipv6Fields, payload: Bytes): Bytes {
  const exts = f.ext ?? [];
  const encoded: Bytes[] = [];
  exts.forEach((e, i) => {
    const next = i + 1 < exts.length ? exts[i + 1].type : f.next;
    encoded.push(ipv6ExtHeader(e, next));
  });
  const body = concat(...encoded, payload);
  const first = exts.length > 0 ? exts[0].type : f.next;
  const tc = f.trafficClass ?? 0;
  const fl = f.flowLabel ?? 0;
  const vtf = ((6 << 28) | ((tc & 0xff) << 20) | (fl & 0xfffff)) >>> 0;
  return concat(u32(vtf), u16(body.length), Uint8Array.of(first, f.hopLimit ?? 64), ipv6(f.src), ipv6(f.dst), body);
}

function ipv6ExtHeader(e: Ipv6Ext, next: number): Bytes {
  const extra = e.extraUnits ?? 0;
  switch (e.type) {
    case 44: {
      const off = ((e.fragOffset ?? 0) << 3) | (e.moreFragments ? 1 : 0);
      return concat(Uint8Array.of(next, 0), u16(off), u32(0xabcd0001));
    }
    case 51: {
      const len = 3 + extra; // length in 4-byte units minus 2; 12-byte ICV by default
      const h = new Uint8Array((len + 2) * 4);
      h[0] = next; h[1] = len; h.set(u32(0x100), 4); h.set(u32(1), 8);
      return h;
    }
    case 43: {
      const h = new Uint8Array(8 + extra * 8);
      h[0] = next; h[1] = extra; h[2] = 0; h[3] = 0;
      return h;
    }
    default: {
      // Hop-by-hop / destination options padded with PadN.
      const h = new Uint8Array(8 + extra * 8);
      h[0] = next; h[1] = extra; h[2] = 1; h[3] = h.length - 4;
      return h;
    }
  }
}

export const TCP_FIN = 0x01;
export const TCP_SYN = 0x02;
export const TCP_RST = 0x04;
export const TCP_PSH = 0x08;
export const TCP_ACK = 0x10;
export const TCP_URG = 0x20;

export function tcpSegment(sport: number, dport: number, flags: number, payload: Bytes, options: Bytes = new Uint8Array(0)): Bytes {
  const opts = concat(options, new Uint8Array((4 - (options.length % 4)) % 4));
  const h = new Uint8Array(20 + opts.length);
  h.set(u16(sport), 0); h.set(u16(dport), 2);
  h.set(u32(0x01020304), 4); h.set(u32(flags & TCP_ACK ? 0x0a0b0c0d : 0), 8);
  h[12] = (h.length / 4) << 4; h[13] = flags;
  h.set(u16(65535), 14);
  h.set(opts, 20);
  return concat(h, payload);
}

export function udpDatagram(sport: number, dport: number, payload: Bytes): Bytes {
  return concat(u16(sport), u16(dport), u16(8 + payload.length), u16(0), payload);
}

export function icmpMessage(type: number, code: number, body: Bytes): Bytes {
  return concat(Uint8Array.of(type, code, 0, 0), body);
}

export function arpPacket(op: number, sha: string, spa: string, tha: string, tpa: string): Bytes {
  return concat(u16(1), u16(ETH_IPV4), Uint8Array.of(6, 4), u16(op), mac(sha), ipv4(spa), mac(tha), ipv4(tpa));
}

/** ICMPv6 neighbor discovery: RS 133, RA 134, NS 135, NA 136 (with a link-layer address option when given). */
export function ndMessage(type: 133 | 134 | 135 | 136, target: string | undefined, lladdr: string | undefined): Bytes {
  const parts: Bytes[] = [Uint8Array.of(type, 0, 0, 0)];
  if (type === 134) parts.push(Uint8Array.of(64, 0), u16(1800), u32(0), u32(0));
  else if (type === 136) parts.push(u32(0x60000000));
  else parts.push(u32(0));
  if ((type === 135 || type === 136) && target) parts.push(ipv6(target));
  if (lladdr) parts.push(Uint8Array.of(type === 136 ? 2 : 1, 1), mac(lladdr));
  return concat(...parts);
}

/** A DNS message header with one question (`example.org`); response sets QR. */
export function dnsMessage(id: number, response: boolean): Bytes {
  const name = Uint8Array.of(7, ...Buffer.from('example'), 3, ...Buffer.from('org'), 0);
  return concat(u16(id), u16(response ? 0x8180 : 0x0100), u16(1), u16(response ? 1 : 0), u16(0), u16(0), name, u16(1), u16(1),
    response ? concat(u16(0xc00c), u16(1), u16(1), u32(300), u16(4), ipv4('93.184.216.34')) : new Uint8Array(0));
}

/** A BOOTP/DHCP message (fixed 236 bytes + magic + message-type option). */
export function dhcpMessage(op: 1 | 2, client: string, msgType: number): Bytes {
  const h = new Uint8Array(236);
  h[0] = op; h[1] = 1; h[2] = 6;
  h.set(u32(0xdeadbeef), 4);
  h.set(mac(client), 28);
  return concat(h, u32(0x63825363), Uint8Array.of(53, 1, msgType, 255));
}
