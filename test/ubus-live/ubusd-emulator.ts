/**
 * The part of ubusd a single object server talks to, on top of FakeUbusd
 * (test/ubus): HELLO with a random client id, ADD_OBJECT answered with DATA
 * (OBJID, OBJTYPE; fresh random ids) then STATUS 0, and INVOKEs forwarded the
 * way ubusd forwards `ubus call`: the caller's seq, the caller's client id as
 * peer, OBJID, METHOD, USER, GROUP, DATA. Replies are checked for the shape
 * ubusd relies on (DATA = OBJID + DATA, STATUS = STATUS then OBJID, same seq
 * and peer) and matched to their call by (peer, seq).
 * Layout and order as in test/data/ubus (scenario A and C).
 */
import { randomBytes } from 'node:crypto';
import { BlobmsgField } from '../../src/ubus/blobmsg';
import {
  AttrId, blobmsgAttr, decodeMessage, encodeMessage, getAttr, getString, getU32, MsgType, stringAttr, u32Attr,
  type UbusMessage,
} from '../../src/ubus/message';
import { FakeConnection, FakeUbusd } from '../ubus/fake-ubusd';

export function randomId(): number {
  // ubusd's ids are random u32s; 0 is never used (it means "no peer").
  for (;;) {
    const v = randomBytes(4).readUInt32BE(0);
    if (v !== 0) return v;
  }
}

/** What the object server sent to register, and what it was given. */
export interface Registration {
  clientId: number;
  objectId: number;
  typeId: number;
  /** The ADD_OBJECT as received. */
  add: UbusMessage;
  path: string | undefined;
  signature: BlobmsgField[] | undefined;
}

export interface Call {
  method: string;
  data: BlobmsgField[];
  /** Caller's client id (ubusd puts it in the forwarded INVOKE's peer). Random by default. */
  peer?: number;
  /** Caller's seq; the ubus CLI's INVOKE is always its 2nd request. */
  seq?: number;
  /** OBJID in the INVOKE; the registered object's by default. */
  objectId?: number;
}

export interface CallResult {
  status: number;
  /** The DATA attribute of each DATA reply, in order. */
  data: BlobmsgField[][];
  /** Every reply message, for shape checks. */
  replies: UbusMessage[];
}

function describe(msg: UbusMessage): string {
  return `type ${msg.type} seq ${msg.seq} peer 0x${msg.peer.toString(16)} attrs [${msg.attrs.map((a) => a.id).join(',')}]`;
}

export class EmulatedUbusd {
  private constructor(readonly fake: FakeUbusd) {}

  static async listen(socketPath: string): Promise<EmulatedUbusd> {
    return new EmulatedUbusd(await FakeUbusd.listen(socketPath));
  }

  /**
   * Waits for the object server to connect, greets it and answers its
   * ADD_OBJECT with fresh ids. Throws if the first message is not ADD_OBJECT.
   */
  async acceptObject(timeoutMs: number): Promise<ServedObject> {
    const conn = await this.fake.accept(timeoutMs);
    const clientId = randomId();
    await conn.send(encodeMessage({ version: 0, type: MsgType.HELLO, seq: 0, peer: clientId, attrs: [] }));
    const raw = await conn.next(5000);
    if (raw === null) throw new Error('object server hung up before ADD_OBJECT');
    const add = decodeMessage(raw);
    if (add.type !== MsgType.ADD_OBJECT) throw new Error(`expected ADD_OBJECT, got ${describe(add)}`);
    const objectId = randomId();
    const typeId = randomId();
    const hdr = { version: 0, seq: add.seq, peer: add.peer };
    await conn.send(Buffer.concat([
      encodeMessage({ ...hdr, type: MsgType.DATA, attrs: [u32Attr(AttrId.OBJID, objectId), u32Attr(AttrId.OBJTYPE, typeId)] }),
      encodeMessage({ ...hdr, type: MsgType.STATUS, attrs: [u32Attr(AttrId.STATUS, 0)] }),
    ]));
    const sig = getAttr(add, AttrId.SIGNATURE);
    return new ServedObject(conn, {
      clientId, objectId, typeId, add, path: getString(add, AttrId.OBJPATH),
      signature: sig && sig.kind === 'blobmsg' ? sig.value : undefined,
    });
  }

