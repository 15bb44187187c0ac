/**
 * Sustained load: 40,000 small frames at 40,000 frames/s (a busy mesh
 * node's rate), counts still exact against libpcap; and a replay at top
 * speed, where the addon hands over thousands of packets per batch (full
 * batches, several per read). Not a benchmark (see measure-replay.ts): it
 * fails when the daemon drops or miscounts under load.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { COMMON_RULES } from './capture-rules';
import { formatLines, runLiveCase } from '../support/live-count';
import { readCounts, type CountLine } from '../support/socket-client';
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

  test('40k small frames at 40k frames/s, 4 clients reading meanwhile: every rule exact, counters never go back', async (t) => {
    assert.ok(link);
    const capture = join(dir, 'small.pcap');
    writeEthernetPcap(capture, smallFrames(20_000, OWN_MAC));
    const reads: CountLine[][][] = [[], [], [], []];
    const r = await runLiveCase(link, {
      capture,
      rules: COMMON_RULES,
      mac: OWN_MAC,
      replay: { loop: 2, pps: 40_000 },
      duringReplay: async (socketPath, replayDone) => {
        await Promise.all(reads.map(async (mine) => {
          while (!replayDone()) {
            mine.push(await readCounts(socketPath));
            await new Promise((res) => setTimeout(res, 20));
          }
        }));
      },
    });
    const all = reads.flat();
    t.diagnostic(`counted ${r.actual.find((l) => l.id === '_all')?.packets} frames; ${all.length} reads during the replay`);
    assert.deepEqual(formatLines(r.actual), formatLines(r.expected), `daemon (left) vs libpcap (right); stderr: ${r.daemonStderr}`);
    assert.ok(reads.every((mine) => mine.length >= 5), `each client should have read several times during a ~1 s replay (${reads.map((m) => m.length).join(', ')})`);
    const ids = r.expected.map((l) => l.id).join(',');
    for (const mine of reads) {
      for (let i = 0; i < mine.length; i++) {
        assert.equal(mine[i].map((l) => l.id).join(','), ids, 'every answer lists every rule in file order');
        if (i === 0) continue;
        mine[i].forEach((l, k) => {
          const before = mine[i - 1][k];
          assert.ok(l.packets >= before.packets && l.bytes >= before.bytes, `rule ${l.id} went back: ${before.packets}/${before.bytes} -> ${l.packets}/${l.bytes}`);
        });
      }
    }
  });

  test('60k small frames at top speed behind -F inbound: batch delivery exact', async (t) => {
    assert.ok(link);
    const capture = join(dir, 'small-top.pcap');
    writeEthernetPcap(capture, smallFrames(20_000, OWN_MAC));
    const r = await runLiveCase(link, {
      capture,
      rules: COMMON_RULES,
      mac: OWN_MAC,
      // Every frame is inbound at the receiving veth. A ring that holds the whole
      // replay: what is measured is delivery, not how fast this machine is.
      prefilter: { live: 'inbound', offline: 'greater 0' },
      bufferBytes: 32 * 1024 * 1024,
      replay: { loop: 3 },
    });
    t.diagnostic(`counted ${r.actual.find((l) => l.id === '_all')?.packets} frames`);
    assert.deepEqual(formatLines(r.actual), formatLines(r.expected), `daemon (left) vs libpcap (right); stderr: ${r.daemonStderr}`);
  });
});
