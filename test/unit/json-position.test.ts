import { describe, expect, it } from 'vitest';
import { jsonErrorPosition, lineAndColumn } from '../../src/review/json-position.js';

describe('jsonErrorPosition: where a body stops being JSON, without quoting it', () => {
  it('agrees with V8 wherever V8 names a position', () => {
    const broken = [
      '{"a":1}x', '{"a" 1}', '{a:1}', '{"a":1,}', '[1,]', '[1 2]', '{"a":"\u0001"}', '{"a":"\\x"}', '{"a":"\\u12G4"}',
      '{"a":01}', '{"a":1.}', '{"a":1e}', '{"a":-}', '[tru]', '{"a":[1,{"b":nul}]}', ' \n {"a": [ 1 , 2 ] , "b" : {} } ]',
      '[[[[[[[[[[1]]]]]]]]]]]', '{"a":1 "b":2}', '{,}', '[,1]', '{"a":1}{', '"abc\ndef"',
    ];
    for (const text of broken) {
      let v8: string | undefined;
      try {
        JSON.parse(text);
      } catch (err) {
        v8 = (err as Error).message;
      }
      const named = / at position (\d+)/.exec(v8!);
      if (named) expect([text, jsonErrorPosition(text)]).toEqual([text, Number(named[1])]);
    }
  });

  it('names the offending character where V8 quotes it instead, and -1 / the end for valid or truncated text', () => {
    expect(jsonErrorPosition('not json')).toBe(0);
    expect(jsonErrorPosition('[1, x]')).toBe(4);
    expect(jsonErrorPosition('{"kind":')).toBe(8);
    expect(jsonErrorPosition('')).toBe(0);
    expect(jsonErrorPosition(' {"a": [1, 2.5e-3, true, null, "\\u00e9\\n"], "b": {}} ')).toBe(-1);
    expect(jsonErrorPosition('['.repeat(100_000))).toBe(100_000);
    expect(lineAndColumn('a\nbc\nd', 4)).toEqual({ line: 2, column: 3 });
  });
});
