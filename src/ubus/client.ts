/**
 * A ubus connection that serves one object. It connects to ubusd's unix
 * socket, waits for HELLO, registers the object (ADD_OBJECT with the full
 * method signature) and answers INVOKEs with DATA + STATUS, addressed by the
 * caller's (peer, seq) as ubusd forwarded them. When ubusd goes away or the
 * name is taken it retries with a doubling delay, forever, and registers again.
 *
 * Nothing here throws into the caller: every failure becomes a log line and a
 * retry, so ubus trouble never stops the counting.
 */
import type { Socket } from 'node:net';
import { loadNet } from '../net-on-demand';
import { BlobError } from './blob';
import { BlobmsgField } from './blobmsg';
import { FramingError, MessageSplitter } from './framing';
import {
  AttrId, blobmsgAttr, decodeMessage, encodeMessage, getAttr, getString, getU32, MsgType, Status, stringAttr,
  u32Attr, UbusMessage, UBUS_MAX_MSGLEN, UBUS_HEADER_LEN,
} from './message';

export const DEFAULT_UBUS_SOCKET = '/var/run/ubus/ubus.sock';

/** What a method handler returns: a ubus status and, optionally, the reply's DATA table. */
export interface MethodReply {
  status: number;
  data?: BlobmsgField[];
}

export interface InvokeContext {
  method: string;
  /** ubusd's id of the calling client. */
  peer: number;
  user?: string;
  group?: string;
}

export interface UbusMethod {
  /**
   * Announced in the signature: argument name -> blobmsg type number. ubusd
   * checks nothing against it; the handler validates its arguments itself.
   */
  args: ReadonlyArray<readonly [string, number]>;
  handle(args: BlobmsgField[], ctx: InvokeContext): MethodReply | Promise<MethodReply>;
}

export interface UbusObjectDefinition {
  path: string;
  /** In signature order. */
  methods: ReadonlyArray<readonly [string, UbusMethod]>;
}

export interface UbusClientOptions {
  socketPath: string;
  object: UbusObjectDefinition;
  log: (message: string) => void;
  /** First delay before reconnecting, doubled after each failure. Default 1000 ms. */
  retryInitialMs?: number;
  /** Upper bound of that delay. Default 30000 ms. */
  retryMaxMs?: number;
  /** How long HELLO and the ADD_OBJECT answer may take. Default 5000 ms. */
  registerTimeoutMs?: number;
}

type Phase = 'idle' | 'hello' | 'registering' | 'registered';

interface Connection {
  socket: Socket;
  splitter: MessageSplitter;
  phase: Phase;
  /** seq of our ADD_OBJECT while it is pending. */
  addSeq: number;
  objectId?: number;
  objectType?: number;
}

export class UbusObjectClient {
  private conn: Connection | undefined;
  private seq = 0;
  private closed = false;
  private delayMs: number;
  private retryTimer: NodeJS.Timeout | undefined;
  private registerTimer: NodeJS.Timeout | undefined;
  /** Set while a failure streak has been logged, so that retries stay quiet. */
  private loggedConnectFailure = false;
  private loggedNameTaken = false;
  private readonly methods: ReadonlyMap<string, UbusMethod>;
  private readonly retryInitialMs: number;
  private readonly retryMaxMs: number;
  private readonly registerTimeoutMs: number;

  constructor(private readonly opts: UbusClientOptions) {
    this.methods = new Map(opts.object.methods);
    this.retryInitialMs = opts.retryInitialMs ?? 1000;
    this.retryMaxMs = opts.retryMaxMs ?? 30000;
    this.registerTimeoutMs = opts.registerTimeoutMs ?? 5000;
    this.delayMs = this.retryInitialMs;
  }

  /** ubusd's id of the registered object, while registered. */
  get objectId(): number | undefined {
    return this.conn?.phase === 'registered' ? this.conn.objectId : undefined;
  }

