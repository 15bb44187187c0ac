/**
 * ubus messages: an 8-byte header (version u8, type u8, seq u16 BE, peer u32 BE)
 * followed by one blob container (id 0) holding the ubus attributes.
 * Numeric values as in ubusmsg.h.
 */
import { BlobError, decodeAttrs, encodeAttr, readAttrHeader, BLOB_HEADER_LEN } from './blob';
import { BlobmsgField, decodeFields, encodeFields } from './blobmsg';

export const UBUS_HEADER_LEN = 8;
/** ubusd disconnects a client that announces a longer message (UBUS_MAX_MSGLEN). */
export const UBUS_MAX_MSGLEN = 1048576;

export const MsgType = {
  HELLO: 0,
  STATUS: 1,
  DATA: 2,
  PING: 3,
  LOOKUP: 4,
  INVOKE: 5,
  ADD_OBJECT: 6,
  REMOVE_OBJECT: 7,
  SUBSCRIBE: 8,
  UNSUBSCRIBE: 9,
  NOTIFY: 10,
  MONITOR: 11,
} as const;

export const AttrId = {
  UNSPEC: 0,
  STATUS: 1,
  OBJPATH: 2,
  OBJID: 3,
  METHOD: 4,
  OBJTYPE: 5,
  SIGNATURE: 6,
  DATA: 7,
  TARGET: 8,
  ACTIVE: 9,
  NO_REPLY: 10,
  SUBSCRIBERS: 11,
  USER: 12,
  GROUP: 13,
} as const;

export const Status = {
  OK: 0,
  INVALID_COMMAND: 1,
  INVALID_ARGUMENT: 2,
  METHOD_NOT_FOUND: 3,
  NOT_FOUND: 4,
  NO_DATA: 5,
  PERMISSION_DENIED: 6,
  TIMEOUT: 7,
  NOT_SUPPORTED: 8,
  UNKNOWN_ERROR: 9,
  CONNECTION_FAILED: 10,
  NO_MEMORY: 11,
  PARSE_ERROR: 12,
  SYSTEM_ERROR: 13,
} as const;

/** How each known ubus attribute's payload is laid out. */
type AttrKind = 'u32' | 'u8' | 'string' | 'blobmsg';
const ATTR_KIND: ReadonlyMap<number, AttrKind> = new Map<number, AttrKind>([
  [AttrId.STATUS, 'u32'],
  [AttrId.OBJPATH, 'string'],
  [AttrId.OBJID, 'u32'],
  [AttrId.METHOD, 'string'],
  [AttrId.OBJTYPE, 'u32'],
  [AttrId.SIGNATURE, 'blobmsg'],
  [AttrId.DATA, 'blobmsg'],
  [AttrId.TARGET, 'u32'],
  [AttrId.ACTIVE, 'u8'],
  [AttrId.NO_REPLY, 'u8'],
  [AttrId.USER, 'string'],
  [AttrId.GROUP, 'string'],
]);

export type UbusAttr =
  | { id: number; kind: 'u32'; value: number }
  | { id: number; kind: 'u8'; value: number }
  | { id: number; kind: 'string'; value: string }
  | { id: number; kind: 'blobmsg'; value: BlobmsgField[] }
  /** Unknown attributes, and known ones whose payload does not decode. */
  | { id: number; kind: 'raw'; extended: boolean; value: Buffer };

export interface UbusMessage {
  version: number;
  type: number;
  seq: number;
  peer: number;
  attrs: UbusAttr[];
}

export const u32Attr = (id: number, value: number): UbusAttr => ({ id, kind: 'u32', value });
export const stringAttr = (id: number, value: string): UbusAttr => ({ id, kind: 'string', value });
export const blobmsgAttr = (id: number, value: BlobmsgField[]): UbusAttr => ({ id, kind: 'blobmsg', value });

function encodeUbusAttr(attr: UbusAttr): Buffer {
  let b: Buffer;
  switch (attr.kind) {
    case 'u32':
      b = Buffer.alloc(4);
      b.writeUInt32BE(attr.value >>> 0);
      return encodeAttr(attr.id, false, b);
    case 'u8':
      return encodeAttr(attr.id, false, Buffer.from([attr.value & 0xff]));
    case 'string':
      return encodeAttr(attr.id, false, Buffer.concat([Buffer.from(attr.value, 'utf8'), Buffer.alloc(1)]));
    case 'blobmsg':
      return encodeAttr(attr.id, false, encodeFields(attr.value));
    case 'raw':
      return encodeAttr(attr.id, attr.extended, attr.value);
  }
}

/** The whole message as it goes on the wire. */
export function encodeMessage(msg: UbusMessage): Buffer {
  const body = encodeAttr(0, false, Buffer.concat(msg.attrs.map(encodeUbusAttr)));
  const hdr = Buffer.alloc(UBUS_HEADER_LEN);
  hdr.writeUInt8(msg.version & 0xff, 0);
  hdr.writeUInt8(msg.type & 0xff, 1);
  hdr.writeUInt16BE(msg.seq & 0xffff, 2);
  hdr.writeUInt32BE(msg.peer >>> 0, 4);
  return Buffer.concat([hdr, body]);
}

function decodeUbusAttr(id: number, extended: boolean, p: Buffer): UbusAttr {
  const kind = extended ? undefined : ATTR_KIND.get(id);
  try {
    switch (kind) {
      case 'u32':
        if (p.length === 4) return { id, kind, value: p.readUInt32BE(0) };
        break;
      case 'u8':
        if (p.length === 1) return { id, kind, value: p[0] };
        break;
      case 'string':
        if (p.length >= 1 && p[p.length - 1] === 0) return { id, kind, value: p.toString('utf8', 0, p.length - 1) };
        break;
      case 'blobmsg':
        return { id, kind, value: decodeFields(p) };
    }
  } catch (err) {
    if (!(err instanceof BlobError)) throw err;
  }
  return { id, kind: 'raw', extended, value: Buffer.from(p) };
}

/**
 * Decodes one whole message (header + top-level container, as cut by the
 * framing layer). Throws BlobError when the outer structure is broken; an
 * attribute whose payload does not decode is kept as 'raw'.
 */
export function decodeMessage(buf: Buffer): UbusMessage {
  if (buf.length < UBUS_HEADER_LEN + BLOB_HEADER_LEN) throw new BlobError('ubus message shorter than its headers');
  const top = readAttrHeader(buf, UBUS_HEADER_LEN);
  if (UBUS_HEADER_LEN + top.len !== buf.length) throw new BlobError('ubus message length does not match its container');
  const attrs = decodeAttrs(buf.subarray(UBUS_HEADER_LEN + BLOB_HEADER_LEN)).map((a) =>
    decodeUbusAttr(a.id, a.extended, a.payload),
  );
  return { version: buf[0], type: buf[1], seq: buf.readUInt16BE(2), peer: buf.readUInt32BE(4), attrs };
}

export function getU32(msg: UbusMessage, id: number): number | undefined {
  const a = msg.attrs.find((x) => x.id === id);
  return a && (a.kind === 'u32' || a.kind === 'u8') ? a.value : undefined;
}

export function getString(msg: UbusMessage, id: number): string | undefined {
  const a = msg.attrs.find((x) => x.id === id);
  return a && a.kind === 'string' ? a.value : undefined;
}

export function getAttr(msg: UbusMessage, id: number): UbusAttr | undefined {
  return msg.attrs.find((x) => x.id === id);
}
