/**
 * Sustained load: 40,000 small frames at 40,000 frames/s (a busy mesh
 * node's rate), counts still exact against libpcap. Not a benchmark (see
 * measure-replay.ts): it fails when the daemon drops or miscounts under load.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { COMMON_RULES } from './capture-rules';
import { formatLines, runLiveCase } from '../support/live-count';
import { createLink, destroyLink, type VethLink } from '../support/netns';
import { ensureOracle } from '../support/oracle';
import { writeEthernetPcap } from '../support/pcap';
import { requireLiveEnvironment } from '../support/root';
import { smallFrames } from '../support/small-frames';

const OWN_MAC = '02:ca:fe:00:00:01';

describe('live: sustained load', () => {
  let link: VethLink | undefined;
  let dir = '';
  before(() => {
    requireLiveEnvironment();
    ensureOracle();
    link = createLink();
    dir = mkdtempSync(join(tmpdir(), 'bpfc-load-'));
  });
  after(() => {
    if (link) destroyLink(link);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('40k small frames at 40k frames/s: every rule exact', async (t) => {
    assert.ok(link);
    const capture = join(dir, 'small.pcap');
    writeEthernetPcap(capture, smallFrames(20_000, OWN_MAC));
    const r = await runLiveCase(link, {
      capture,
      rules: COMMON_RULES,
      mac: OWN_MAC,
      replay: { loop: 2, pps: 40_000 },
    });
    t.diagnostic(`counted ${r.actual.find((l) => l.id === '_all')?.packets} frames`);
    assert.deepEqual(formatLines(r.actual), formatLines(r.expected), `daemon (left) vs libpcap (right); stderr: ${r.daemonStderr}`);
  });
});