  start(): void {
    this.guard('connect', () => this.connect());
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.retryTimer);
    clearTimeout(this.registerTimer);
    const c = this.conn;
    this.conn = undefined;
    c?.socket.destroy();
  }

  private log(message: string): void {
    try {
      this.opts.log(message);
    } catch {
      // A failing logger must not take the connection down.
    }
  }

  /** Runs fn; anything it throws becomes a log line and a reconnect. */
  private guard(what: string, fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.log(`ubus: internal error in ${what}: ${err instanceof Error ? err.message : String(err)}`);
      this.dropConnection();
    }
  }

  private nextSeq(): number {
    // libubus keeps one counter per context, across reconnects.
    this.seq = (this.seq + 1) & 0xffff;
    if (this.seq === 0) this.seq = 1;
    return this.seq;
  }

  private connect(): void {
    if (this.closed) return;
    const socket = loadNet().createConnection({ path: this.opts.socketPath });
    // ubus is an extra output: it must never be what keeps the daemon alive.
    socket.unref();
    const conn: Connection = { socket, splitter: new MessageSplitter(), phase: 'idle', addSeq: -1 };
    this.conn = conn;
    socket.on('connect', () => this.guard('connect', () => {
      if (this.conn !== conn) return;
      conn.phase = 'hello';
      this.armRegisterTimer(conn);
    }));
    socket.on('data', (chunk: Buffer) => this.guard('receive', () => this.onData(conn, chunk)));
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (this.conn !== conn) return;
      if (conn.phase === 'idle') {
        if (!this.loggedConnectFailure) {
          this.log(`ubus: cannot connect to ${this.opts.socketPath} (${err.code ?? err.message}); retrying in the background`);
          this.loggedConnectFailure = true;
        }
      } else {
        this.log(`ubus: connection error: ${err.code ?? err.message}`);
      }
    });
    socket.on('close', () => this.guard('close', () => {
      if (this.conn !== conn) return;
      if (conn.phase === 'registered') {
        this.log(`ubus: lost the connection to ubusd; reconnecting`);
        this.loggedConnectFailure = true;
      }
      this.conn = undefined;
      this.scheduleRetry();
    }));
  }

  private armRegisterTimer(conn: Connection): void {
    clearTimeout(this.registerTimer);
    this.registerTimer = setTimeout(() => this.guard('timeout', () => {
      if (this.conn !== conn || conn.phase === 'registered') return;
      this.log(`ubus: no answer from ubusd while registering '${this.opts.object.path}'; reconnecting`);
      this.dropConnection();
    }), this.registerTimeoutMs);
    this.registerTimer.unref();
  }

  private dropConnection(): void {
    const c = this.conn;
    if (!c) {
      this.scheduleRetry();
      return;
    }
    // 'close' follows and schedules the retry.
    c.socket.destroy();
  }

  private scheduleRetry(): void {
    if (this.closed || this.retryTimer !== undefined) return;
    clearTimeout(this.registerTimer);
    const delay = this.delayMs;
    this.delayMs = Math.min(this.delayMs * 2, this.retryMaxMs);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.guard('connect', () => this.connect());
    }, delay);
    this.retryTimer.unref();
  }

  private onData(conn: Connection, chunk: Buffer): void {
    if (this.conn !== conn) return;
    let messages: Buffer[];
    try {
      messages = conn.splitter.push(chunk);
    } catch (err) {
      if (!(err instanceof FramingError)) throw err;
      this.log(`ubus: bad data from ubusd (${err.message}); reconnecting`);
      this.dropConnection();
      return;
    }
    for (const bytes of messages) {
      if (this.conn !== conn) return;
      let msg: UbusMessage;
      try {
        msg = decodeMessage(bytes);
      } catch (err) {
        if (!(err instanceof BlobError)) throw err;
        this.log(`ubus: ignoring a malformed message from ubusd (${err.message})`);
        continue;
      }
      this.onMessage(conn, msg);
    }
  }

  private onMessage(conn: Connection, msg: UbusMessage): void {
    switch (msg.type) {
      case MsgType.HELLO:
        if (conn.phase === 'hello') this.register(conn);
        return;
      case MsgType.DATA:
        if (conn.phase === 'registering' && msg.seq === conn.addSeq) {
          conn.objectId = getU32(msg, AttrId.OBJID);
          conn.objectType = getU32(msg, AttrId.OBJTYPE);
        }
        return;
      case MsgType.STATUS:
        if (conn.phase === 'registering' && msg.seq === conn.addSeq) this.onRegisterStatus(conn, getU32(msg, AttrId.STATUS));
        return;
      case MsgType.INVOKE:
        this.onInvoke(conn, msg);
        return;
      default:
        // NOTIFY (a subscriber came or went) and anything else: no reply.
        return;
    }
  }

  private register(conn: Connection): void {
    conn.phase = 'registering';
    conn.addSeq = this.nextSeq();
    const signature: BlobmsgField[] = this.opts.object.methods.map(([name, m]) => ({
      name,
      value: { type: 'table', fields: m.args.map(([arg, type]) => ({ name: arg, value: { type: 'int32', value: type } })) },
    }));
    this.send(conn, {
      version: 0, type: MsgType.ADD_OBJECT, seq: conn.addSeq, peer: 0,
      attrs: [stringAttr(AttrId.OBJPATH, this.opts.object.path), blobmsgAttr(AttrId.SIGNATURE, signature)],
    });
  }

  private onRegisterStatus(conn: Connection, status: number | undefined): void {
    const path = this.opts.object.path;
    if (status === Status.OK && conn.objectId !== undefined) {
      clearTimeout(this.registerTimer);
      conn.phase = 'registered';
      this.delayMs = this.retryInitialMs;
      this.loggedConnectFailure = false;
      this.loggedNameTaken = false;
      this.log(`ubus: registered object '${path}' (id 0x${conn.objectId.toString(16).padStart(8, '0')})`);
      return;
    }
    // ubusd answers INVALID_ARGUMENT for every ADD_OBJECT failure; a taken name is the usual cause.
    if (!this.loggedNameTaken) {
      this.log(status === Status.INVALID_ARGUMENT
        ? `ubus: object name '${path}' is already registered by another process; retrying in the background`
        : `ubus: ubusd refused to register '${path}' (status ${String(status)}); retrying in the background`);
      this.loggedNameTaken = true;
    }
    this.dropConnection();
  }

  private onInvoke(conn: Connection, msg: UbusMessage): void {
    const objectId = getU32(msg, AttrId.OBJID);
    if (objectId === undefined) return; // libubus ignores these too: there is nowhere to address a reply
    const reply = (r: MethodReply) => this.reply(conn, msg, objectId, r);
    if (conn.phase !== 'registered' || objectId !== conn.objectId) return reply({ status: Status.NOT_FOUND });
    const method = getString(msg, AttrId.METHOD);
    if (method === undefined) return reply({ status: Status.INVALID_ARGUMENT });
    const handler = this.methods.get(method);
    if (!handler) return reply({ status: Status.METHOD_NOT_FOUND });
    const data = getAttr(msg, AttrId.DATA);
    if (!data || data.kind !== 'blobmsg') return reply({ status: Status.INVALID_ARGUMENT });
    const noReply = getU32(msg, AttrId.NO_REPLY) ?? 0;
    const ctx: InvokeContext = {
      method, peer: msg.peer, user: getString(msg, AttrId.USER), group: getString(msg, AttrId.GROUP),
    };
    const failed = (err: unknown): MethodReply => {
      this.log(`ubus: method '${method}' failed: ${err instanceof Error ? err.message : String(err)}`);
      return { status: Status.UNKNOWN_ERROR };
    };
    let result: MethodReply | Promise<MethodReply>;
    try {
      result = handler.handle(data.value, ctx);
    } catch (err) {
      result = failed(err);
    }
    const finish = (r: MethodReply) => {
      if (noReply === 0) this.guard('reply', () => reply(r));
    };
    if (result instanceof Promise) result.then(finish, (err: unknown) => finish(failed(err)));
    else finish(result);
  }

  private reply(conn: Connection, invoke: UbusMessage, objectId: number, r: MethodReply): void {
    if (this.conn !== conn) return; // the caller's peer id means nothing on a new connection
    const hdr = { version: 0, seq: invoke.seq, peer: invoke.peer };
    let status = r.status;
    if (r.data) {
      const data = encodeMessage({ ...hdr, type: MsgType.DATA, attrs: [u32Attr(AttrId.OBJID, objectId), blobmsgAttr(AttrId.DATA, r.data)] });
      // ubusd would drop the whole connection for an oversized message.
      if (data.length - UBUS_HEADER_LEN > UBUS_MAX_MSGLEN) {
        this.log(`ubus: reply of ${data.length} bytes exceeds ubus's message limit; answering UNKNOWN_ERROR`);
        status = Status.UNKNOWN_ERROR;
      } else {
        this.write(conn, data);
      }
    }
    this.send(conn, { ...hdr, type: MsgType.STATUS, attrs: [u32Attr(AttrId.STATUS, status), u32Attr(AttrId.OBJID, objectId)] });
  }

  private send(conn: Connection, msg: UbusMessage): void {
    this.write(conn, encodeMessage(msg));
  }

  private write(conn: Connection, bytes: Buffer): void {
    if (conn.socket.destroyed || !conn.socket.writable) return;
    conn.socket.write(bytes);
  }
}
