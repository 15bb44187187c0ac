/**
 * One libpcap handle (live interface or capture file) delivering packets to
 * a sink in batches. The native side copies every ready packet into one batch
 * buffer and its header array and calls JavaScript once per batch, so the
 * data path allocates nothing per packet. Dispatches never overlap (they run
 * to completion on the event loop), so every handle shares the same batch
 * arrays: a reload or re-attach allocates none, and nothing waits for the
 * garbage collector.
 */
import { traceHandle } from '../startup-trace';
import { linkTypeNumber, nativePcap, type NativeSession, type NativeStats } from './binding';

/**
 * Receives `count` packets: packet i lies in `data` at `headers[3i]`, is
 * `headers[3i + 1]` bytes long as captured and was `headers[3i + 2]` bytes
 * on the wire. Both arrays are reused for the next batch.
 */
export type BatchSink = (data: Uint8Array, headers: Uint32Array, count: number) => void;

export interface LiveOptions {
  /** Kernel filter ('' = every packet). */
  filter: string;
  snapLength: number;
  bufferSize: number;
  /** libpcap's buffer timeout; 0 means immediate mode. */
  timeoutMs: number;
}

/** The largest snap length libpcap uses (MAXIMUM_SNAPLEN). */
export const MAX_SNAPLEN = 262144;

/** Packets per batch at most, and the batch buffer's size (at least one whole packet of the largest snap length). */
const BATCH_PACKETS = 4096;
const BATCH_BYTES = MAX_SNAPLEN;

/** The batch arrays every handle dispatches into (sinks must not keep them past their call). */
const batch = {
  data: Buffer.alloc(0),
  headers: new Uint32Array(0),
  headerBytes: Buffer.alloc(0),
  busy: false,
};
function batchArrays(): typeof batch {
  if (batch.data.length === 0) {
    batch.data = Buffer.alloc(BATCH_BYTES);
    // An ArrayBuffer of its own keeps the uint32 view aligned.
    batch.headers = new Uint32Array(new ArrayBuffer(BATCH_PACKETS * 12));
    batch.headerBytes = Buffer.from(batch.headers.buffer);
  }
  return batch;
}

export class CaptureHandle {
  private readonly session: NativeSession;
  private open = true;
  private sink: BatchSink;
  readonly linkType: number;

  private constructor(open: (session: NativeSession) => string, sink: BatchSink) {
    this.session = new (nativePcap().PcapSession)();
    this.sink = sink;
    try {
      this.linkType = linkTypeNumber(open(this.session));
    } catch (err) {
      // Whatever libpcap opened before refusing is given back now.
      this.session.close();
      throw err;
    }
  }

  /** Throws libpcap's message when the interface or the filter is refused. */
  static openLive(device: string, options: LiveOptions, sink: BatchSink): CaptureHandle {
    traceHandle('live');
    return new CaptureHandle(
      (session) => session.open_live(device, options.filter, options.bufferSize, options.snapLength, '',
        ignorePacket, false, options.timeoutMs, ignoreWarning, true),
      sink);
  }

  /** Throws libpcap's message when the file or the filter is refused. */
  static openFile(path: string, filter: string, sink: BatchSink): CaptureHandle {
    traceHandle('offline');
    return new CaptureHandle(
      (session) => session.open_offline(path, filter, 0, 0, '', ignorePacket, false, 0, ignoreWarning, false),
      sink);
  }

  /** Reads a capture file to its end. */
  readAll(): void {
    if (this.dispatch() === -1) throw new Error('libpcap could not read the capture file (truncated or corrupt?)');
  }

  private dispatch(): number {
    if (!this.open) return -2;
    const arrays = batchArrays();
    if (arrays.busy) throw new Error('capture dispatch inside another dispatch');
    arrays.busy = true;
    let result: number;
    try {
      result = this.session.dispatch_batch(arrays.data, arrays.headerBytes, this.deliver);
    } finally {
      arrays.busy = false;
    }
    if (result === -2) this.open = false;
    return result;
  }

  /** Reads this.sink per batch: follows retarget() and close() made from inside a batch. */
  private readonly deliver = (count: number): void => this.sink(batch.data, batch.headers, count);

  /**
   * Starts delivering live packets from the event loop. `onError` is called
   * once if libpcap reports an error (e.g. the interface went away).
   */
  startLive(onError: (message: string) => void, alreadyPolling = false): void {
    let reported = false;
    const report = (): void => {
      if (this.open && !reported) {
        reported = true;
        onError('libpcap read error');
      }
    };
    this.session.read_callback = () => {
      if (this.dispatch() === -1) report();
    };
    // Each wake-up is read in C++ and enters JavaScript once, here: with
    // one wake-up per 256 KiB ring block (some 100 a second for small frames
    // at 150k/s), the read_callback -> dispatch_batch -> onBatch round trip
    // cost some 8% of the daemon's CPU. read_callback stays for the first
    // read (setImmediate below).
    const arrays = batchArrays();
    this.session.read_on_wake_up(arrays.data, arrays.headerBytes, (count: number): void => {
      if (count < 0) {
        report();
        return;
      }
      arrays.busy = true;
      try {
        this.sink(arrays.data, arrays.headers, count);
      } finally {
        arrays.busy = false;
      }
    });
    if (alreadyPolling) return;
    this.session.start_polling();
    // Packets may already be waiting before the first poll event.
    setImmediate(() => this.session.read_callback?.());
  }

  /** Whether this binding can narrow a running capture's kernel filter (replaceFilter). */
  static canReplaceFilter(): boolean {
    return typeof nativePcap().PcapSession.prototype.replace_filter === 'function';
  }

  /**
   * Narrows the kernel filter of a running live capture; what the ring holds already is kept.
   * False when it cannot be done here (cooked socket, the kernel refused it): the old filter stays.
   * Throws libpcap's message when the expression does not compile.
   */
  replaceFilter(filter: string): boolean {
    if (!this.open || typeof this.session.replace_filter !== 'function') return false;
    return this.session.replace_filter(filter);
  }

  /** Where packets go from now on; returns where they went. For handing a handle to a reloaded rule set. */
  retarget(sink: BatchSink): BatchSink {
    const previous = this.sink;
    if (this.open) this.sink = sink;
    return previous;
  }

  stats(): NativeStats | undefined {
    if (!this.open) return undefined;
    try {
      return this.session.stats();
    } catch {
      return undefined;
    }
  }

  /** Gives back the socket and its ring at once (from inside a batch: when that dispatch returns). */
  close(): void {
    if (!this.open) return;
    this.open = false;
    this.sink = ignoreBatch;
    this.session.read_callback = undefined;
    this.session.close();
  }
}

/** pcap_lookupnet() fails on interfaces without IPv4 address; that only matters for `ip broadcast`. */
function ignoreWarning(): void {}

function ignorePacket(): void {}

function ignoreBatch(): void {}
