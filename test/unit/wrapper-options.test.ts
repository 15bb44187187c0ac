/**
 * node's options for the daemon come from the package's wrapper
 * (files/usr/sbin/bpfcountd): the live tests read them from there
 * (test/support/paths.ts); the emulated router's /init keeps a copy, which
 * must not drift from them.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { DAEMON_NODE_FLAGS, REPO_ROOT } from '../support/paths';

test('the wrapper runs node single-threaded without Sparkplug, and the emulated router starts the daemon with the same options', () => {
  assert.ok(DAEMON_NODE_FLAGS.includes('--single-threaded'), `wrapper options: ${DAEMON_NODE_FLAGS.join(' ')}`);
  assert.ok(DAEMON_NODE_FLAGS.includes('--no-sparkplug'), `wrapper options: ${DAEMON_NODE_FLAGS.join(' ')}`);
  const guestInit = readFileSync(join(REPO_ROOT, 'test', 'cross', 'guest-init.sh'), 'utf8');
  const copy = /^NODE_OPTIONS_OF_WRAPPER="([^"]*)"$/m.exec(guestInit);
  assert.ok(copy, 'test/cross/guest-init.sh sets NODE_OPTIONS_OF_WRAPPER');
  assert.equal(copy[1], DAEMON_NODE_FLAGS.join(' '));
});
