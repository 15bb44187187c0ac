/**
 * Live tests need root (network namespaces, packet sockets) and a few tools.
 * Without them the tests must FAIL loudly, never skip: a skipped live test
 * would let a broken daemon pass CI.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { DAEMON } from './paths';

const TOOLS: ReadonlyArray<[string, string]> = [
  ['ip', 'iproute2'],
  ['tcpreplay', 'tcpreplay'],
];

export function requireLiveEnvironment(): void {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) {
    throw new Error('live tests need root (they create network namespaces and veth pairs); run them as root, e.g. `sudo node --test build/test/live/`');
  }
  for (const [tool, pkg] of TOOLS) {
    const found = spawnSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' });
    if (found.status !== 0) throw new Error(`live tests need '${tool}' (Debian package ${pkg}: apt-get install ${pkg})`);
  }
  if (!existsSync(DAEMON)) throw new Error(`live tests need the daemon bundle ${DAEMON}: run ./build.sh first`);
}
