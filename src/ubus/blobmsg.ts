/**
 * blobmsg: named, typed values inside blob containers (ubus DATA and
 * SIGNATURE). Every blobmsg attribute has the extended flag set, its id is the
 * type, and its payload starts with a name header: big-endian u16 length, the
 * name, a NUL, zero padding to a multiple of 4. Array elements have an empty
 * name. All numbers are big-endian.
 */
import { BlobError, decodeAttrs, encodeAttr, pad4, RawAttr } from './blob';

export const BlobmsgType = {
  UNSPEC: 0,
  ARRAY: 1,
  TABLE: 2,
  STRING: 3,
  INT64: 4,
  INT32: 5,
  INT16: 6,
  /** Also BOOL: the wire cannot tell them apart. */
  INT8: 7,
  DOUBLE: 8,
} as const;

export type BlobmsgValue =
  | { type: 'unspec'; data: Buffer }
  | { type: 'array'; items: BlobmsgValue[] }
  | { type: 'table'; fields: BlobmsgField[] }
  | { type: 'string'; value: string }
  | { type: 'int64'; value: bigint }
  | { type: 'int32'; value: number }
  | { type: 'int16'; value: number }
  | { type: 'int8'; value: number }
  | { type: 'double'; value: number };

export interface BlobmsgField {
  name: string;
  value: BlobmsgValue;
}

const NUL = Buffer.alloc(1);

function nameHeader(name: string): Buffer {
  const bytes = Buffer.from(name, 'utf8');
  if (bytes.length > 0xffff) throw new BlobError('blobmsg name longer than 65535 bytes');
  const hdr = Buffer.alloc(pad4(2 + bytes.length + 1));
  hdr.writeUInt16BE(bytes.length, 0);
  bytes.copy(hdr, 2);
  return hdr;
}

function typeId(value: BlobmsgValue): number {
  switch (value.type) {
    case 'unspec': return BlobmsgType.UNSPEC;
    case 'array': return BlobmsgType.ARRAY;
    case 'table': return BlobmsgType.TABLE;
    case 'string': return BlobmsgType.STRING;
    case 'int64': return BlobmsgType.INT64;
    case 'int32': return BlobmsgType.INT32;
    case 'int16': return BlobmsgType.INT16;
    case 'int8': return BlobmsgType.INT8;
    case 'double': return BlobmsgType.DOUBLE;
  }
}

function valueBytes(value: BlobmsgValue): Buffer {
  let b: Buffer;
  switch (value.type) {
    case 'unspec': return value.data;
    case 'array': return Buffer.concat(value.items.map((item) => encodeField('', item)));
    case 'table': return encodeFields(value.fields);
    case 'string': return Buffer.concat([Buffer.from(value.value, 'utf8'), NUL]);
    case 'int64':
      b = Buffer.alloc(8);
      b.writeBigUInt64BE(BigInt.asUintN(64, value.value));
      return b;
    case 'int32':
      b = Buffer.alloc(4);
      b.writeUInt32BE(value.value >>> 0);
      return b;
    case 'int16':
      b = Buffer.alloc(2);
      b.writeUInt16BE(value.value & 0xffff);
      return b;
    case 'int8':
      return Buffer.from([value.value & 0xff]);
    case 'double':
      b = Buffer.alloc(8);
      b.writeDoubleBE(value.value);
      return b;
  }
}

/** One named attribute, padded to a multiple of 4. */
export function encodeField(name: string, value: BlobmsgValue): Buffer {
  return encodeAttr(typeId(value), true, Buffer.concat([nameHeader(name), valueBytes(value)]));
}

/** The children of a table (or of ubus DATA / SIGNATURE). */
export function encodeFields(fields: readonly BlobmsgField[]): Buffer {
  return Buffer.concat(fields.map((f) => encodeField(f.name, f.value)));
}

function fixedSize(data: Buffer, size: number, what: string): void {
  if (data.length !== size) throw new BlobError(`blobmsg ${what} has ${data.length} bytes, expected ${size}`);
}

/**
 * Deepest nesting of arrays and tables decoded. libubox sets none, but a
 * message from the bus must not exhaust the daemon's stack (1 MiB of bytes
 * can nest 130000 levels); real ubus calls nest a handful.
 */
export const MAX_NESTING = 64;

