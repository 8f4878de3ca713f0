import { mkdtempSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { describe, expect, it, vi } from 'vitest';
import { LOG_BATCH_BYTES, LOG_BATCH_MS, LineBatcher, MAX_LOG_LINE_BYTES, boundLogLine, createLogger, FieldsWriter, isoTimestamps } from '../../src/observe/logger.js';

/** The complete lines in the file (a write still in flight may have left part of one at the end). */
const lines = (path: string) => {
  const text = readFileSync(path, 'utf8');
  return text.slice(0, text.lastIndexOf('\n') + 1).split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
};

async function untilWritten(path: string, count: number): Promise<Record<string, unknown>[]> {
  while (lines(path).length < count) await new Promise((r) => setImmediate(r));
  return lines(path);
}

describe('logger: lines reach the output promptly (issue 15 item 6)', () => {
  it('one short info line on a quiet webhook is written without waiting for more (no 4 KiB buffer; at most LOG_BATCH_MS)', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'aigw-log-')), 'out.log');
    writeFileSync(path, '');
    const logger = createLogger({ dest: path });
    logger.info({ event: 'review' }, 'reviewed');
    expect((await untilWritten(path, 1)).map((l) => l.event)).toEqual(['review']);
  });

  it('text beyond ASCII reaches the file whole, in order, across batches written while others are in flight', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'aigw-log-')), 'out.log');
    writeFileSync(path, '');
    const logger = createLogger({ dest: path });
    // About 3 KiB a line: the 40 lines fill several LOG_BATCH_BYTES batches, the later ones queued behind the first.
    const names = Array.from({ length: 40 }, (_, i) => `modèle-${i}-${'é🚀'.repeat(500)}`);
    for (const name of names) logger.info({ event: 'review', name }, 'reviewed');
    expect((await untilWritten(path, names.length)).map((l) => l.name)).toEqual(names);
  });

  it('lines logged while a write is in flight follow it, in order', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'aigw-log-')), 'out.log');
    writeFileSync(path, '');
    const logger = createLogger({ dest: path });
    logger.info({ event: 'quiet' }, 'first');
    logger.warn({ event: 'certs_reload_skipped' }, 'skipped');
    logger.error({ event: 'internal_error' }, 'failed');
    expect((await untilWritten(path, 3)).map((l) => [l.level, l.event])).toEqual([['info', 'quiet'], ['warn', 'certs_reload_skipped'], ['error', 'internal_error']]);
  });
});