  /** ubusd going away: connections closed, socket file removed. */
  close(): Promise<void> {
    return this.fake.close();
  }
}

export class ServedObject {
  constructor(readonly conn: FakeConnection, readonly reg: Registration) {}

  get hungUp(): boolean {
    return this.conn.ended;
  }

  async call(c: Call, timeoutMs = 5000): Promise<CallResult> {
    return (await this.callMany([c], timeoutMs))[0];
  }

  /**
   * Sends every INVOKE at once (one write, as ubusd may), then reads replies
   * until each call has its STATUS. A reply that matches no pending call, or
   * breaks the shape ubusd expects, fails the whole batch.
   */
  async callMany(calls: readonly Call[], timeoutMs = 5000): Promise<CallResult[]> {
    const keyed = calls.map((c) => ({ c, peer: c.peer ?? randomId(), seq: c.seq ?? 2 }));
    const key = (peer: number, seq: number) => `${peer}/${seq}`;
    const results = new Map<string, CallResult & { done: boolean }>();
    for (const k of keyed) {
      if (results.has(key(k.peer, k.seq))) throw new Error('two pending calls with the same (peer, seq)');
      results.set(key(k.peer, k.seq), { status: -1, data: [], replies: [], done: false });
    }
    await this.conn.send(Buffer.concat(keyed.map((k) => encodeMessage({
      version: 0, type: MsgType.INVOKE, seq: k.seq, peer: k.peer,
      attrs: [
        u32Attr(AttrId.OBJID, k.c.objectId ?? this.reg.objectId),
        stringAttr(AttrId.METHOD, k.c.method),
        stringAttr(AttrId.USER, 'root'),
        stringAttr(AttrId.GROUP, 'root'),
        blobmsgAttr(AttrId.DATA, k.c.data),
      ],
    }))));
    const deadline = Date.now() + timeoutMs;
    while ([...results.values()].some((r) => !r.done)) {
      const raw = await this.conn.next(Math.max(1, deadline - Date.now()));
      if (raw === null) throw new Error('object server hung up while calls were pending');
      const msg = decodeMessage(raw);
      const r = results.get(key(msg.peer, msg.seq));
      if (!r || r.done) throw new Error(`reply to no pending call: ${describe(msg)}`);
      r.replies.push(msg);
      const objid = msg.attrs[0]?.id === AttrId.OBJID ? getU32(msg, AttrId.OBJID) : undefined;
      if (msg.version !== 0) throw new Error(`reply with version ${msg.version}`);
      if (msg.type === MsgType.DATA) {
        const data = getAttr(msg, AttrId.DATA);
        if (objid === undefined || msg.attrs.length !== 2 || !data || data.kind !== 'blobmsg') {
          throw new Error(`DATA reply is not [OBJID, DATA] (ubusd would drop it): ${describe(msg)}`);
        }
        r.data.push(data.value);
      } else if (msg.type === MsgType.STATUS) {
        const status = msg.attrs[0]?.id === AttrId.STATUS ? getU32(msg, AttrId.STATUS) : undefined;
        const second = msg.attrs[1]?.id === AttrId.OBJID ? getU32(msg, AttrId.OBJID) : undefined;
        if (status === undefined || second === undefined || msg.attrs.length !== 2) {
          throw new Error(`STATUS reply is not [STATUS, OBJID]: ${describe(msg)}`);
        }
        r.status = status;
        r.done = true;
      } else {
        throw new Error(`unexpected message while calls were pending: ${describe(msg)}`);
      }
      const expectObj = keyed.find((k) => k.peer === msg.peer && k.seq === msg.seq)?.c.objectId ?? this.reg.objectId;
      const replyObj = msg.type === MsgType.DATA ? objid : getU32(msg, AttrId.OBJID);
      if (replyObj !== expectObj) throw new Error(`reply names object 0x${replyObj?.toString(16)}, not 0x${expectObj.toString(16)}`);
    }
    return keyed.map((k) => {
      const r = results.get(key(k.peer, k.seq));
      if (!r) throw new Error('lost a result');
      return { status: r.status, data: r.data, replies: r.replies };
    });
  }
}
