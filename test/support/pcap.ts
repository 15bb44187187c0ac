/**
 * Minimal classic-pcap reading and writing for the live tests: enough to pick
 * the receiving MAC from a capture, count its packets, and write probe and
 * load captures. (All Ethernet captures in test/data/pcaps are classic pcap.)
 */
import { readFileSync, writeFileSync } from 'node:fs';

export interface Frame {
  data: Buffer;
  /** Length on the wire. */
  wirelen: number;
}

export interface ClassicCapture {
  linkType: number;
  frames: Frame[];
}

const MAGIC_USEC = 0xa1b2c3d4;
const MAGIC_NSEC = 0xa1b23c4d;

export function readClassicPcap(path: string): ClassicCapture {
  const buf = readFileSync(path);
  const le = buf.readUInt32LE(0) === MAGIC_USEC || buf.readUInt32LE(0) === MAGIC_NSEC;
  if (!le && buf.readUInt32BE(0) !== MAGIC_USEC && buf.readUInt32BE(0) !== MAGIC_NSEC) {
    throw new Error(`${path}: not a classic pcap file`);
  }
  const u32 = (off: number): number => (le ? buf.readUInt32LE(off) : buf.readUInt32BE(off));
  const frames: Frame[] = [];
  let off = 24;
  while (off + 16 <= buf.length) {
    const caplen = u32(off + 8);
    const wirelen = u32(off + 12);
    frames.push({ data: buf.subarray(off + 16, off + 16 + caplen), wirelen });
    off += 16 + caplen;
  }
  return { linkType: u32(20) & 0xffff, frames };
}

/** Writes an Ethernet (DLT 1) capture; frames are complete (caplen == wirelen) unless `wireLengths` says more. */
export function encodeEthernetPcap(frames: readonly Buffer[], wireLengths: readonly number[] = []): Buffer {
  let size = 24;
  for (const f of frames) size += 16 + f.length;
  const out = Buffer.alloc(size);
  out.writeUInt32LE(MAGIC_USEC, 0);
  out.writeUInt16LE(2, 4);
  out.writeUInt16LE(4, 6);
  out.writeUInt32LE(65535, 16);
  out.writeUInt32LE(1, 20);
  let off = 24;
  frames.forEach((f, i) => {
    out.writeUInt32LE(1700000000 + Math.floor(i / 1000), off);
    out.writeUInt32LE((i % 1000) * 1000, off + 4);
    out.writeUInt32LE(f.length, off + 8);
    out.writeUInt32LE(wireLengths[i] ?? f.length, off + 12);
    f.copy(out, off + 16);
    off += 16 + f.length;
  });
  return out;
}

export function writeEthernetPcap(path: string, frames: readonly Buffer[], wireLengths: readonly number[] = []): void {
  writeFileSync(path, encodeEthernetPcap(frames, wireLengths));
}

function macText(b: Buffer, off: number): string {
  return [...b.subarray(off, off + 6)].map((x) => x.toString(16).padStart(2, '0')).join(':');
}

/**
 * The unicast MAC the capture addresses most often (as destination, else as
 * source): giving the receiving veth this address makes `$MAC` rules match
 * real traffic of the capture.
 */
export function busiestUnicastMac(capture: ClassicCapture): string | undefined {
  const pick = (offset: number): string | undefined => {
    const seen = new Map<string, number>();
    for (const f of capture.frames) {
      if (f.data.length < 14 || (f.data[offset] & 1) !== 0) continue;
      const mac = macText(f.data, offset);
      if (mac === '00:00:00:00:00:00') continue;
      seen.set(mac, (seen.get(mac) ?? 0) + 1);
    }
    let best: string | undefined;
    let bestCount = 0;
    for (const [mac, n] of seen) if (n > bestCount) { best = mac; bestCount = n; }
    return best;
  };
  return pick(0) ?? pick(6);
}
