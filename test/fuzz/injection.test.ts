/**
 * Rule ids and expressions never become code: the generated filter function
 * holds neither ids nor any word of an expression, whatever the text; a
 * canary that only code injection could set stays unset after compiling and
 * running every rule on packets.
 */
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { expandRules } from '../../src/config/expand';
import { parseFilterText } from '../../src/config/filter-file';
import { ConfigError } from '../../src/config/errors';
import { compileMatcher } from '../../src/filter';
import { randomEthernetFrame } from '../filter/gen/random-packets';
import { fuzzInputs, fuzzPrng, noise } from './budget';

const PAYLOADS = [
  '";globalThis.__pwned__=1;//', "'+(globalThis.__pwned__=1)+'", '`${globalThis.__pwned__=1}`', '*/globalThis.__pwned__=1;/*',
  '\\u0022;globalThis.__pwned__=1', ')||(globalThis.__pwned__=1)||(', '\n globalThis.__pwned__=1', '__proto__', 'constructor',
];

declare global {
  var __pwned__: number | undefined;
}

test('fuzz: hostile rule ids and expressions never reach the generated code', () => {
  const prng = fuzzPrng(8);
  const total = fuzzInputs(2000);
  let compiledRules = 0, refusedFiles = 0;
  const frames = Array.from({ length: 50 }, () => randomEthernetFrame(prng));
  for (let i = 0; i < total; i++) {
    const payload = PAYLOADS[prng.int(PAYLOADS.length)];
    const id = prng.chance(0.5) ? payload : `${noise(prng, prng.range(1, 10), 'abc:;{}$"\'`\\')}${payload}`;
    const exprs = ['arp', 'port 53', `host 10.0.0.1 and ${payload}`, `tcp port ${payload}`, `ether[0] = 1 ${payload}`, payload];
    const text = `${id.replace(/[\n;]/g, '_')};${exprs[prng.int(exprs.length)].replace(/\n/g, ' ')}\nok;udp\n`;
    let rules;
    try {
      rules = expandRules(parseFilterText(text, 'hostile.filters'), undefined);
    } catch (err) {
      assert.ok(err instanceof ConfigError, String(err));
      refusedFiles++;
      continue;
    }
    const bytes = new Float64Array(rules.length), packets = new Float64Array(rules.length);
    const m = compileMatcher(rules.map((r, slot) => ({ slot, expr: r.expr })), 1, bytes, packets);
    assert.doesNotMatch(m.source, /pwned|__proto__|constructor|globalThis/, `generated code holds input text: ${m.source.slice(0, 300)}`);
    for (const r of rules) if (r.id.length > 3) assert.ok(!m.source.includes(r.id), `rule id ${JSON.stringify(r.id)} in the code`);
    for (const f of frames) m.match(f, f.length, f.length);
    compiledRules += m.plans.filter((p) => p.engine === 'javascript').length;
  }
  assert.equal(globalThis.__pwned__, undefined, 'injected code ran');
  console.log(`fuzz injection: ${total} hostile rule files, ${refusedFiles} refused, ${compiledRules} rules compiled to JavaScript; canary untouched`);
  assert.ok(compiledRules > total / 2);
});
