/**
 * Capture files for tests: reads classic pcap (either byte order, usec or
 * nsec magic) and pcapng (SHB/IDB/EPB/SPB and the obsolete PB), writes
 * classic pcap. Packets stay views into the file's buffer, as a capture
 * library hands them out (non-zero byteOffset on purpose).
 */
import { readFileSync, writeFileSync } from 'node:fs';

export interface CapturedPacket {
  /** The captured bytes (length === caplen). */
  data: Uint8Array;
  caplen: number;
  /** Length on the wire (pcap "len" / pcapng "original length"). */
  wirelen: number;
  tsSec: number;
  /** Fraction of the second in the file's unit (usec or nsec). */
  tsFrac: number;
}

export interface Capture {
  linkType: number;
  snaplen: number;
  nanos: boolean;
  packets: CapturedPacket[];
}

const PCAP_USEC = 0xa1b2c3d4;
const PCAP_NSEC = 0xa1b23c4d;
const PCAPNG_SHB = 0x0a0d0d0a;
const PCAPNG_BOM = 0x1a2b3c4d;

export function readCaptureFile(path: string): Capture {
  return parseCapture(readFileSync(path));
}

export function parseCapture(buf: Uint8Array): Capture {
  if (buf.length < 24) throw new Error('capture file too short');
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  if (view.getUint32(0, true) === PCAPNG_SHB) return parsePcapng(buf, view);
  return parseClassic(buf, view);
}

function parseClassic(buf: Uint8Array, view: DataView): Capture {
  const magicLE = view.getUint32(0, true);
  const magicBE = view.getUint32(0, false);
  let le: boolean;
  let nanos: boolean;
  if (magicLE === PCAP_USEC || magicLE === PCAP_NSEC) { le = true; nanos = magicLE === PCAP_NSEC; }
  else if (magicBE === PCAP_USEC || magicBE === PCAP_NSEC) { le = false; nanos = magicBE === PCAP_NSEC; }
  else throw new Error(`not a pcap file (magic 0x${magicLE.toString(16)})`);
  const snaplen = view.getUint32(16, le);
  // The upper bits of the link-type field carry FCS information; the link type is the low 16 bits.
  const linkType = view.getUint32(20, le) & 0xffff;
  const packets: CapturedPacket[] = [];
  let off = 24;
  while (off + 16 <= buf.length) {
    const tsSec = view.getUint32(off, le);
    const tsFrac = view.getUint32(off + 4, le);
    const caplen = view.getUint32(off + 8, le);
    const wirelen = view.getUint32(off + 12, le);
    off += 16;
    if (off + caplen > buf.length) throw new Error(`truncated packet record at byte ${off - 16}`);
    packets.push({ data: buf.subarray(off, off + caplen), caplen, wirelen, tsSec, tsFrac });
    off += caplen;
  }
  if (off !== buf.length) throw new Error(`trailing ${buf.length - off} bytes after the last packet record`);
  return { linkType, snaplen, nanos, packets };
}

interface NgInterface { linkType: number; snaplen: number }

