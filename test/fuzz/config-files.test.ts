/**
 * Filter files and UCI files, mutated from the shipped ones: every input is
 * either accepted or refused with one ConfigError whose message is one line
 * and starts with its place (file:line); nothing else may escape.
 */
import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ConfigError } from '../../src/config/errors';
import { expandRules } from '../../src/config/expand';
import { parseFilterText } from '../../src/config/filter-file';
import { instanceFromSection } from '../../src/config/service-config';
import { parseUci } from '../../src/config/uci';
import { planRule } from '../../src/filter';
import { REPO_ROOT } from '../support/paths';
import { fuzzInputs, fuzzPrng, isOneLine, mutateText } from './budget';

const FILTER_ALPHABET = ';#${}()[]:=!<>&|\\ \t\n\r\0\'"abcdefip0123456789.-/MACtcpudparpether';
const UCI_ALPHABET = "'\"\\ \t\n#configoptionlistbpfcountdifnamedisabledrule01;$-_";

/** Where a ConfigError points: a file:line, or the file itself. */
function assertPlaced(err: unknown, file: string, input: string): void {
  if (!(err instanceof ConfigError)) {
    assert.fail(`${(err as Error)?.constructor?.name}: ${String(err)} on input ${JSON.stringify(input.slice(0, 300))}`);
  }
  assert.ok(isOneLine(err.message), `not one line: ${JSON.stringify(err.message)}`);
  assert.ok(err.message.startsWith(`${file}:`), `no place: ${err.message}`);
}

test('fuzz: filter files', () => {
  const prng = fuzzPrng(1);
  const seeds = ['files/etc/bpfcountd.filters', 'examples/example.filters', 'test/fixtures/broad-ethernet.filters']
    .map((p) => readFileSync(join(REPO_ROOT, p), 'utf8'));
  const total = fuzzInputs(3000);
  let accepted = 0, refused = 0, rules = 0, ruleErrors = 0;
  for (let i = 0; i < total; i++) {
    const text = mutateText(prng, seeds[prng.int(seeds.length)], FILTER_ALPHABET);
    const file = '/etc/fuzz.filters';
    try {
      const expanded = expandRules(parseFilterText(text, file), prng.chance(0.5) ? '02:00:00:00:00:01' : undefined);
      for (const [slot, rule] of expanded.entries()) {
        // Every rule's plan: evaluated, left to libpcap, or refused with a one-line message.
        const { plan } = planRule({ slot, expr: rule.expr }, 1);
        rules++;
        if (plan.engine === 'error') {
          ruleErrors++;
          assert.ok(isOneLine(plan.message), `rule ${rule.id}: ${JSON.stringify(plan.message)}`);
        }
      }
      accepted++;
    } catch (err) {
      assertPlaced(err, file, text);
      refused++;
    }
  }
  console.log(`fuzz filter files: ${total} inputs, ${accepted} accepted (${rules} rules, ${ruleErrors} refused by the compiler), ${refused} refused with file:line`);
  assert.equal(accepted + refused, total);
  assert.ok(accepted > 0 && refused > 0, 'the mutations reach both outcomes');
});

test('fuzz: UCI files', () => {
  const prng = fuzzPrng(2);
  const seeds = [
    readFileSync(join(REPO_ROOT, 'files/etc/config/bpfcountd'), 'utf8'),
    "config bpfcountd 'mesh0_in'\n\toption ifname 'mesh0'\n\toption prefilter 'inbound'\n\tlist rule 'arp;arp'\n\tlist rule \"dns;port 53\"\n\toption socket '/tmp/x.sock'\n\toption disabled '0'\n",
  ];
  const total = fuzzInputs(3000);
  let accepted = 0, refused = 0, sections = 0;
  for (let i = 0; i < total; i++) {
    const text = mutateText(prng, seeds[prng.int(seeds.length)], UCI_ALPHABET);
    const file = '/etc/config/bpfcountd';
    try {
      const pkg = parseUci(text, file);
      for (const section of pkg.sections) {
        if (section.type !== 'bpfcountd') continue;
        instanceFromSection(section, () => undefined);
        sections++;
      }
      accepted++;
    } catch (err) {
      assertPlaced(err, file, text);
      refused++;
    }
  }
  console.log(`fuzz UCI files: ${total} inputs, ${accepted} accepted (${sections} sections), ${refused} refused with file:line`);
  assert.equal(accepted + refused, total);
  assert.ok(accepted > 0 && refused > 0, 'the mutations reach both outcomes');
});
