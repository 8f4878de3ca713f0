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
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    dest,
  );
  return Object.assign(logger, { flush: () => dest.flushSync() });
}