function parsePcapng(buf: Uint8Array, view: DataView): Capture {
  let le = true;
  let interfaces: NgInterface[] = [];
  const packets: CapturedPacket[] = [];
  let linkType = -1;
  let snaplen = 0;
  let off = 0;
  const iface = (id: number): NgInterface => {
    const i = interfaces[id];
    if (!i) throw new Error(`pcapng packet refers to unknown interface ${id}`);
    if (linkType === -1) { linkType = i.linkType; snaplen = i.snaplen; }
    else if (linkType !== i.linkType) throw new Error('pcapng with several link types is not supported');
    return i;
  };
  while (off + 12 <= buf.length) {
    const type = view.getUint32(off, true);
    if (type === PCAPNG_SHB) {
      const bom = view.getUint32(off + 8, true);
      if (bom === PCAPNG_BOM) le = true;
      else if (view.getUint32(off + 8, false) === PCAPNG_BOM) le = false;
      else throw new Error('pcapng section with bad byte-order magic');
      interfaces = [];
    }
    const blockType = view.getUint32(off, le);
    const total = view.getUint32(off + 4, le);
    if (total < 12 || total % 4 !== 0 || off + total > buf.length) throw new Error(`bad pcapng block length ${total} at byte ${off}`);
    const body = off + 8;
    if (blockType === 1) {
      interfaces.push({ linkType: view.getUint16(body, le), snaplen: view.getUint32(body + 4, le) });
    } else if (blockType === 6) {
      iface(view.getUint32(body, le));
      const tsHigh = view.getUint32(body + 4, le);
      const tsLow = view.getUint32(body + 8, le);
      const caplen = view.getUint32(body + 12, le);
      const wirelen = view.getUint32(body + 16, le);
      const start = body + 20;
      packets.push(ngPacket(buf, start, caplen, wirelen, tsHigh, tsLow));
    } else if (blockType === 3) {
      const i = iface(0);
      const wirelen = view.getUint32(body, le);
      const room = total - 16;
      const caplen = Math.min(wirelen, room, i.snaplen === 0 ? room : i.snaplen);
      packets.push(ngPacket(buf, body + 4, caplen, wirelen, 0, 0));
    } else if (blockType === 2) {
      iface(view.getUint16(body, le));
      const caplen = view.getUint32(body + 12, le);
      const wirelen = view.getUint32(body + 16, le);
      packets.push(ngPacket(buf, body + 20, caplen, wirelen, view.getUint32(body + 4, le), view.getUint32(body + 8, le)));
    }
    off += total;
  }
  if (linkType === -1) linkType = interfaces[0]?.linkType ?? 1;
  return { linkType, snaplen, nanos: false, packets };
}

function ngPacket(buf: Uint8Array, start: number, caplen: number, wirelen: number, tsHigh: number, tsLow: number): CapturedPacket {
  if (start + caplen > buf.length) throw new Error('truncated pcapng packet');
  // Default pcapng resolution is microseconds; split the 64-bit count into seconds and fraction.
  const micros = tsHigh * 2 ** 32 + tsLow;
  return { data: buf.subarray(start, start + caplen), caplen, wirelen, tsSec: Math.floor(micros / 1e6), tsFrac: micros % 1e6 };
}

export interface PacketToWrite {
  data: Uint8Array;
  /** Defaults to data.length. */
  wirelen?: number;
  tsSec?: number;
  tsFrac?: number;
}

export interface WriteOptions {
  linkType: number;
  snaplen?: number;
  nanos?: boolean;
  bigEndian?: boolean;
}

/** Serialises packets as a classic pcap file. */
export function encodePcap(packets: readonly PacketToWrite[], opts: WriteOptions): Buffer {
  let size = 24;
  for (const p of packets) size += 16 + p.data.length;
  const out = Buffer.alloc(size);
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  const le = !opts.bigEndian;
  view.setUint32(0, opts.nanos ? PCAP_NSEC : PCAP_USEC, le);
  view.setUint16(4, 2, le);
  view.setUint16(6, 4, le);
  view.setUint32(16, opts.snaplen ?? 262144, le);
  view.setUint32(20, opts.linkType, le);
  let off = 24;
  packets.forEach((p, i) => {
    const wirelen = p.wirelen ?? p.data.length;
    if (wirelen < p.data.length) throw new Error(`packet ${i}: wire length ${wirelen} < captured ${p.data.length}`);
    view.setUint32(off, p.tsSec ?? 1700000000 + i, le);
    view.setUint32(off + 4, p.tsFrac ?? 0, le);
    view.setUint32(off + 8, p.data.length, le);
    view.setUint32(off + 12, wirelen, le);
    out.set(p.data, off + 16);
    off += 16 + p.data.length;
  });
  return out;
}

export function writePcapFile(path: string, packets: readonly PacketToWrite[], opts: WriteOptions): void {
  writeFileSync(path, encodePcap(packets, opts));
}
