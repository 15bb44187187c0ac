/**
 * The native half of the npm package `pcap`, loaded without the package's
 * JavaScript packet decoders (they would cost ~10 MB of RSS we never use).
 */

/** libpcap's pcap_stats(). */
export interface NativeStats {
  ps_recv: number;
  ps_drop: number;
  ps_ifdrop: number;
}

/** The methods of pcap_binding.node's PcapSession (see the package's pcap_session.cc). */
export interface NativeSession {
  /** Returns a `LINKTYPE_*` name or `Unknown linktype <n>`; throws libpcap's message on error. */
  open_live(device: string, filter: string, bufferSize: number, snapLength: number, dumpFile: string,
    onPacket: () => void, monitor: boolean, bufferTimeoutMs: number, onWarning: (message: string) => void,
    promiscuous: boolean): string;
  open_offline(path: string, filter: string, bufferSize: number, snapLength: number, dumpFile: string,
    onPacket: () => void, monitor: boolean, bufferTimeoutMs: number, onWarning: (message: string) => void,
    promiscuous: boolean): string;
  /**
   * Delivers every packet that is ready, one onPacket() call each, copying it
   * into `packet` and its header (tv_sec, tv_usec, caplen, len as native
   * uint32) into `header`. Returns 0 when nothing is left, -1 on error, -2
   * after close() (the handle is then freed).
   */
  dispatch(packet: Buffer, header: Buffer): number;
  /**
   * Delivers every packet that is ready in batches: packets copied back to
   * back into `data`, and (offset, caplen, wirelen) per packet as native
   * uint32 into `headers`; `onBatch(count)` is called whenever either is full
   * and once at the end. Returns 0 when nothing is left, -1 on error, -2 after
   * close(). (Added by openwrt/node-pcap/patches.)
   */
  dispatch_batch(data: Buffer, headers: Buffer, onBatch: (count: number) => void): number;
  /**
   * From now on every poll wake-up reads as dispatch_batch() into these
   * arrays in C++ and calls `onBatch(count)` per batch, `onBatch(-1)` once a
   * read fails, instead of `read_callback`. (Added by openwrt/node-pcap/patches.)
   */
  read_on_wake_up(data: Buffer, headers: Buffer, onBatch: (count: number) => void): void;
  /**
   * Narrows a running live capture's kernel filter: compiled by libpcap, swapped in by the kernel
   * at once, nothing skipped or re-filtered. False (old filter kept) for cooked sockets or when
   * the kernel refuses the program; throws libpcap's message. (Added by openwrt/node-pcap/patches.)
   */
  replace_filter?(filter: string): boolean;
  /** Makes libuv call `read_callback` whenever the capture fd is readable. */
  start_polling(): void;
  read_callback?: () => void;
  /**
   * Frees the socket, its ring and the poll handle at once; from inside a
   * dispatch, when that dispatch returns (patched: the npm package freed a
   * handle only in the next read).
   */
  close(): void;
  stats(): NativeStats;
}

interface NativeModule {
  PcapSession: { new (): NativeSession; prototype: Partial<NativeSession> };
  lib_version(): string;
  /**
   * libpcap's message when pcap_compile() (optimiser on) refuses the expression for that link
   * type on a dead handle, else undefined. (Added by openwrt/node-pcap/patches.)
   */
  check_filter(dlt: number, snapLength: number, filter: string): string | undefined;
}

let loaded: NativeModule | undefined;

/** Where the addon is, as require() would find it; on OpenWrt it may be installed without the package's JS. */
const ADDON_IDS = ['pcap/build/Release/pcap_binding.node', 'pcap/pcap_binding.node'];

/**
 * The addon, found as require() finds it (the bundle's node_modules up the tree, then NODE_PATH
 * and Node's global folders, /usr/lib/node on OpenWrt) and loaded with process.dlopen(), as
 * require() loads it. require() itself would also set up Node's module loaders for this first
 * file module: 8 of its 28 ms under qemu-user (mipsel), some 0.2 s of an emulated router's start.
 */
export function nativePcap(): NativeModule {
  if (loaded) return loaded;
  const tried: string[] = [];
  for (const id of ADDON_IDS) {
    try {
      const addon = { exports: {} };
      process.dlopen(addon, require.resolve(id));
      loaded = addon.exports as NativeModule;
      return loaded;
    } catch (err) {
      tried.push(`${id}: ${(err as Error).message.split('\n')[0]}`);
    }
  }
  throw new Error(`cannot load the libpcap binding (npm package 'pcap'): ${tried.join('; ')}`);
}

/** DLT numbers as pcap_datalink() returns them on Linux. */
export const DLT = { NULL: 0, EN10MB: 1, RAW: 12, IEEE802_11_RADIO: 127, LINUX_SLL: 113, LINUX_SLL2: 276 } as const;

/** The binding names a handful of link types and prints the number of the rest. */
export function linkTypeNumber(name: string): number {
  switch (name) {
    case 'LINKTYPE_NULL': return DLT.NULL;
    case 'LINKTYPE_ETHERNET': return DLT.EN10MB;
    case 'LINKTYPE_RAW': return DLT.RAW;
    case 'LINKTYPE_LINUX_SLL': return DLT.LINUX_SLL;
    case 'LINKTYPE_IEEE802_11_RADIO': return DLT.IEEE802_11_RADIO;
  }
  const m = /^Unknown linktype (\d+)$/.exec(name);
  if (!m) throw new Error(`unexpected link type from the pcap binding: ${name}`);
  return Number(m[1]);
}
