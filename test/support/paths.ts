/** Where the live tests find the repository, the daemon bundle and the oracle. */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** build/test/support -> repository root (tests run from build/, see build.sh). */
function findRoot(): string {
  let dir = __dirname;
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'build.sh'))) return dir;
    dir = resolve(dir, '..');
  }
  throw new Error(`cannot find the repository root above ${__dirname}`);
}

export const REPO_ROOT = findRoot();
/** BPFCOUNTD_DAEMON points the live tests at another bundle (e.g. a snapshot while dist/ is being rebuilt). */
export const DAEMON = process.env.BPFCOUNTD_DAEMON ?? join(REPO_ROOT, 'dist', 'bpfcountd.js');
export const ORACLE = join(REPO_ROOT, 'build', 'pcap-oracle');
export const ORACLE_BUILD = join(REPO_ROOT, 'test', 'oracle', 'build.sh');
/** The project's own test material (captures, corpora, ubus transcripts); see test/data/README.md. */
export const TEST_DATA = join(REPO_ROOT, 'test', 'data');
export const TEST_PCAPS = join(TEST_DATA, 'pcaps');
export const TEST_CORPUS = join(TEST_DATA, 'corpus');
/** libpcap's own filter-test captures, used by the apply corpus. */
export const CORPUS_CAPTURES = join(TEST_CORPUS, 'libpcap-filter-captures');
export const UBUS_TRANSCRIPTS = join(TEST_DATA, 'ubus');
export const BUILD_DIR = join(REPO_ROOT, 'build');

/** Names of the test captures of one link type (INDEX.tsv's second column starts with it). */
export function captureNames(linkType: string): string[] {
  return readFileSync(join(TEST_PCAPS, 'INDEX.tsv'), 'utf8').split('\n').slice(1)
    .map((line) => line.split('\t'))
    .filter((cols) => cols.length > 1 && cols[1].startsWith(linkType))
    .map((cols) => cols[0]);
}
