/** The counter socket comes back by itself when someone removes its file, its directory, or puts something else there. */
import { strict as assert } from 'node:assert';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { it } from 'node:test';
import { readSocket } from '../../src/outputs/query';
import { TextSocket } from '../../src/outputs/text-socket';

async function waitFor(cond: () => Promise<boolean>, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await cond()) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return false;
}

const answers = async (path: string): Promise<boolean> => {
  try {
    return (await readSocket(path, 500)) === 'a:1:1\n';
  } catch {
    return false;
  }
};

it('serves again after its file, then its directory, is removed, and logs one line per event', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'bpfcountd-sock-'));
  const path = join(root, 'run', 'x.sock');
  const logged: string[] = [];
  const socket = new TextSocket(path, () => [{ id: 'a', bytes: 1, packets: 1 }], { log: (m) => logged.push(m), watchMs: 50 });
  t.after(() => { socket.close(); rmSync(root, { recursive: true, force: true }); });
  await socket.listen();
  assert.ok(await answers(path));

  rmSync(path);
  assert.equal(await answers(path), false);
  assert.ok(await waitFor(() => answers(path), 3000), 'served again after the file was removed');
  assert.deepEqual(logged, [`${path}: socket file removed by someone else: serving it again`]);

  rmSync(join(root, 'run'), { recursive: true });
  assert.ok(await waitFor(() => answers(path), 3000), 'served again after the directory was removed');
  assert.equal(logged.length, 2);

  // A file of someone else's in its place is never deleted; logged once, however long it stays.
  rmSync(path);
  writeFileSync(path, 'not mine');
  await new Promise((r) => setTimeout(r, 400));
  assert.equal(readFileSync(path, 'utf8'), 'not mine');
  assert.equal(logged.filter((l) => l.includes('replaced by someone else: not touching it')).length, 1, logged.join('\n'));
  rmSync(path);
  assert.ok(await waitFor(() => answers(path), 3000), 'served again once the file is gone');
  // Closing with someone else's file at the path leaves that file.
  rmSync(path);
  writeFileSync(path, 'still not mine');
  socket.close();
  assert.equal(readFileSync(path, 'utf8'), 'still not mine');
});

it('closed while it is being set up: nothing is left listening, no file stays', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'bpfcountd-sock-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const path = join(root, 'x.sock');
  const socket = new TextSocket(path, () => [{ id: 'a', bytes: 1, packets: 1 }], { watchMs: 50 });
  const listening = socket.listen();
  socket.close();
  await listening;
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(existsSync(path), false);
  assert.equal(await answers(path), false);
});
