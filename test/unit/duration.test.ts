import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { GEP_2257_PATTERN, formatDuration, parseDuration } from '../../src/model/duration.js';
import { attemptBound, readRuleTimeouts } from '../../src/model/timeouts.js';

describe('parseDuration (GEP-2257 with Go ParseDuration semantics)', () => {
  it.each([
    ['0s', 0],
    ['5s', 5_000],
    ['500ms', 500],
    ['1m30s', 90_000],
    ['1s1s', 2_000],
    ['1h', 3_600_000],
    ['99999ms', 99_999],
    ['1h1m1s1ms', 3_661_001],
  ])('%s → %d ms', (text, ms) => {
    expect(parseDuration(text)).toEqual({ ok: true, ms });
  });

  it.each(['', '1', '1.5s', '-1s', '1d', '100000s', '1h1m1s1ms1s', ' 1s', '1S', '1us'])('rejects %j', (text) => {
    const r = parseDuration(text);
    expect(r.ok).toBe(false);
    expect(r.ok ? '' : r.error).toBe(
      `"${text}" is not a Gateway API duration: use 1 to 4 components of up to 5 digits with a unit h, m, s or ms, such as "30s", "1m30s" or "500ms"`,
    );
  });

  it('accepts exactly what the CRD pattern accepts, and adds the components up', () => {
    // The reference: the CRD's own pattern, then every component summed the way Go's ParseDuration does.
    const reference = (text: string): number | undefined => {
      if (!GEP_2257_PATTERN.test(text)) return undefined;
      const unitMs: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1_000, ms: 1 };
      let ms = 0;
      for (const [, digits, unit] of text.matchAll(/([0-9]{1,5})(h|ms|m|s)/g)) ms += Number(digits) * unitMs[unit!]!;
      return ms;
    };
    const component = fc.tuple(fc.stringMatching(/^[0-9]{0,7}$/), fc.constantFrom('h', 'm', 's', 'ms', 'mss', 'sm', 'd', '', '.5s', ' '));
    const text = fc.oneof(
      fc.array(component, { maxLength: 6 }).map((parts) => parts.map(([d, u]) => d + u).join('')),
      fc.string({ unit: fc.constantFrom('0', '1', '9', 'h', 'm', 's', 'x', '-', '.'), maxLength: 14 }),
    );
    fc.assert(
      fc.property(text, (t) => {
        const expected = reference(t);
        expect(parseDuration(t)).toEqual(expected === undefined ? { ok: false, error: expect.any(String) } : { ok: true, ms: expected });
      }),
      { numRuns: 2000 },
    );
  });

  it('names the wrong type', () => {
    expect(parseDuration(30)).toEqual({ ok: false, error: 'must be a string duration such as "30s" or "1m30s", got number 30' });
  });

  it.each([
    [0, '0s'],
    [500, '500ms'],
    [5_000, '5s'],
    [90_000, '1m30s'],
    [60_000, '1m0s'],
    [3_600_000, '1h0m0s'],
    [1_500, '1.5s'],
  ])('formats %d ms as %s', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });
});

describe('attemptBound', () => {
  const bound = (rule: object) => {
    const t = readRuleTimeouts(rule);
    if (!t.ok) throw new Error(t.error);
    return attemptBound(t.value);
  };
  it('uses backendRequest when set', () => {
    expect(bound({ timeouts: { request: '60s', backendRequest: '20s' } })).toMatchObject({ ms: 20_000, source: 'backendRequest' });
  });
  it('uses request without backendRequest', () => {
    expect(bound({ timeouts: { request: '30s' } })).toMatchObject({ ms: 30_000, source: 'request' });
  });
  it('falls back to the implied 60s', () => {
    expect(bound({})).toMatchObject({ ms: 60_000, source: 'implied' });
  });
  it('reports the first field that does not parse', () => {
    expect(readRuleTimeouts({ timeouts: { request: '30s', backendRequest: '1x' } })).toMatchObject({ ok: false, field: 'timeouts.backendRequest' });
  });
});
