import { describe, expect, it } from 'vitest';
import { isoTimestamps } from '../../src/observe/logger.js';

describe('log timestamps', () => {
  it('are what Date#toISOString gives, built once per second and reused for the milliseconds within it', () => {
    const times = [Date.UTC(2026, 10, 28, 2, 5, 9, 7), Date.UTC(2026, 10, 28, 2, 5, 9, 42), Date.UTC(2026, 10, 28, 2, 5, 9, 999), Date.UTC(2026, 10, 28, 2, 5, 10, 0), Date.UTC(2026, 11, 31, 23, 59, 59, 120)];
    let i = 0;
    const stamp = isoTimestamps(() => times[i++]!);
    expect(times.map(() => stamp())).toEqual(times.map((t) => `,"time":"${new Date(t).toISOString()}"`));
  });
});
