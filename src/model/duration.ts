/**
 * Gateway API durations (GEP-2257): the CRD pattern plus Go time.ParseDuration semantics,
 * where components simply add up (`1m30s` = 90 s, `1s1s` = 2 s).
 */
export const GEP_2257_PATTERN = /^([0-9]{1,5}(h|m|s|ms)){1,4}$/;

const UNIT_MS = { h: 3_600_000, m: 60_000, s: 1_000, ms: 1 } as const;
const DIGIT_0 = 48;
const DIGIT_9 = 57;
const H = 104;
const M = 109;
const S = 115;

/**
 * The sum of the components in milliseconds, or -1 when `value` does not match GEP_2257_PATTERN. A hand-written scan
 * rather than the regex plus matchAll: policies read every duration of every rule, and matchAll clones its RegExp.
 */
function scanDuration(value: string): number {
  const n = value.length;
  let i = 0;
  let components = 0;
  let ms = 0;
  while (i < n) {
    if (++components > 4) return -1;
    let digits = 0;
    let amount = 0;
    for (let c = value.charCodeAt(i); c >= DIGIT_0 && c <= DIGIT_9; c = value.charCodeAt(++i)) {
      if (++digits > 5) return -1;
      amount = amount * 10 + (c - DIGIT_0);
    }
    if (digits === 0) return -1;
    const unit = value.charCodeAt(i);
    // After `m` only a digit may follow, so `ms` is never a minute followed by something else.
    if (unit === M && value.charCodeAt(i + 1) === S) {
      ms += amount * UNIT_MS.ms;
      i += 2;
    } else if (unit === H || unit === M || unit === S) {
      ms += amount * (unit === H ? UNIT_MS.h : unit === M ? UNIT_MS.m : UNIT_MS.s);
      i += 1;
    } else return -1;
  }
  return components === 0 ? -1 : ms;
}

export type ParsedDuration = { ok: true; ms: number } | { ok: false; error: string };

export function parseDuration(value: unknown): ParsedDuration {
  if (typeof value !== 'string') {
    return { ok: false, error: `must be a string duration such as "30s" or "1m30s", got ${describeValue(value)}` };
  }
  const ms = scanDuration(value);
  if (ms < 0) {
    return {
      ok: false,
      error: `"${truncate(value)}" is not a Gateway API duration: use 1 to 4 components of up to 5 digits with a unit h, m, s or ms, such as "30s", "1m30s" or "500ms"`,
    };
  }
  return { ok: true, ms };
}

/** Shortest readable form of a millisecond count, the way Go prints a Duration (`1m30s`, `500ms`, `0s`). */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  if (ms < 1000) return `${ms}ms`;
  let rest = ms;
  let out = '';
  const h = Math.floor(rest / 3_600_000);
  rest -= h * 3_600_000;
  const m = Math.floor(rest / 60_000);
  rest -= m * 60_000;
  if (h) out += `${h}h`;
  if (h || m) out += `${m}m`;
  const s = rest / 1000;
  out += `${Number.isInteger(s) ? s : s.toFixed(3).replace(/0+$/, '')}s`;
  return out;
}

export function describeValue(value: unknown): string {
  if (value === undefined) return 'missing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return `"${truncate(value)}"`;
  if (typeof value === 'object') return 'an object';
  return `${typeof value} ${String(value)}`;
}

function truncate(s: string, max = 64): string {
  return s.length > max ? `${s.slice(0, max)}…` : s;
}