/** Decodes one blobmsg attribute (already split off by decodeAttrs). */
export function decodeField(attr: RawAttr, depth = 0): BlobmsgField {
  if (depth > MAX_NESTING) throw new BlobError(`blobmsg nested deeper than ${MAX_NESTING} levels`);
  if (!attr.extended) throw new BlobError('blobmsg attribute without the extended flag');
  const p = attr.payload;
  if (p.length < 2) throw new BlobError('blobmsg attribute too short for its name length');
  const nameLen = p.readUInt16BE(0);
  const hdrLen = pad4(2 + nameLen + 1);
  if (hdrLen > p.length) throw new BlobError('blobmsg name overruns its attribute');
  if (p[2 + nameLen] !== 0) throw new BlobError('blobmsg name is not NUL-terminated');
  const name = p.toString('utf8', 2, 2 + nameLen);
  const data = p.subarray(hdrLen);
  let value: BlobmsgValue;
  switch (attr.id) {
    case BlobmsgType.UNSPEC:
      value = { type: 'unspec', data: Buffer.from(data) };
      break;
    case BlobmsgType.ARRAY:
      value = { type: 'array', items: decodeAttrs(data).map((a) => decodeField(a, depth + 1).value) };
      break;
    case BlobmsgType.TABLE:
      value = { type: 'table', fields: decodeFields(data, depth + 1) };
      break;
    case BlobmsgType.STRING:
      if (data.length < 1 || data[data.length - 1] !== 0) throw new BlobError('blobmsg string is not NUL-terminated');
      value = { type: 'string', value: data.toString('utf8', 0, data.length - 1) };
      break;
    case BlobmsgType.INT64:
      fixedSize(data, 8, 'int64');
      value = { type: 'int64', value: data.readBigInt64BE(0) };
      break;
    case BlobmsgType.INT32:
      fixedSize(data, 4, 'int32');
      value = { type: 'int32', value: data.readInt32BE(0) };
      break;
    case BlobmsgType.INT16:
      fixedSize(data, 2, 'int16');
      value = { type: 'int16', value: data.readInt16BE(0) };
      break;
    case BlobmsgType.INT8:
      fixedSize(data, 1, 'int8');
      value = { type: 'int8', value: data.readInt8(0) };
      break;
    case BlobmsgType.DOUBLE:
      fixedSize(data, 8, 'double');
      value = { type: 'double', value: data.readDoubleBE(0) };
      break;
    default:
      throw new BlobError(`unknown blobmsg type ${attr.id}`);
  }
  return { name, value };
}

/** Decodes the children of a table-like container payload. */
export function decodeFields(payload: Buffer, depth = 0): BlobmsgField[] {
  return decodeAttrs(payload).map((a) => decodeField(a, depth));
}

/** The last field of that name (as libubox's blobmsg_parse keeps it), if any. */
export function findField(fields: readonly BlobmsgField[], name: string): BlobmsgValue | undefined {
  let found: BlobmsgValue | undefined;
  for (const f of fields) if (f.name === name) found = f.value;
  return found;
}

/** Integer value of either width, as a JS number (bigint beyond 2^53). */
export function integerOf(value: BlobmsgValue): number | bigint | undefined {
  switch (value.type) {
    case 'int64': {
      const n = Number(value.value);
      return Number.isSafeInteger(n) ? n : value.value;
    }
    case 'int32':
    case 'int16':
    case 'int8':
      return value.value;
    default:
      return undefined;
  }
}

export type JsonLike = null | boolean | number | bigint | string | JsonLike[] | { [key: string]: JsonLike | undefined };

/**
 * JS value -> blobmsg: integral numbers become INT64 (counters exceed 32
 * bits), other numbers DOUBLE, booleans INT8, null UNSPEC (printed as null
 * by the ubus CLI); undefined members are left out. NaN and Infinity become
 * UNSPEC too: libubox would print them as bare `nan`/`inf`, which is not JSON.
 */
export function fromJs(value: JsonLike): BlobmsgValue {
  if (value === null) return { type: 'unspec', data: Buffer.alloc(0) };
  if (Array.isArray(value)) return { type: 'array', items: value.map(fromJs) };
  switch (typeof value) {
    case 'boolean': return { type: 'int8', value: value ? 1 : 0 };
    case 'bigint': return { type: 'int64', value };
    case 'number':
      if (!Number.isFinite(value)) return { type: 'unspec', data: Buffer.alloc(0) };
      return Number.isInteger(value) && Math.abs(value) < 2 ** 63
        ? { type: 'int64', value: BigInt(value) }
        : { type: 'double', value };
    case 'string': return { type: 'string', value };
    default: return { type: 'table', fields: tableFromJs(value) };
  }
}

export function tableFromJs(obj: { [key: string]: JsonLike | undefined }): BlobmsgField[] {
  const fields: BlobmsgField[] = [];
  for (const [name, v] of Object.entries(obj)) if (v !== undefined) fields.push({ name, value: fromJs(v) });
  return fields;
}

/** blobmsg -> JS, the way the ubus CLI prints it (INT8 as boolean, INT64 as bigint only beyond 2^53). */
export function toJs(value: BlobmsgValue): JsonLike {
  switch (value.type) {
    case 'unspec': return null;
    case 'array': return value.items.map(toJs);
    case 'table': return tableToJs(value.fields);
    case 'string': return value.value;
    case 'int8': return value.value !== 0;
    case 'double': return value.value;
    default: return integerOf(value) ?? null;
  }
}

export function tableToJs(fields: readonly BlobmsgField[]): { [key: string]: JsonLike } {
  const out: { [key: string]: JsonLike } = {};
  for (const f of fields) out[f.name] = toJs(f.value);
  return out;
}
