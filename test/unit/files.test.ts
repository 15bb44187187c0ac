/**
 * src/files.ts: on Node 18 the daemon's file calls go to fs's binding, elsewhere to node:fs;
 * both give the same results and the same errors (code, errno, syscall, path, message), and on
 * Node 18 they load none of the modules the first `require('node:fs')` would (streams, fs
 * promises, readline). This file runs under Node 20 (npm test) and Node 18 (test/node18).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { files, type FileSystem, node18FileSystem, nodeFileSystem, readText } from '../../src/files';

const MODULE = join(__dirname, '..', '..', 'src', 'files.js');
const onNode18 = process.versions.node.startsWith('18.');

function tempDir(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'bpfcountd-files-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** What a call gave: its value, or its error's fields. */
function outcome(call: () => unknown): unknown {
  try {
    const value = call();
    return { value: value instanceof Uint8Array ? Buffer.from(value).toString('utf8') : value };
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    // Node words its argument errors with util.inspect(): only their code is compared.
    const message = e.code?.startsWith('ERR_') ? undefined : e.message;
    return { code: e.code, errno: e.errno, syscall: e.syscall, path: e.path, dest: (e as { dest?: string }).dest, message };
  }
}

/** The same sequence of calls, from a fresh directory each time; every outcome in order. */
function script(fs: FileSystem, dir: string): unknown[] {
  const out: unknown[] = [];
  const at = (name: string): string => join(dir, name);
  const add = (call: () => unknown): void => { out.push(outcome(call)); };
  add(() => fs.writeFile(at('a.txt'), 'héllo\nwörld\n'));
  add(() => fs.readFile(at('a.txt')));
  add(() => fs.writeFile(at('a.txt'), 'short'));
  add(() => fs.readFile(at('a.txt')));
  add(() => fs.writeFile(at('big.bin'), 'x'.repeat(300_000)));
  add(() => fs.readFile(at('big.bin')).length);
  add(() => fs.writeFile(at('empty'), ''));
  add(() => fs.readFile(at('empty')));
  add(() => fs.readFile(at('missing')));
  add(() => fs.readFile(dir));
  add(() => fs.readFile(at('a.txt/x')));
  add(() => fs.readFile('/proc/self/cmdline').length > 0);
  add(() => fs.readFile('/sys/class/net/lo/type'));
  add(() => fs.readFile('/proc/version'));
  add(() => fs.readFile(at('a\0b')));
  add(() => fs.makeDir(at('d/e/f'), true));
  add(() => fs.makeDir(at('d/e/f'), true));
  add(() => fs.makeDir(at('d'), false));
  add(() => fs.makeDir(at('x/y'), false));
  add(() => fs.makeDir(at('a.txt/y'), true));
  add(() => fs.readDir(dir).sort());
  add(() => fs.readDir(at('d/e/f')));
  add(() => fs.readDir(at('nothing')));
  add(() => fs.readDir(at('a.txt')));
  add(() => { const s = fs.status(at('a.txt'), true); return { ...s, ino: s.ino === statSync(at('a.txt')).ino }; });
  add(() => { const s = fs.status(at('d'), true); return { ...s, ino: s.ino === statSync(at('d')).ino }; });
  add(() => fs.status(at('nothing'), true));
  add(() => fs.status(at('nothing'), false));
  symlinkSync(at('d'), at('link'));
  add(() => { const { isDirectory, isFile, isSocket } = fs.status(at('link'), true); return { isDirectory, isFile, isSocket }; });
  add(() => { const { isDirectory, isFile, isSocket } = fs.status(at('link'), false); return { isDirectory, isFile, isSocket }; });
  add(() => [fs.exists(at('a.txt')), fs.exists(at('d')), fs.exists(at('nothing')), fs.exists(at('a\0b')), fs.exists('/sys/class/net/lo')]);
  add(() => fs.changeMode(at('a.txt'), 0o640));
  add(() => (statSync(at('a.txt')).mode & 0o777).toString(8));
  add(() => fs.changeMode(at('nothing'), 0o640));
  add(() => fs.rename(at('a.txt'), at('b.txt')));
  add(() => fs.readFile(at('b.txt')));
  add(() => fs.rename(at('a.txt'), at('c.txt')));
  add(() => fs.unlink(at('b.txt')));
  add(() => fs.unlink(at('b.txt')));
  add(() => fs.unlink(at('d')));
  add(() => fs.writeFile(at('nodir/x'), 'x'));
  add(() => fs.openRead(at('nothing')));
  add(() => fs.writeFile(at('r.bin'), '0123456789abcdef'));
  add(() => {
    const fd = fs.openRead(at('r.bin'));
    try {
      const buffer = Buffer.alloc(8);
      const first = fs.read(fd, buffer, 2, 4, 10);
      const second = fs.read(fd, buffer, 0, 2, -1);
      const third = fs.read(fd, buffer, 0, 8, 100);
      return [fs.fdStatus(fd).isFile, first, second, third, buffer.toString('latin1')];
    } finally {
      fs.close(fd);
    }
  });
  add(() => { const fd = fs.openRead(dir); try { return fs.fdStatus(fd).isDirectory; } finally { fs.close(fd); } });
  add(() => {
    const fd = openSync(at('w.txt'), 'w');
    try {
      return [fs.write(fd, Buffer.from('abcdef'), 2), fs.write(fd, Buffer.from('xy'), 0)];
    } finally {
      closeSync(fd);
    }
  });
  add(() => readFileSync(at('w.txt'), 'latin1'));
  add(() => fs.write(987_654, Buffer.from('x'), 0));
  add(() => fs.close(987_654));
  return out;
}

