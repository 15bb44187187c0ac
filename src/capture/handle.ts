/**
 * One libpcap handle (live interface or capture file) delivering packets to
 * a sink. The packet and header buffers are allocated once per handle: the
 * native side copies every packet into them, so the data path allocates
 * nothing per packet.
 */
import { linkTypeNumber, nativePcap, type NativeSession, type NativeStats } from './binding';

/** Receives each packet: the shared buffer, its captured length and its wire length. */
export type PacketSink = (packet: Buffer, caplen: number, wirelen: number) => void;

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

/**
 * open -> closing -> freed. The binding frees a handle only in a dispatch()
 * after close(), and a live dispatch() reaches that only when a packet is
 * waiting: a closed live handle is freed by the next packet that passes its
 * filter (nothing is counted any more meanwhile).
 */
type HandleState = 'open' | 'closing' | 'freed';

export class CaptureHandle {
  private readonly session: NativeSession;
  private readonly packet: Buffer;
  private readonly header: Buffer;
  private state: HandleState = 'open';
  private sink: PacketSink;
  readonly linkType: number;

  private constructor(open: (session: NativeSession, onPacket: () => void) => string, bufferLength: number, sink: PacketSink) {
    this.session = new (nativePcap().PcapSession)();
    this.sink = sink;
    const packet = Buffer.alloc(bufferLength);
    // An ArrayBuffer of its own keeps the uint32 view aligned.
    const headerBytes = new ArrayBuffer(16);
    const header32 = new Uint32Array(headerBytes);
    this.packet = packet;
    this.header = Buffer.from(headerBytes);
    const onPacket = (): void => {
      const caplen = header32[2];
      this.sink(packet, caplen < bufferLength ? caplen : bufferLength, header32[3]);
    };
    this.linkType = linkTypeNumber(open(this.session, onPacket));
  }

  /** Throws libpcap's message when the interface or the filter is refused. */
  static openLive(device: string, options: LiveOptions, sink: PacketSink): CaptureHandle {
    return new CaptureHandle(
      (session, onPacket) => session.open_live(device, options.filter, options.bufferSize, options.snapLength, '',
        onPacket, false, options.timeoutMs, ignoreWarning, true),
      options.snapLength, sink);
  }

  /** Throws libpcap's message when the file or the filter is refused. */
  static openFile(path: string, filter: string, sink: PacketSink): CaptureHandle {
    return new CaptureHandle(
      (session, onPacket) => session.open_offline(path, filter, 0, 0, '', onPacket, false, 0, ignoreWarning, false),
      MAX_SNAPLEN, sink);
  }

  /** Reads a capture file to its end. */
  readAll(): void {
    if (this.dispatch() === -1) throw new Error('libpcap could not read the capture file (truncated or corrupt?)');
  }

  private dispatch(): number {
    if (this.state === 'freed') return -2;
    const result = this.session.dispatch(this.packet, this.header);
    if (result === -2) this.state = 'freed';
    return result;
  }

  /**
   * Starts delivering live packets from the event loop. `onError` is called
   * once if libpcap reports an error (e.g. the interface went away).
   */
  startLive(onError: (message: string) => void, alreadyPolling = false): void {
    this.session.read_callback = () => {
      const result = this.dispatch();
      if (result === -1 && this.state === 'open') onError('libpcap read error');
    };
    if (alreadyPolling) return;
    this.session.start_polling();
    // Packets may already be waiting before the first poll event.
    setImmediate(() => this.session.read_callback?.());
  }

  /** Where packets go from now on; returns where they went. For handing a handle to a reloaded rule set. */
  retarget(sink: PacketSink): PacketSink {
    const previous = this.sink;
    if (this.state === 'open') this.sink = sink;
    return previous;
  }

  stats(): NativeStats | undefined {
    if (this.state !== 'open') return undefined;
    try {
      return this.session.stats();
    } catch {
      return undefined;
    }
  }

  close(): void {
    if (this.state !== 'open') return;
    this.state = 'closing';
    this.sink = ignorePacket;
    this.session.close();
    this.dispatch();
  }
}

/** pcap_lookupnet() fails on interfaces without IPv4 address; that only matters for `ip broadcast`. */
function ignoreWarning(): void {}

function ignorePacket(): void {}
