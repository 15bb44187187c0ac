/** Rule ids as Prometheus label lists: what parses, what is refused and where the error points. */
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { ConfigError } from '../../src/config/errors';
import { expandRules } from '../../src/config/expand';
import { parseFilterText } from '../../src/config/filter-file';
import { isLabelList, LabelListError, ruleLabels } from '../../src/config/label-list';

function configError(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    return err.message;
  }
  assert.fail('expected a ConfigError');
}

describe('label-list rule ids', () => {
  it('a plain id is the label rule, whatever it contains', () => {
    for (const id of ['arp-req', 'port=53', 'a"b', 'x,y', '=', 'ünïcödé', 'back\\slash', '1abc="x"', ' lead']) {
      assert.equal(isLabelList(id), false, id);
      assert.deepEqual(ruleLabels(id), [['rule', id]]);
    }
  });

  it('a list becomes its labels, in the order written, values unescaped', () => {
    assert.deepEqual(ruleLabels('type="arp",subtype="request"'), [['type', 'arp'], ['subtype', 'request']]);
    assert.deepEqual(ruleLabels('_x="",Y9="a,b=c d"'), [['_x', ''], ['Y9', 'a,b=c d']]);
    assert.deepEqual(ruleLabels('v="q\\"uote back\\\\slash new\\nline"'), [['v', 'q"uote back\\slash new\nline']]);
    assert.deepEqual(ruleLabels('rule="x"'), [['rule', 'x']]);
  });

  it('a malformed list is refused with the reason', () => {
    const cases: [string, RegExp][] = [
      ['a="x"b="y"', /expected ',' or the end after label 'a'/],
      ['a="x",', /expected a label name at offset 6/],
      ['a="x", b="y"', /expected a label name/],
      ['a="x",b=y', /expected '="' after label name 'b'/],
      ['a="x,b="y', /expected ',' or the end/],
      ['a="unterminated', /no closing '"'/],
      ['a="x\\t"', /unknown escape '\\t'/],
      ['a="x\\', /unknown escape/],
      ['a="1",a="2"', /label 'a' appears twice/],
      ['__name__="x"', /reserved/],
      ['instance="x"', /set by the daemon/],
      ['a="1",interface="x"', /set by the daemon/],
      ['a="1",b-c="2"', /expected '="' after label name 'b'/],
    ];
    for (const [id, reason] of cases) {
      assert.equal(isLabelList(id), true, id);
      assert.throws(() => ruleLabels(id), (err: unknown) => err instanceof LabelListError && reason.test(err.message), id);
    }
    assert.equal(cases.length, 13);
  });

  it('a malformed list in a filter file is a config error at its file:line', () => {
    const message = configError(() => parseFilterText('ok;ip\n# comment\na="1",a="2";arp\n', 'rules.filters'));
    assert.equal(message, `rules.filters:3: rule id 'a="1",a="2"' is not a valid label list: label 'a' appears twice`);
    assert.equal(message.includes('\n'), false);
  });

  it('two ids with one label set are refused (they would be one series)', () => {
    const lines = parseFilterText('a="1",b="2";ip\nb="2",a="1";arp\n', 'f');
    assert.equal(configError(() => expandRules(lines, undefined)), `f:2: rule 'b="2",a="1"' has the same metric labels as rule 'a="1",b="2"' (f:1)`);
    const plain = parseFilterText('x;ip\nrule="x";arp\n', 'g');
    assert.equal(configError(() => expandRules(plain, undefined)), `g:2: rule 'rule="x"' has the same metric labels as rule 'x' (g:1)`);
    // Different values, or one label more, are different series.
    assert.equal(expandRules(parseFilterText('a="1";ip\na="2";arp\na="1",b="1";udp\n', 'h'), undefined).length, 3);
  });
});
