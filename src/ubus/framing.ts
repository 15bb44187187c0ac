/**
 * Cuts a ubus byte stream into whole messages. Reads may end anywhere and may
 * hold several messages; the length comes from the top-level blob header
 * (bytes 8..11), so a message is 8 + that length bytes long.
 */
import { BLOB_HEADER_LEN } from './blob';
import { UBUS_HEADER_LEN, UBUS_MAX_MSGLEN } from './message';

export class FramingError extends Error {}

const PREFIX_LEN = UBUS_HEADER_LEN + BLOB_HEADER_LEN;

export class MessageSplitter {
  private chunks: Buffer[] = [];
  private buffered = 0;

  constructor(private readonly maxBodyLen: number = UBUS_MAX_MSGLEN) {}

  /** Bytes received so far that do not yet form a whole message. */
  get pendingBytes(): number {
    return this.buffered;
  }

  /**
   * Adds a chunk and returns the messages it completes, each as its own
   * Buffer. Throws FramingError when a header announces an impossible length;
   * the stream cannot be resynchronised after that.
   */
  push(chunk: Buffer): Buffer[] {
    if (chunk.length === 0) return [];
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    const out: Buffer[] = [];
    for (;;) {
      if (this.buffered < PREFIX_LEN) break;
      const head = this.peek(PREFIX_LEN);
      const bodyLen = head.readUInt32BE(UBUS_HEADER_LEN) & 0xffffff;
      if (bodyLen < BLOB_HEADER_LEN) throw new FramingError(`message body length ${bodyLen} is shorter than a blob header`);
      if (bodyLen > this.maxBodyLen) throw new FramingError(`message body of ${bodyLen} bytes exceeds ${this.maxBodyLen}`);
      const total = UBUS_HEADER_LEN + bodyLen;
      if (this.buffered < total) break;
      out.push(this.take(total));
    }
    return out;
  }

  /** The first n buffered bytes, joining chunks only when needed. */
  private peek(n: number): Buffer {
    if (this.chunks[0].length >= n) return this.chunks[0];
    this.chunks = [Buffer.concat(this.chunks)];
    return this.chunks[0];
  }

  private take(n: number): Buffer {
    const joined = this.peek(n);
    // Copy so that the message does not pin a larger read buffer.
    const msg = Buffer.from(joined.subarray(0, n));
    if (joined.length === n) this.chunks.shift();
    else this.chunks[0] = joined.subarray(n);
    this.buffered -= n;
    return msg;
  }
}
