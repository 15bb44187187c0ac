/**
 * Every file system call of the daemon, all synchronous, in one place.
 *
 * Why not node:fs directly: the first `require('node:fs')` from user code makes Node build an
 * ES-module facade of fs, reading each of its exports; the `promises` and `ReadStream` getters
 * load 31 more of Node's modules (streams, readline, fs promises). The Node builds of Debian and
 * OpenWrt for routers have no code cache, so those are compiled from source: 2.5 s of a start
 * on emulated mipsel, a quarter of `node -e 0`. On Node 18 (OpenWrt 23.05) these calls go to
 * fs's binding instead, the C++ half that node:fs itself calls (`process.binding('fs')`); its
 * calling convention (arguments, then `undefined` for "no callback", then an object that
 * receives errno and syscall) is the one node:fs itself uses there (checked on 18.20.4 and 18.20.8;
 * the 18 line gets no more releases). Any other Node gets node:fs, loaded at the first call: its
 * binding's convention changed within 20.x.
 */
import type * as NodeFs from 'node:fs';

/** What a stat says that the daemon uses. */
export interface FileStatus {
  ino: number;
  isFile: boolean;
  isDirectory: boolean;
  isSocket: boolean;
}

/** The primitive calls; errors are thrown as Node's are (code, errno, syscall, path). */
export interface FileSystem {
  readonly via: 'Node 18 binding' | 'node:fs';
  readFile(path: string): Buffer;
  readDir(path: string): string[];
  /** stat() (follow = true) or lstat(). */
  status(path: string, follow: boolean): FileStatus;
  exists(path: string): boolean;
  makeDir(path: string, recursive: boolean): void;
  changeMode(path: string, mode: number): void;
  unlink(path: string): void;
  rename(from: string, to: string): void;
  writeFile(path: string, text: string): void;
  openRead(path: string): number;
  fdStatus(fd: number): FileStatus;
  /** position -1: from the current offset. */
  read(fd: number, buffer: Uint8Array, offset: number, length: number, position: number): number;
  write(fd: number, bytes: Uint8Array, offset: number): number;
  close(fd: number): void;
}

const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;
const S_IFSOCK = 0o140000;

function statusOf(mode: number, ino: number): FileStatus {
  const type = mode & S_IFMT;
  return { ino, isFile: type === S_IFREG, isDirectory: type === S_IFDIR, isSocket: type === S_IFSOCK };
}

/** node:fs, required at the first call. */
export function nodeFileSystem(): FileSystem {
  let loaded: typeof NodeFs | undefined;
  const fs = (): typeof NodeFs => (loaded ??= require('node:fs') as typeof NodeFs);
  const fromStats = (s: NodeFs.Stats): FileStatus => statusOf(s.mode, s.ino);
  return {
    via: 'node:fs',
    readFile: (path) => fs().readFileSync(path),
    readDir: (path) => fs().readdirSync(path),
    status: (path, follow) => fromStats(follow ? fs().statSync(path) : fs().lstatSync(path)),
    exists: (path) => fs().existsSync(path),
    makeDir: (path, recursive) => { fs().mkdirSync(path, { recursive }); },
    changeMode: (path, mode) => fs().chmodSync(path, mode),
    unlink: (path) => fs().unlinkSync(path),
    rename: (from, to) => fs().renameSync(from, to),
    writeFile: (path, text) => fs().writeFileSync(path, text),
    openRead: (path) => fs().openSync(path, 'r'),
    fdStatus: (fd) => fromStats(fs().fstatSync(fd)),
    read: (fd, buffer, offset, length, position) => fs().readSync(fd, buffer, offset, length, position < 0 ? null : position),
    write: (fd, bytes, offset) => fs().writeSync(fd, bytes, offset),
    close: (fd) => fs().closeSync(fd),
  };
}

/** Receives errno and syscall when a call fails. */
interface ErrorSlot {
  errno?: number;
  syscall?: string;
}