describe('logger: lines are written in batches of at most LOG_BATCH_MS (issue 19)', () => {
  const recorder = () => {
    const writes: string[] = [];
    return { writes, out: { write: (text: string) => writes.push(text) } };
  };

  it('lines logged within the window go out in one write, in order, when the window ends', () => {
    vi.useFakeTimers();
    try {
      const { writes, out } = recorder();
      const batcher = new LineBatcher(out);
      batcher.write('a\n');
      batcher.write('b\n');
      vi.advanceTimersByTime(LOG_BATCH_MS - 1);
      expect(writes).toEqual([]);
      batcher.write('c\n');
      vi.advanceTimersByTime(1);
      expect(writes).toEqual(['a\nb\nc\n']);
      batcher.write('d\n');
      vi.advanceTimersByTime(LOG_BATCH_MS);
      expect(writes).toEqual(['a\nb\nc\n', 'd\n']);
      expect(vi.getTimerCount()).toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });

  it('a batch reaching LOG_BATCH_BYTES is written at once, and flush writes what waits (for exits)', () => {
    vi.useFakeTimers();
    try {
      const { writes, out } = recorder();
      const batcher = new LineBatcher(out);
      const big = `${'x'.repeat(LOG_BATCH_BYTES - 2)}\n`;
      batcher.write('a\n');
      batcher.write(big);
      expect(writes).toEqual([`a\n${big}`]);
      expect(vi.getTimerCount()).toBe(0);
      batcher.write('b\n');
      batcher.flush();
      expect(writes).toEqual([`a\n${big}`, 'b\n']);
      expect(vi.getTimerCount()).toBe(0);
      batcher.flush();
      expect(writes).toHaveLength(2);
    } finally {
      vi.useRealTimers();
    }
  });

  it('flush writes the batched lines to the file synchronously (serve calls it on exit, a crash included)', () => {
    const path = join(mkdtempSync(join(tmpdir(), 'aigw-log-')), 'out.log');
    writeFileSync(path, '');
    // A descriptor, as stdout is for serve: open at once.
    const logger = createLogger({ dest: openSync(path, 'a') });
    logger.info({ event: 'review' }, 'reviewed');
    logger.error({ event: 'internal_error' }, 'failed');
    expect(lines(path)).toEqual([]);
    logger.flush();
    expect(lines(path).map((l) => l.event)).toEqual(['review', 'internal_error']);
  });

  it('a window of 0 writes each line as it comes', () => {
    const { writes, out } = recorder();
    const batcher = new LineBatcher(out, 0);
    batcher.write('a\n');
    batcher.write('b\n');
    expect(writes).toEqual(['a\n', 'b\n']);
  });
});

describe('logger: the line shape (issue 19: one JSON.stringify per line)', () => {
  const capture = (level?: string) => {
    const written: string[] = [];
    const stream = new Writable({ write: (chunk, _enc, done) => (written.push(String(chunk)), done()) });
    return { written, logger: createLogger({ stream, level }) };
  };
  const withoutTime = (line: string) => line.replace(/,"time":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"/, ',"time":T');

  it("is pino's: level, time, service, the fields in order (undefined ones left out), then msg", () => {
    const { written, logger } = capture();
    logger.info({ event: 'review', uid: 'u-1', findings: [{ policy: 'p', message: 'say "x"\n' }], patchOps: undefined, ms: 0.5 }, 'review "done"');
    logger.warn({}, 'bare');
    logger.error({ event: 'e' });
    expect(written.map(withoutTime)).toEqual([
      '{"level":"info","time":T,"service":"aigw-admission","event":"review","uid":"u-1","findings":[{"policy":"p","message":"say \\"x\\"\\n"}],"ms":0.5,"msg":"review \\"done\\""}\n',
      '{"level":"warn","time":T,"service":"aigw-admission","msg":"bare"}\n',
      '{"level":"error","time":T,"service":"aigw-admission","event":"e"}\n',
    ]);
    expect(JSON.parse(written[0]!)).toMatchObject({ level: 'info', service: 'aigw-admission', msg: 'review "done"' });
  });

  it('writes only lines at or above its level, and refuses a level it does not know', () => {
    const { written, logger } = capture('warn');
    logger.debug({ event: 'd' }, 'd');
    logger.info({ event: 'i' }, 'i');
    logger.warn({ event: 'w' }, 'w');
    expect(written.map((l) => JSON.parse(l).event)).toEqual(['w']);
    expect(() => createLogger({ stream: new Writable(), level: 'verbose' })).toThrow('log level "verbose": expected one of trace, debug, info, warn, error');
  });

  it('a field JSON cannot hold gives a line with the event, the message and why, not a lost line', () => {
    const { written, logger } = capture();
    const cycle: Record<string, unknown> = { event: 'loop' };
    cycle.self = cycle;
    logger.info(cycle, 'cyclic');
    logger.info({ event: 'big', n: 10n }, 'bigint');
    const records = written.map((l) => JSON.parse(l));
    expect(records.map((r) => [r.event, r.msg, typeof r.unserializable])).toEqual([['loop', 'cyclic', 'string'], ['big', 'bigint', 'string']]);
  });
});

describe('FieldsWriter: what JSON.stringify writes between the braces, field by field', () => {
  const writer = new FieldsWriter();
  const fieldsJson = (obj: object) => writer.write(obj);
  const inner = (obj: object) => {
    const whole = JSON.stringify(obj);
    return whole.length > 2 ? `,${whole.slice(1, -1)}` : '';
  };
  const records: Array<[string, object]> = [
    ['plain strings, numbers, booleans', { event: 'review', uid: 'e491b020-abf2', ns: 'default', n: 3, ms: 0.037, neg: -0, big: 1e21, ok: true, no: false }],
    ['strings that need escaping', { q: 'say "x"', bs: 'a\\b', nl: 'line\nnext', tab: '\t', ctl: '\u0001', del: '\u007f', uni: 'héllo ✓', lone: '\ud800', emoji: '😀' }],
    ['values JSON writes as null or leaves out', { nan: Number.NaN, inf: Number.POSITIVE_INFINITY, nil: null, undef: undefined, fn: () => 1, sym: Symbol('s') }],
    ['nested values, a Date, a toJSON that says undefined', { list: [1, 'a', null, undefined], obj: { a: { b: [] } }, at: new Date(0), gone: { toJSON: () => undefined } }],
    ['keys that need escaping, and integer keys first', { 'a"b': 1, 'new\nline': 2, 2: 'two', 1: 'one' }],
    ['no fields', {}],
    ['a record with its own toJSON', { toJSON: () => ({ replaced: true }) }],
    ['an instance: own fields only', Object.assign(Object.create({ inherited: 1 }), { own: 2 })],
  ];
  it.each(records)('%s', (_name, record) => {
    expect(fieldsJson(record)).toBe(inner(record));
  });

  it('a toJSON that writes fields itself while a record is being written leaves both whole', () => {
    const nested = { toJSON: () => ({ inner: fieldsJson({ a: 'x', b: 2 }) }) };
    const record = { before: 'b', nested, after: true };
    expect(fieldsJson(record)).toBe(',"before":"b","nested":{"inner":",\\"a\\":\\"x\\",\\"b\\":2"},"after":true');
    expect(fieldsJson(record)).toBe(inner(record));
  });

  it('a shorter record after a longer one, an empty string among the fields, and one after a throw come out whole', () => {
    const long = { a: 'one', empty: '', b: 'two', c: 3, d: 'four', e: [5] };
    expect(fieldsJson(long)).toBe(inner(long));
    expect(fieldsJson({ x: 1 })).toBe(',"x":1');
    expect(() => fieldsJson({ a: 'partly', n: 1n, z: 'never' })).toThrow(TypeError);
    expect(fieldsJson({ y: 'after' })).toBe(',"y":"after"');
    const wide = Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`k${i}`, i]));
    expect(fieldsJson(wide)).toBe(inner(wide));
    expect(fieldsJson({ z: true })).toBe(',"z":true');
  });

  it('throws where JSON.stringify throws (the logger then writes why)', () => {
    expect(() => fieldsJson({ n: 10n })).toThrow(TypeError);
    const cycle: Record<string, unknown> = { a: 1 };
    cycle.self = { back: cycle };
    expect(() => fieldsJson(cycle)).toThrow(TypeError);
  });
});

