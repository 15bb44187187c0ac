/**
 * A stale socket file: bound by a process that died without removing it
 * (SIGKILL), as after a crash or power cut of a router.
 */
import { spawnSync } from 'node:child_process';
import { lstatSync } from 'node:fs';

export function makeStaleSocket(path: string): void {
  const script = `require('node:net').createServer().listen(process.argv[1], () => process.kill(process.pid, 'SIGKILL'));`;
  const r = spawnSync(process.execPath, ['-e', script, path], { encoding: 'utf8', timeout: 10_000 });
  if (r.signal !== 'SIGKILL') throw new Error(`could not leave a stale socket at ${path}: ${r.stderr}`);
  if (!lstatSync(path).isSocket()) throw new Error(`${path} is not a socket`);
}
