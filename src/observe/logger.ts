import { pino, destination } from 'pino';
import type { Logger } from '../review/deps.js';

/** The longest line written: container runtimes split longer lines into partial ones (CRI: 16 KiB). */
export const MAX_LOG_LINE_BYTES = 16 * 1024;
const MAX_STRING = 512;
const MAX_ITEMS = 20;
const MAX_DEPTH = 8;

function shorten(value: unknown, depth: number): unknown {
  if (typeof value === 'string') return value.length > MAX_STRING ? `${value.slice(0, MAX_STRING)}…(${value.length - MAX_STRING} more characters)` : value;
  if (value === null || typeof value !== 'object') return value;
  if (depth >= MAX_DEPTH) return '…(nested too deep)';
  if (Array.isArray(value)) {
    const items = value.slice(0, MAX_ITEMS).map((v) => shorten(v, depth + 1));
    if (value.length > MAX_ITEMS) items.push(`…and ${value.length - MAX_ITEMS} more`);
    return items;
  }
  const entries = Object.entries(value);
  const out: Record<string, unknown> = {};
  for (const [k, v] of entries.slice(0, MAX_ITEMS * 2)) out[k] = shorten(v, depth + 1);
  if (entries.length > MAX_ITEMS * 2) out['…'] = `${entries.length - MAX_ITEMS * 2} more keys`;
  return out;
}

/**
 * A line over MAX_LOG_LINE_BYTES, cut down: long strings and lists shortened (`…(N more characters)`, `…and N more`),
 * marked `"truncated":true` with the original size; if that is still too long, only level, time, event and msg stay.
 */
export function boundLogLine(line: string): string {
  const bytes = Buffer.byteLength(line);
  if (bytes <= MAX_LOG_LINE_BYTES) return line;
  let record: Record<string, unknown>;
  try {
    record = JSON.parse(line) as Record<string, unknown>;
  } catch {
    record = { msg: 'a log line that was not JSON' };
  }
  const shortened = `${JSON.stringify({ ...(shorten(record, 0) as object), truncated: true, bytes })}\n`;
  if (Buffer.byteLength(shortened) <= MAX_LOG_LINE_BYTES) return shortened;
  const { level, time, service, event, msg } = record;
  return `${JSON.stringify(shorten({ level, time, service, event, msg, truncated: true, bytes }, 0))}\n`;
}

export interface LoggerOptions {
  level?: string;
  sync?: boolean;
  /** Where lines go instead of stdout (tests); still bounded. */
  stream?: NodeJS.WritableStream;
  /** A file descriptor or path instead of stdout (default 1). */
  dest?: number | string;
}

/**
 * JSON lines to stdout through an asynchronous destination: no synchronous write on the review path. No minimum
 * write size: a line goes out at once, or with the others that arrived while the previous write was in flight (so a
 * busy webhook still writes in batches), and an OOM kill loses only what was in flight. Every line is at most
 * MAX_LOG_LINE_BYTES.
 */
export function createLogger(options: LoggerOptions = {}): Logger & { flush(): void } {
  const sonic = options.stream ? undefined : destination({ dest: options.dest ?? 1, sync: options.sync ?? false, minLength: 0 });
  const target: { write(line: string): unknown } = options.stream ?? sonic!;
  const bounded = {
    write(line: string) {
      // Byte length is measured only when the character count says the line might be over.
      target.write(line.length * 3 > MAX_LOG_LINE_BYTES ? boundLogLine(line) : line);
    },
  };
  const logger = pino(
    {
      level: options.level ?? 'info',
      base: { service: 'aigw-admission' },
      timestamp: isoTimestamps(),
      formatters: { level: (label) => ({ level: label }) },
    },
    bounded,
  );
  return Object.assign(logger, { flush: () => sonic?.flushSync() });
}

/**
 * pino's `"time"` field as ISO 8601 in UTC, like `pino.stdTimeFunctions.isoTime`, without a Date and a toISOString per
 * line: the text up to the second is built once per second, the milliseconds are appended.
 */
export function isoTimestamps(clock: () => number = Date.now): () => string {
  let second = Number.NaN;
  let prefix = '';
  return () => {
    const now = clock();
    const s = Math.floor(now / 1000);
    if (s !== second) {
      second = s;
      prefix = `,"time":"${new Date(s * 1000).toISOString().slice(0, 20)}`;
    }
    const ms = now - s * 1000;
    return `${prefix}${ms < 10 ? '00' : ms < 100 ? '0' : ''}${ms}Z"`;
  };
}