/** fs's binding as Node 18 calls it synchronously: the callback argument undefined, then the slot. */
interface Node18FsBinding {
  open(path: string, flags: number, mode: number, callback: undefined, slot: ErrorSlot): number;
  close(fd: number, callback: undefined, slot: ErrorSlot): void;
  read(fd: number, buffer: Uint8Array, offset: number, length: number, position: number, callback: undefined, slot: ErrorSlot): number;
  writeBuffer(fd: number, buffer: Uint8Array, offset: number, length: number, position: null, callback: undefined, slot: ErrorSlot): number;
  fstat(fd: number, bigint: false, callback: undefined, slot: ErrorSlot): Float64Array;
  stat(path: string, bigint: false, callback: undefined, slot: ErrorSlot): Float64Array;
  lstat(path: string, bigint: false, callback: undefined, slot: ErrorSlot): Float64Array;
  readdir(path: string, encoding: 'utf8', withTypes: false, callback: undefined, slot: ErrorSlot): string[];
  mkdir(path: string, mode: number, recursive: boolean, callback: undefined, slot: ErrorSlot): unknown;
  chmod(path: string, mode: number, callback: undefined, slot: ErrorSlot): void;
  unlink(path: string, callback: undefined, slot: ErrorSlot): void;
  rename(from: string, to: string, callback: undefined, slot: ErrorSlot): void;
  access(path: string, mode: number, callback: undefined, slot: ErrorSlot): void;
}

const BINDING_CALLS: readonly (keyof Node18FsBinding)[] = [
  'open', 'close', 'read', 'writeBuffer', 'fstat', 'stat', 'lstat', 'readdir', 'mkdir', 'chmod', 'unlink', 'rename', 'access',
];

// Where the binding's stat array keeps mode and inode (Node 18: dev, mode, nlink, uid, gid, rdev, blksize, ino, size, ...).
const STAT_MODE = 1;
const STAT_INO = 7;
const STAT_SIZE = 8;

/** open()'s flags, from Node's table for this CPU: they differ (O_CREAT is 0x40 on x86 and ARM, 0x100 on MIPS). */
interface OpenFlags {
  O_RDONLY: number;
  O_WRONLY: number;
  O_CREAT: number;
  O_TRUNC: number;
}

interface UvBinding {
  errname(errno: number): string;
  getErrorMap?(): Map<number, [string, string]>;
}

function bindingOf<T>(name: string): Partial<T> | undefined {
  try {
    return (process as unknown as { binding(name: string): Partial<T> }).binding(name);
  } catch {
    return undefined;
  }
}

/** Node's own shape of a failed system call: `ENOENT: no such file or directory, open '/x'`. */
function systemError(slot: ErrorSlot, syscall: string, path?: string, dest?: string): Error {
  const errno = slot.errno ?? 0;
  const uv = bindingOf<UvBinding>('uv');
  const code = uv?.errname?.(errno) ?? `Unknown system error ${errno}`;
  const description = uv?.getErrorMap?.().get(errno)?.[1] ?? 'unknown error';
  const call = slot.syscall ?? syscall;
  const paths = (path === undefined ? '' : ` '${path}'`) + (dest === undefined ? '' : ` -> '${dest}'`);
  return Object.assign(new Error(`${code}: ${description}, ${call}${paths}`),
    { errno, code, syscall: call, ...(path === undefined ? {} : { path }), ...(dest === undefined ? {} : { dest }) });
}

