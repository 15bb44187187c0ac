/**
 * A classic pcap capture file read in JavaScript. Records are handed over
 * where they lie in one large read buffer, so counting a file costs no
 * native call and no copy per packet (libpcap's reader through the binding
 * costs about 0.2 s per million packets on top of the filters).
 *
 * It hands over exactly the packets libpcap 1.10 would: byte order from the
 * magic number, 24-byte records in the patched ("Kuznetzov") format, caplen
 * and len exchanged in files older than version 2.3 (and in 2.3 when caplen
 * > len), a caplen above the file's snap length cut to it, a caplen above
 * 262144 or a record cut short an error. pcapng and files whose packets
 * libpcap rewrites (byte-swapped Linux cooked headers) are left to libpcap.
 */
import { files } from '../files';
import { DLT } from './binding';

/** Receives each packet: buffer[offset] .. buffer[offset + caplen - 1], and its wire length. */
export type RecordSink = (buffer: Uint8Array, offset: number, caplen: number, wirelen: number) => void;

/** libpcap's MAXIMUM_SNAPLEN, its limit for every link type read here. */
const MAX_CAPLEN = 262144;
const INT_MAX = 0x7fffffff;

const MAGIC_MICRO = 0xa1b2c3d4;
const MAGIC_NANO = 0xa1b23c4d;
const MAGIC_PATCHED = 0xa1b2cd34;

type LengthOrder = 'caplen-first' | 'len-first' | 'larger-is-len';

export interface SavefileLayout {
  littleEndian: boolean;
  /** Bytes of each record header. */
  recordHeader: number;
  /** Longest caplen handed over; longer records are cut to it. */
  snapshot: number;
  lengthOrder: LengthOrder;
}

/** A capture file libpcap would refuse part way: its message. */
export class SavefileError extends Error {}

/** The host's byte order, without loading node:os at start. */
const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * The layout of a classic pcap file from its first 24 bytes, or undefined
 * when libpcap should read it (pcapng, an unknown magic, a link type whose
 * packets libpcap rewrites). `dlt` is the link type libpcap reported.
 */
export function savefileLayout(head: Uint8Array, dlt: number): SavefileLayout | undefined {
  if (head.length < 24) return undefined;
  const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
  let littleEndian: boolean;
  let magic = view.getUint32(0, false);
  if (magic === MAGIC_MICRO || magic === MAGIC_NANO || magic === MAGIC_PATCHED) littleEndian = false;
  else {
    magic = view.getUint32(0, true);
    if (magic !== MAGIC_MICRO && magic !== MAGIC_NANO && magic !== MAGIC_PATCHED) return undefined;
    littleEndian = true;
  }
  // libpcap rewrites parts of these headers when the file's byte order is not the host's.
  if (littleEndian !== HOST_LITTLE_ENDIAN && (dlt === DLT.LINUX_SLL || dlt === DLT.LINUX_SLL2)) return undefined;
  const major = view.getUint16(4, littleEndian);
  const minor = view.getUint16(6, littleEndian);
  // libpcap refuses other versions when it opens the file, before any record.
  if (!((major === 2 && minor <= 4) || (major === 543 && minor === 0))) return undefined;
  const snaplen = view.getUint32(16, littleEndian);
  let snapshot = snaplen === 0 || snaplen > INT_MAX ? MAX_CAPLEN : snaplen;
  let recordHeader = 16;
  if (magic === MAGIC_PATCHED) {
    recordHeader = 24;
    // That format's snap length did not count the Ethernet header.
    if (dlt === DLT.EN10MB) snapshot = Math.min(snapshot + 14, INT_MAX);
  }
  const lengthOrder: LengthOrder = major === 543 || (major === 2 && minor < 3) ? 'len-first'
    : major === 2 && minor === 3 ? 'larger-is-len' : 'caplen-first';
  return { littleEndian, recordHeader, snapshot, lengthOrder };
}

/** The layout of the regular file at `path`, or undefined when libpcap should read it (see savefileLayout; also pipes). */
export function layoutOfFile(path: string, dlt: number): SavefileLayout | undefined {
  if (path === '-') return undefined;
  let fd: number;
  try {
    fd = files().openRead(path);
  } catch {
    return undefined;
  }
  try {
    if (!files().fdStatus(fd).isFile) return undefined;
    const head = Buffer.alloc(24);
    const n = files().read(fd, head, 0, 24, 0);
    return savefileLayout(head.subarray(0, n), dlt);
  } finally {
    files().close(fd);
  }
}

/** Read size: large enough for any record (caplen <= 262144 plus its header). */
const CHUNK = 1 << 20;

/** Reads the file at `path` (laid out as `layout`) to its end, every record to `sink`. */
export function readSavefile(path: string, layout: SavefileLayout, sink: RecordSink): void {
  const fd = files().openRead(path);
  try {
    readRecords(fd, layout, sink);
  } finally {
    files().close(fd);
  }
}

function readRecords(fd: number, layout: SavefileLayout, sink: RecordSink): void {
  const { littleEndian, recordHeader, snapshot, lengthOrder } = layout;
  const buf = Buffer.allocUnsafe(CHUNK);
  // Bytes buf[pos] .. buf[end - 1] are read and not yet handed over.
  let pos = 0;
  let end = 0;
  let fileOffset = 24;
  let eof = false;
  /** Makes at least `want` unread bytes available if the file has them. */
  const fill = (want: number): void => {
    if (pos > 0) {
      buf.copyWithin(0, pos, end);
      end -= pos;
      pos = 0;
    }
    while (end < want && !eof) {
      const n = files().read(fd, buf, end, CHUNK - end, fileOffset);
      if (n === 0) eof = true;
      end += n;
      fileOffset += n;
    }
  };
  const u32 = littleEndian
    ? (at: number): number => (buf[at] | buf[at + 1] << 8 | buf[at + 2] << 16 | buf[at + 3] << 24) >>> 0
    : (at: number): number => (buf[at] << 24 | buf[at + 1] << 16 | buf[at + 2] << 8 | buf[at + 3]) >>> 0;
  for (;;) {
    if (end - pos < recordHeader) {
      fill(recordHeader);
      if (end === pos) return;
      if (end - pos < recordHeader) {
        throw new SavefileError(`truncated dump file; tried to read ${recordHeader} header bytes, only got ${end - pos}`);
      }
    }
    let caplen = u32(pos + 8);
    let wirelen = u32(pos + 12);
    if (lengthOrder === 'len-first' || (lengthOrder === 'larger-is-len' && caplen > wirelen)) {
      const t = caplen; caplen = wirelen; wirelen = t;
    }
    if (caplen > MAX_CAPLEN) {
      throw new SavefileError(caplen > snapshot
        ? `invalid packet capture length ${caplen}, bigger than snaplen of ${snapshot}`
        : `invalid packet capture length ${caplen}, bigger than maximum of ${MAX_CAPLEN}`);
    }
    const record = recordHeader + caplen;
    if (end - pos < record) {
      fill(record);
      const got = end - pos - recordHeader;
      if (got < caplen) {
        const tried = caplen > snapshot && got < snapshot ? snapshot : caplen;
        throw new SavefileError(`truncated dump file; tried to read ${tried} captured bytes, only got ${got}`);
      }
    }
    sink(buf, pos + recordHeader, caplen > snapshot ? snapshot : caplen, wirelen);
    pos += record;
  }
}
