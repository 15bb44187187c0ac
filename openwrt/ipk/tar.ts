/**
 * A minimal ustar writer, enough for OpenWrt packages: regular files and
 * directories owned by root, every timestamp the same. Written here instead of
 * calling the host's tar so the bytes do not depend on its version or locale.
 */

export interface TarEntry {
  /** Path inside the archive, e.g. './etc/config/bpfcountd' or './usr/' (a directory ends with '/'). */
  name: string;
  mode: number;
  /** Absent for a directory. */
  data?: Buffer;
}

const BLOCK = 512;

/** The archive's bytes: entries in the given order, then two zero blocks. */
export function tar(entries: readonly TarEntry[], mtime: number): Buffer {
  const parts: Buffer[] = [];
  for (const entry of entries) {
    const data = entry.data ?? Buffer.alloc(0);
    parts.push(header(entry, data.length, mtime));
    if (data.length > 0) {
      parts.push(data);
      const pad = (BLOCK - (data.length % BLOCK)) % BLOCK;
      if (pad > 0) parts.push(Buffer.alloc(pad));
    }
  }
  parts.push(Buffer.alloc(2 * BLOCK));
  return Buffer.concat(parts);
}

function header(entry: TarEntry, size: number, mtime: number): Buffer {
  const isDir = entry.name.endsWith('/');
  if (isDir !== (entry.data === undefined)) throw new Error(`tar: ${entry.name}: a directory ends with '/' and has no data`);
  const h = Buffer.alloc(BLOCK);
  const [prefix, name] = splitName(entry.name);
  h.write(name, 0, 100, 'utf8');
  octal(h, 100, 8, entry.mode & 0o7777);
  octal(h, 108, 8, 0); // uid
  octal(h, 116, 8, 0); // gid
  octal(h, 124, 12, size);
  octal(h, 136, 12, mtime);
  h.fill(0x20, 148, 156); // checksum field counts as spaces while summing
  h.write(isDir ? '5' : '0', 156, 1, 'latin1');
  h.write('ustar\0', 257, 6, 'latin1');
  h.write('00', 263, 2, 'latin1');
  h.write('root', 265, 32, 'latin1');
  h.write('root', 297, 32, 'latin1');
  h.write(prefix, 345, 155, 'utf8');
  let sum = 0;
  for (const byte of h) sum += byte;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8, 'latin1');
  return h;
}

/** ustar keeps names up to 100 bytes, longer ones split at a '/' into a 155-byte prefix. */
function splitName(path: string): [string, string] {
  if (Buffer.byteLength(path) <= 100) return ['', path];
  for (let cut = path.lastIndexOf('/', path.length - 2); cut > 0; cut = path.lastIndexOf('/', cut - 1)) {
    const prefix = path.slice(0, cut), name = path.slice(cut + 1);
    if (Buffer.byteLength(prefix) <= 155 && Buffer.byteLength(name) <= 100) return [prefix, name];
  }
  throw new Error(`tar: path too long for ustar: ${path}`);
}

function octal(h: Buffer, offset: number, width: number, value: number): void {
  const text = value.toString(8);
  if (text.length > width - 1) throw new Error(`tar: ${value} does not fit ${width} octal digits`);
  h.write(`${text.padStart(width - 1, '0')}\0`, offset, width, 'latin1');
}