/** Node 18's binding, or undefined on another Node or where it lacks a call. */
export function node18FileSystem(): FileSystem | undefined {
  if (!process.versions.node.startsWith('18.')) return undefined;
  const found = bindingOf<Node18FsBinding>('fs');
  if (found === undefined || BINDING_CALLS.some((call) => typeof found[call] !== 'function')) return undefined;
  const b = found as Node18FsBinding;
  const flags = bindingOf<{ fs?: Partial<OpenFlags> }>('constants')?.fs;
  if (flags === undefined || [flags.O_RDONLY, flags.O_WRONLY, flags.O_CREAT, flags.O_TRUNC].some((f) => typeof f !== 'number')) return undefined;
  const { O_RDONLY, O_WRONLY, O_CREAT, O_TRUNC } = flags as OpenFlags;

  // A NUL would cut the path short in C: node:fs refuses such a path, so does this.
  const checked = (path: string): string => {
    if (path.includes('\0')) {
      throw Object.assign(new TypeError(`The argument 'path' must be a string without null bytes. Received ${JSON.stringify(path)}`),
        { code: 'ERR_INVALID_ARG_VALUE' });
    }
    return path;
  };
  /** One binding call; a failure it reports in the slot is thrown as node:fs would. */
  const call = <T>(syscall: string, path: string | undefined, run: (slot: ErrorSlot) => T, dest?: string): T => {
    const slot: ErrorSlot = {};
    const result = run(slot);
    if (slot.errno !== undefined) throw systemError(slot, syscall, path, dest);
    return result;
  };
  const open = (path: string, how: number): number =>
    call('open', path, (slot) => b.open(checked(path), how, 0o666, undefined, slot));
  const fstat = (fd: number): Float64Array => call('fstat', undefined, (slot) => b.fstat(fd, false, undefined, slot));
  const statusFrom = (values: Float64Array): FileStatus => statusOf(values[STAT_MODE], values[STAT_INO]);

  const fs: FileSystem = {
    via: 'Node 18 binding',
    openRead: (path) => open(path, O_RDONLY),
    close: (fd) => call('close', undefined, (slot) => b.close(fd, undefined, slot)),
    read: (fd, buffer, offset, length, position) =>
      call('read', undefined, (slot) => b.read(fd, buffer, offset, length, position, undefined, slot)),
    write: (fd, bytes, offset) =>
      call('write', undefined, (slot) => b.writeBuffer(fd, bytes, offset, bytes.length - offset, null, undefined, slot)),
    fdStatus: (fd) => statusFrom(fstat(fd)),
    readFile(path) {
      const fd = open(path, O_RDONLY);
      try {
        const values = fstat(fd);
        // /proc and /sys files say 0 or 4096 bytes whatever they hold: read until the end.
        const size = (values[STAT_MODE] & S_IFMT) === S_IFREG ? values[STAT_SIZE] : 0;
        let buffer = Buffer.allocUnsafe(size > 0 ? size : 8192);
        let filled = 0;
        for (;;) {
          if (filled === buffer.length) {
            if (size > 0) break;
            const bigger = Buffer.allocUnsafe(buffer.length * 2);
            buffer.copy(bigger, 0, 0, filled);
            buffer = bigger;
          }
          const n = fs.read(fd, buffer, filled, buffer.length - filled, -1);
          if (n === 0) break;
          filled += n;
        }
        return buffer.subarray(0, filled);
      } finally {
        fs.close(fd);
      }
    },
    readDir: (path) => call('scandir', path, (slot) => b.readdir(checked(path), 'utf8', false, undefined, slot)),
    status: (path, follow) => statusFrom(follow
      ? call('stat', path, (slot) => b.stat(checked(path), false, undefined, slot))
      : call('lstat', path, (slot) => b.lstat(checked(path), false, undefined, slot))),
    exists(path) {
      if (path.includes('\0')) return false;
      const slot: ErrorSlot = {};
      b.access(path, 0, undefined, slot);
      return slot.errno === undefined;
    },
    makeDir: (path, recursive) => { call('mkdir', path, (slot) => b.mkdir(checked(path), 0o777, recursive, undefined, slot)); },
    changeMode: (path, mode) => call('chmod', path, (slot) => b.chmod(checked(path), mode, undefined, slot)),
    unlink: (path) => call('unlink', path, (slot) => b.unlink(checked(path), undefined, slot)),
    rename: (from, to) => call('rename', from, (slot) => b.rename(checked(from), checked(to), undefined, slot), to),
    writeFile(path, text) {
      const fd = open(path, O_WRONLY | O_CREAT | O_TRUNC);
      try {
        const bytes = Buffer.from(text);
        let written = 0;
        while (written < bytes.length) written += fs.write(fd, bytes, written);
      } finally {
        fs.close(fd);
      }
    },
  };
  return fs;
}

let chosen: FileSystem | undefined;

/** The daemon's file system: Node 18's binding where it is that, node:fs otherwise. */
export function files(): FileSystem {
  return (chosen ??= node18FileSystem() ?? nodeFileSystem());
}

export function readText(path: string, encoding: 'utf8' | 'latin1'): string {
  return files().readFile(path).toString(encoding);
}

/** An absent path is false; other errors (no permission) throw. */
export function isDirectory(path: string): boolean {
  try {
    return files().status(path, true).isDirectory;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}

/** rm -f of a file. */
export function removeIfPresent(path: string): void {
  try {
    files().unlink(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}
