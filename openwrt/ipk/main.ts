/**
 * `npm run package`: writes the OpenWrt packages into dist/ from the built
 * bundle and the project's files (run ./build.sh first; npm run package does).
 *   bpfcountd_<version>_all.ipk, luci-app-bpfcountd_<version>_all.ipk, and for
 *   tests only node-pcap_<version>_<host arch>.ipk (the addon built here).
 * An argument names another output directory.
 * SOURCE_DATE_EPOCH sets the files' time (default: the last commit's, else 0).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { openwrtArchitecture, packages } from './contents';
import { buildIpk } from './ipk';

/** Compiled to build/openwrt/ipk/main.js. */
const REPO_ROOT = resolve(__dirname, '..', '..', '..');

function sourceDateEpoch(): number {
  const fromEnv = process.env.SOURCE_DATE_EPOCH;
  if (fromEnv !== undefined && /^\d+$/.test(fromEnv)) return Number(fromEnv);
  try {
    return Number(execFileSync('git', ['log', '-1', '--format=%ct'], { cwd: REPO_ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()) || 0;
  } catch {
    return 0;
  }
}

function main(): void {
  const version = (JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
  const pcapVersion = (JSON.parse(readFileSync(join(REPO_ROOT, 'node_modules', 'pcap', 'package.json'), 'utf8')) as { version: string }).version;
  const out = process.argv[2] ?? join(REPO_ROOT, 'dist');
  mkdirSync(out, { recursive: true });
  const mtime = sourceDateEpoch();
  for (const spec of packages(version, openwrtArchitecture(process.arch), pcapVersion)) {
    const built = buildIpk(spec, REPO_ROOT, mtime);
    writeFileSync(join(out, built.fileName), built.bytes);
    console.log(`${join(out, built.fileName)} (${built.bytes.length} bytes)`);
  }
}

try {
  main();
} catch (e) {
  console.error(`npm run package: ${(e as Error).message}`);
  process.exit(1);
}