describe('logger: a line has a size bound', () => {
  it('long values are cut to 512 characters and long lists to 20 entries; the line says it was truncated and how big it was', () => {
    const written: string[] = [];
    const stream = new Writable({ write: (chunk, _enc, done) => (written.push(String(chunk)), done()) });
    const logger = createLogger({ stream });
    const findings = Array.from({ length: 5000 }, (_, i) => ({ policy: 'p', path: `spec.rules[${i}]`, message: 'x'.repeat(3000) }));
    logger.info({ event: 'review', uid: 'u-1', findings }, 'reviewed');
    expect(written).toHaveLength(1);
    const line = written[0]!;
    expect(Buffer.byteLength(line)).toBeLessThanOrEqual(MAX_LOG_LINE_BYTES);
    const record = JSON.parse(line);
    expect(record).toMatchObject({ level: 'info', event: 'review', uid: 'u-1', msg: 'reviewed', truncated: true });
    expect(record.bytes).toBeGreaterThan(15_000_000);
    expect(record.findings).toHaveLength(21);
    expect(record.findings[20]).toBe('…and 4980 more');
    expect(record.findings[0]).toEqual({ policy: 'p', path: 'spec.rules[0]', message: `${'x'.repeat(512)}…(2488 more characters)` });
  });

  it('cuts what it was given to exactly the line boundLogLine makes of the whole line (a Date as its ISO text)', () => {
    const written: string[] = [];
    const stream = new Writable({ write: (chunk, _enc, done) => (written.push(String(chunk)), done()) });
    const logger = createLogger({ stream });
    const fields = { event: 'review', at: new Date(Date.UTC(2026, 10, 28)), skipped: undefined, findings: Array.from({ length: 30 }, (_, i) => ({ policy: 'p', message: `é${'x'.repeat(900)}${i}` })) };
    logger.info(fields, 'reviewed');
    const time = JSON.parse(written[0]!).time as string;
    const whole = `{"level":"info","time":"${time}","service":"aigw-admission",${JSON.stringify(fields).slice(1, -1)},"msg":"reviewed"}\n`;
    expect(Buffer.byteLength(whole)).toBeGreaterThan(MAX_LOG_LINE_BYTES);
    expect(written).toEqual([boundLogLine(whole)]);
    expect(JSON.parse(written[0]!)).toMatchObject({ at: '2026-11-28T00:00:00.000Z', truncated: true, bytes: Buffer.byteLength(whole) });
  });

  it('a line still too long after cutting keeps only level, time, event and msg', () => {
    const wide = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`k${i}`, Object.fromEntries(Array.from({ length: 40 }, (_, j) => [`f${j}`, 'y'.repeat(600)]))]));
    const line = `${JSON.stringify({ level: 'info', time: 't', service: 'aigw-admission', event: 'review', msg: 'm', wide })}\n`;
    expect(boundLogLine(line)).toBe(`{"level":"info","time":"t","service":"aigw-admission","event":"review","msg":"m","truncated":true,"bytes":${Buffer.byteLength(line)}}\n`);
    expect(boundLogLine('{"level":"info","msg":"short"}\n')).toBe('{"level":"info","msg":"short"}\n');
  });
});

describe('log timestamps', () => {
  it('are what Date#toISOString gives, built once per second and reused for the milliseconds within it', () => {
    const times = [Date.UTC(2026, 10, 28, 2, 5, 9, 7), Date.UTC(2026, 10, 28, 2, 5, 9, 42), Date.UTC(2026, 10, 28, 2, 5, 9, 999), Date.UTC(2026, 10, 28, 2, 5, 10, 0), Date.UTC(2026, 11, 31, 23, 59, 59, 120)];
    let i = 0;
    const stamp = isoTimestamps(() => times[i++]!);
    expect(times.map(() => stamp())).toEqual(times.map((t) => `,"time":"${new Date(t).toISOString()}"`));
  });
});
