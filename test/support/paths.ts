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
/**
 * The node options the package's wrapper (files/usr/sbin/bpfcountd) starts the daemon with:
 * the live tests start it the same way.
 */
export const DAEMON_NODE_FLAGS: readonly string[] = wrapperNodeFlags();

function wrapperNodeFlags(): string[] {
  const wrapper = join(REPO_ROOT, 'files', 'usr', 'sbin', 'bpfcountd');
  const exec = /^exec \/usr\/bin\/node((?: --[-a-z0-9=]+)*) \/usr\/lib\/bpfcountd\/bpfcountd\.js "\$@"$/m.exec(readFileSync(wrapper, 'utf8'));
  if (!exec) throw new Error(`${wrapper}: no 'exec /usr/bin/node [--option...] /usr/lib/bpfcountd/bpfcountd.js "$@"' line`);
  return exec[1].split(' ').filter((flag) => flag !== '');
}
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
