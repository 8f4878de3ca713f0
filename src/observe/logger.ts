import { pino, destination } from 'pino';
import type { Logger } from '../review/deps.js';

/** JSON lines to stdout through an asynchronous destination: no synchronous write on the review path. */
export function createLogger(options: { level?: string; sync?: boolean; stream?: NodeJS.WritableStream } = {}): Logger & { flush(): void } {
  const dest = options.stream
    ? Object.assign(options.stream, { flushSync() {} })
    : destination({ dest: 1, sync: options.sync ?? false, minLength: options.sync ? 0 : 4096 });
  const logger = pino(
    {
      level: options.level ?? 'info',
      base: { service: 'aigw-admission' },
      timestamp: isoTimestamps(),
      formatters: { level: (label) => ({ level: label }) },
    },
    dest,
  );
  return Object.assign(logger, { flush: () => dest.flushSync() });
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
