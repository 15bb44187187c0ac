/**
 * A fresh clone has nothing beside it: no file of the project may refer to the
 * material folder next to the checkout that the developers take data from.
 */
import { strict as assert } from 'node:assert';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { it } from 'node:test';
import { REPO_ROOT, TEST_CORPUS, TEST_PCAPS, UBUS_TRANSCRIPTS } from '../support/paths';

// Spelled in pieces so that this file does not match itself.
const SHARED = 'sha' + 'red';
const OUTSIDE = [`../${SHARED}`, `/work/${SHARED}`, `'..', '${SHARED}'`];
const SKIP = new Set(['.git', 'node_modules', 'build', 'dist']);

function projectFiles(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    if (SKIP.has(name)) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) projectFiles(path, out);
    else out.push(path);
  }
  return out;
}

it('no project file refers to a folder beside the checkout', () => {
  const files = projectFiles(REPO_ROOT);
  assert.ok(files.length > 100, `only ${files.length} files found under ${REPO_ROOT}`);
  const offenders = files.filter((file) => {
    const text = readFileSync(file).toString('latin1');
    return OUTSIDE.some((needle) => text.includes(needle));
  }).map((file) => relative(REPO_ROOT, file));
  assert.deepEqual(offenders, [], 'these files name the material folder beside the checkout');
});

it('the test data is in the project', () => {
  const index = readFileSync(join(TEST_PCAPS, 'INDEX.tsv'), 'utf8').trim().split('\n').slice(1);
  assert.ok(index.length >= 29, `INDEX.tsv lists ${index.length} captures`);
  for (const line of index) statSync(join(TEST_PCAPS, line.split('\t')[0]));
  for (const file of ['accept-en10mb.txt', 'reject-en10mb.txt', 'apply-en10mb.json']) statSync(join(TEST_CORPUS, file));
  assert.ok(readdirSync(UBUS_TRANSCRIPTS).filter((f) => f.endsWith('.json')).length >= 6);
});
