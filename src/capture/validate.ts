/**
 * Asks libpcap whether it accepts an expression for a link type, without a
 * live interface: libpcap compiles against an empty capture file of that type.
 *
 * Within a pass (a start or a reload: every section checks and compiles its
 * rules, and sections usually share one filter file), a verdict or a compiled
 * result is computed once per distinct input and remembered until the pass
 * ends; outside a pass nothing is remembered (host and port names may resolve
 * differently later).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DLT } from './binding';
import { CaptureHandle, MAX_SNAPLEN } from './handle';

/** DLT numbers that are stored under another LINKTYPE number in capture files. */
function fileLinkType(dlt: number): number {
  return dlt === DLT.RAW || dlt === 14 ? 101 : dlt;
}

export class ExpressionChecker {
  private readonly dir = mkdtempSync(join(tmpDir(), 'bpfcountd-'));
  private readonly files = new Map<number, string>();
  private passes = 0;
  private readonly remembered = new Map<string, unknown>();

  /** Runs `work` as (part of) a pass: results are remembered until the outermost pass ends. */
  async inPass<T>(work: () => Promise<T>): Promise<T> {
    this.passes++;
    try {
      return await work();
    } finally {
      if (--this.passes === 0) this.remembered.clear();
    }
  }

  /** compute(), or within a pass the value it gave for the same key. `key` must name every input. */
  memo<T>(key: string, compute: () => T): T {
    if (this.passes === 0) return compute();
    if (this.remembered.has(key)) return this.remembered.get(key) as T;
    const value = compute();
    this.remembered.set(key, value);
    return value;
  }

  /** libpcap's error message, or undefined when the expression compiles. */
  check(expr: string, linkType: number): string | undefined {
    return this.memo(`check\0${linkType}\0${expr}`, () => this.compile(expr, linkType));
  }

  private compile(expr: string, linkType: number): string | undefined {
    let handle: CaptureHandle;
    try {
      handle = CaptureHandle.openFile(this.emptyCapture(linkType), expr, noPackets);
    } catch (err) {
      return (err as Error).message;
    }
    handle.close();
    return undefined;
  }

  dispose(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }

  private emptyCapture(linkType: number): string {
    let path = this.files.get(linkType);
    if (!path) {
      path = join(this.dir, `empty-${linkType}.pcap`);
      const header = Buffer.alloc(24);
      header.writeUInt32LE(0xa1b2c3d4, 0);
      header.writeUInt16LE(2, 4);
      header.writeUInt16LE(4, 6);
      header.writeUInt32LE(MAX_SNAPLEN, 16);
      header.writeUInt32LE(fileLinkType(linkType), 20);
      writeFileSync(path, header);
      this.files.set(linkType, path);
    }
    return path;
  }
}

function noPackets(): void {}

/**
 * os.tmpdir() on Linux, without loading node:os before the sections count (Debian's and OpenWrt's
 * Node compile each built-in module from source at its first require).
 */
function tmpDir(): string {
  const { env } = process;
  const dir = env.TMPDIR || env.TMP || env.TEMP || '/tmp';
  return dir.length > 1 && dir.endsWith('/') ? dir.slice(0, -1) : dir;
}

/** Remembers a result by a key naming every input (ExpressionChecker.memo within a start or reload). */
export type Memo = <T>(key: string, compute: () => T) => T;
