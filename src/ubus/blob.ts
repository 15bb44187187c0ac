/**
 * The blob attribute layer underneath every ubus message (libubox "blob"):
 * a big-endian u32 header (bit 31 = extended flag, bits 30..24 = id,
 * bits 23..0 = length including the 4 header bytes but not the padding),
 * the payload, then zero bytes up to the next multiple of 4.
 */

export const BLOB_HEADER_LEN = 4;
/** The length field has 24 bits. */
export const BLOB_MAX_LEN = 0xffffff;

export class BlobError extends Error {}

export interface RawAttr {
  id: number;
  extended: boolean;
  /** Payload without header and without trailing padding. */
  payload: Buffer;
}

export function pad4(n: number): number {
  return (n + 3) & ~3;
}

/** One attribute: header, payload, zero padding up to a multiple of 4. */
export function encodeAttr(id: number, extended: boolean, payload: Buffer): Buffer {
  if (id < 0 || id > 0x7f) throw new BlobError(`blob id ${id} does not fit in 7 bits`);
  const len = BLOB_HEADER_LEN + payload.length;
  if (len > BLOB_MAX_LEN) throw new BlobError(`blob attribute of ${len} bytes is too long`);
  const out = Buffer.alloc(pad4(len));
  out.writeUInt32BE(((extended ? 0x80000000 : 0) | (id << 24) | len) >>> 0, 0);
  payload.copy(out, BLOB_HEADER_LEN);
  return out;
}

/** A container: its payload is the children, each already padded (see encodeAttr). */
export function encodeContainer(id: number, extended: boolean, children: readonly Buffer[]): Buffer {
  return encodeAttr(id, extended, Buffer.concat(children));
}

/** Reads one attribute header at `offset` of `buf`. */
export function readAttrHeader(buf: Buffer, offset: number): { id: number; extended: boolean; len: number } {
  if (offset + BLOB_HEADER_LEN > buf.length) throw new BlobError('truncated blob attribute header');
  const word = buf.readUInt32BE(offset);
  return { extended: (word & 0x80000000) !== 0, id: (word >>> 24) & 0x7f, len: word & 0xffffff };
}

/**
 * The children of a container, given the container's payload. Every length
 * must stay inside the payload; the last child may omit its padding (libubox
 * accepts that too), anything else left over is an error.
 */
export function decodeAttrs(payload: Buffer): RawAttr[] {
  const attrs: RawAttr[] = [];
  let offset = 0;
  while (offset < payload.length) {
    const { id, extended, len } = readAttrHeader(payload, offset);
    if (len < BLOB_HEADER_LEN) throw new BlobError(`blob attribute length ${len} is shorter than its header`);
    if (offset + len > payload.length) throw new BlobError(`blob attribute of ${len} bytes overruns its container`);
    attrs.push({ id, extended, payload: payload.subarray(offset + BLOB_HEADER_LEN, offset + len) });
    offset = Math.min(offset + pad4(len), payload.length);
  }
  return attrs;
}