test('Node 18 gets the binding, any other Node node:fs', () => {
  const binding = node18FileSystem();
  assert.equal(binding !== undefined, onNode18, `Node ${process.version}`);
  assert.equal(files().via, onNode18 ? 'Node 18 binding' : 'node:fs');
});

test('the binding and node:fs give the same results and errors', (t) => {
  const reference = script(nodeFileSystem(), tempDir(t));
  // The reference itself is what the calls should give (a wrong script would compare equal twice).
  assert.deepEqual(reference[1], { value: 'héllo\nwörld\n' });
  assert.deepEqual(reference[3], { value: 'short' });
  assert.deepEqual(reference[5], { value: 300_000 });
  assert.equal((reference[8] as { message: string }).message.startsWith('ENOENT: no such file or directory, open '), true);
  assert.deepEqual(reference[reference.length - 4], { value: [4, 2] });
  assert.deepEqual(reference[reference.length - 3], { value: 'cdefxy' });
  const binding = node18FileSystem();
  if (!onNode18) {
    assert.equal(binding, undefined);
    return;
  }
  assert.ok(binding);
  const dir = tempDir(t);
  const got = script(binding, dir);
  // Paths differ by the temporary directory only.
  const same = (v: unknown): unknown => JSON.parse(JSON.stringify(v).split(dir).join('DIR'));
  const refDir = JSON.stringify(reference).match(/\/[^"']*bpfcountd-files-[^/"']+/)?.[0] ?? '';
  assert.deepEqual(same(got), JSON.parse(JSON.stringify(reference).split(refDir).join('DIR')));
});

test('a unix socket is seen as one, through lstat', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 's.sock');
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(path, resolve));
  t.after(() => server.close());
  for (const fs of [nodeFileSystem(), node18FileSystem()]) {
    if (fs === undefined) continue;
    const s = fs.status(path, false);
    assert.deepEqual({ isSocket: s.isSocket, isFile: s.isFile, isDirectory: s.isDirectory }, { isSocket: true, isFile: false, isDirectory: false });
    assert.equal(s.ino, statSync(path).ino);
  }
});

test('the calls load none of the modules require(\'node:fs\') would (Node 18)', (t) => {
  const dir = tempDir(t);
  // Loading a CommonJS module sets up Node's ES-module loader: counted from after that.
  const code = `const f = require(${JSON.stringify(MODULE)});
const before = new Set(process.moduleLoadList);
f.files().writeFile(${JSON.stringify(join(dir, 'x'))}, 'x\\n');
f.readText(${JSON.stringify(join(dir, 'x'))}, 'utf8');
f.files().readDir(${JSON.stringify(dir)});
f.files().status(${JSON.stringify(dir)}, false);
try { f.readText(${JSON.stringify(join(dir, 'missing'))}, 'utf8'); } catch {}
f.files().write(1, Buffer.from(process.moduleLoadList.filter((m) => !before.has(m) && m.startsWith('NativeModule ')).join(',') || 'none'), 0);`;
  // Without Node's startup snapshot, as Debian's and OpenWrt's builds for routers run.
  const run = (source: string): string => execFileSync(process.execPath, ['--no-node-snapshot', '-e', source], { encoding: 'utf8' });
  const loaded = run(code);
  const byNodeFs = run(`const before = new Set(process.moduleLoadList);
const { writeSync } = require('node:fs');
writeSync(1, process.moduleLoadList.filter((m) => !before.has(m) && m.startsWith('NativeModule ')).join(',') || 'none');`);
  // Node 18: none of those node:fs loads; elsewhere node:fs is what the calls use, so the same.
  if (onNode18) assert.match(byNodeFs, /internal\/fs\/streams/);
  assert.equal(loaded, onNode18 ? 'none' : byNodeFs);
  assert.equal(readText(join(dir, 'x'), 'utf8'), 'x\n');
});
