import { writeSync } from 'node:fs';
import { destination } from 'pino';
import { FIELDS_JSON, type Logger } from '../review/deps.js';
import { jsonString, PLAIN_STRING } from '../review/text.js';

/** The longest line written: container runtimes split longer lines into partial ones (CRI: 16 KiB). */
export const MAX_LOG_LINE_BYTES = 16 * 1024;
const MAX_STRING = 512;
const MAX_ITEMS = 20;
const MAX_DEPTH = 8;

function shorten(value: unknown, depth: number): unknown {
  // What JSON.stringify would write for it (a Date its ISO text), so a record cuts down to the line it was.
  if (value !== null && typeof value === 'object' && typeof (value as { toJSON?: unknown }).toJSON === 'function') value = (value as { toJSON(): unknown }).toJSON();
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
  return boundRecord(record, bytes);
}

/** `boundLogLine` for a line whose record is at hand: the logger cuts the object it just wrote, without parsing it back. */
function boundRecord(record: Record<string, unknown>, bytes: number): string {
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
  /** How long a line may wait for others before the batch is written (default LOG_BATCH_MS; 0: each line at once). */
  batchMs?: number;
}

/** Lines logged within this many ms go out in one write (an OOM kill loses at most these). */
export const LOG_BATCH_MS = 10;
/** A batch this large is written at once, whatever its age. */
export const LOG_BATCH_BYTES = 16 * 1024;

/**
 * Lines gathered for up to `batchMs` (or LOG_BATCH_BYTES) and written together: one write per line cost the served
 * path a thread-pool round trip per review (about 10 µs of CPU), most of what a log line cost. `flush` writes what is
 * waiting at once, for exits.
 */
export class LineBatcher {
  private pending = '';
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly out: { write(text: string): unknown },
    private readonly batchMs: number = LOG_BATCH_MS,
  ) {}

  write(line: string): void {
    if (this.batchMs <= 0) {
      this.out.write(line);
      return;
    }
    this.pending += line;
    if (this.pending.length >= LOG_BATCH_BYTES) this.flush();
    // Not unref'd: a short-lived CLI still writes its last lines before it exits.
    else this.timer ??= setTimeout(() => this.flush(), this.batchMs);
  }

  flush(): void {
    const text = this.take();
    if (text !== '') this.out.write(text);
  }

  /** The lines waiting, handed to the caller instead of the output (the exit path writes them synchronously). */
  take(): string {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const text = this.pending;
    this.pending = '';
    return text;
  }
}

/** How long the exit path waits for a full stdout pipe to drain, in 10 ms waits, before it gives up on the last lines. */
const EXIT_WRITE_ATTEMPTS = 100;

/**
 * Writes all of `text` to `fd` before returning. stdout may be a non-blocking pipe: a full one answers EAGAIN, and the
 * reader gets 10 ms to drain it, a bounded number of times.
 */
function writeAllSync(fd: number, text: string): void {
  let bytes = Buffer.from(text);
  for (let attempts = 0; bytes.length > 0; ) {
    try {
      bytes = bytes.subarray(writeSync(fd, bytes));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EAGAIN' || ++attempts > EXIT_WRITE_ATTEMPTS) throw err;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
    }
  }
}

const LEVELS = { trace: 10, debug: 20, info: 30, warn: 40, error: 50 } as const;
type Level = keyof typeof LEVELS;

/**
 * JSON lines in pino's shape (`level`, `time`, `service`, the fields, `msg`), built with one JSON.stringify of the fields:
 * pino walked and escaped them key by key, about twice the cost on the review path. Fields are plain JSON values; a
 * value JSON cannot hold (a cycle, a BigInt) gives a line with the event, the message and why.
 */
class JsonLineLogger implements Logger {
  private readonly threshold: number;
  private readonly stamp = isoTimestamps();
  private readonly fields = new FieldsWriter();

  constructor(
    level: string,
    private readonly out: { write(line: string): void },
  ) {
    const threshold = LEVELS[level as Level];
    if (threshold === undefined) throw new Error(`log level ${JSON.stringify(level)}: expected one of ${Object.keys(LEVELS).join(', ')}`);
    this.threshold = threshold;
  }

  trace(obj: object, msg?: string): void {
    if (this.threshold <= LEVELS.trace) this.line('trace', obj, msg);
  }
  debug(obj: object, msg?: string): void {
    if (this.threshold <= LEVELS.debug) this.line('debug', obj, msg);
  }
  info(obj: object, msg?: string): void {
    if (this.threshold <= LEVELS.info) this.line('info', obj, msg);
  }
  warn(obj: object, msg?: string): void {
    if (this.threshold <= LEVELS.warn) this.line('warn', obj, msg);
  }
  error(obj: object, msg?: string): void {
    if (this.threshold <= LEVELS.error) this.line('error', obj, msg);
  }

  private line(level: Level, obj: object, msg: string | undefined): void {
    let inner: string;
    try {
      const ownJson = (obj as { [FIELDS_JSON]?: () => string })[FIELDS_JSON];
      inner = typeof ownJson === 'function' ? ownJson.call(obj) : this.fields.write(obj);
    } catch (err) {
      const event = (obj as { event?: unknown }).event;
      inner = this.fields.write({ ...(typeof event === 'string' ? { event } : {}), unserializable: (err as Error).message });
    }
    const stamp = this.stamp();
    const line = `{"level":"${level}"${stamp},"service":"aigw-admission"${inner}${msg === undefined ? '' : `,"msg":${jsonString(msg)}`}}\n`;
    // Byte length is measured only when the character count says the line might be over.
    const bytes = line.length * 3 > MAX_LOG_LINE_BYTES ? Buffer.byteLength(line) : 0;
    if (bytes <= MAX_LOG_LINE_BYTES) return this.out.write(line);
    // Cut from the fields as given (the line is their JSON), not from the line parsed back.
    this.out.write(boundRecord(Object.assign({ level, time: stamp.slice(9, -1), service: 'aigw-admission' }, obj, msg === undefined ? {} : { msg }), bytes));
  }
}

/** Field names whose `,"key":` text a writer keeps (names are the code's own; the bound keeps stray names out). */
const MAX_KEY_TEXTS = 512;

/**
 * Writes the fields of a record as JSON without its braces, each field led by a comma: what `JSON.stringify(obj)`
 * holds between them, written field by field so the flat values of a log record (names, uids, counts) need no general
 * walk; nested values go through JSON.stringify (which throws as it would for the whole record). One per logger: it
 * keeps the key texts it made and one array of pieces, reused line after line.
 */
export class FieldsWriter {
  private readonly keyTexts = new Map<string, string>();
  private readonly parts: string[] = [];
  private inUse = false;

  write(obj: object): string {
    if (typeof (obj as { toJSON?: unknown }).toJSON === 'function') {
      const whole = JSON.stringify(obj);
      return whole.length > 2 && whole.startsWith('{') ? `,${whole.slice(1, -1)}` : '';
    }
    // Pieces written into one reused array and joined once: one flat string, not a chain of concatenations per field,
    // and no array grown per line. A toJSON that logs comes back here while the array is in use: it gets its own.
    const parts = this.inUse ? [] : this.parts;
    if (parts === this.parts) this.inUse = true;
    try {
      const used = collectFields(obj, parts, this.keyText);
      // Slots a longer record used earlier are blanked, not cut: cutting the length gives the array's storage back.
      if (parts.length > 4 * used && parts.length > 256) parts.length = used;
      else for (let i = used; i < parts.length; i++) parts[i] = '';
      return parts.join('');
    } finally {
      if (parts === this.parts) this.inUse = false;
    }
  }

  private readonly keyText = (key: string): string => {
    let text = this.keyTexts.get(key);
    if (text === undefined) {
      text = `,${JSON.stringify(key)}:`;
      if (this.keyTexts.size < MAX_KEY_TEXTS) this.keyTexts.set(key, text);
    }
    return text;
  };
}

/** Writes the pieces of the record's fields into `parts` from index 0; returns how many it wrote. */
function collectFields(obj: object, parts: string[], keyText: (key: string) => string): number {
  let n = 0;
  for (const key in obj) {
    if (!Object.prototype.hasOwnProperty.call(obj, key)) continue;
    const value = (obj as Record<string, unknown>)[key];
    switch (typeof value) {
      case 'string':
        parts[n++] = keyText(key);
        if (PLAIN_STRING.test(value)) {
          parts[n++] = '"';
          parts[n++] = value;
          parts[n++] = '"';
        } else parts[n++] = JSON.stringify(value);
        break;
      case 'number':
        parts[n++] = keyText(key);
        parts[n++] = Number.isFinite(value) ? String(value) : 'null';
        break;
      case 'boolean':
        parts[n++] = keyText(key);
        parts[n++] = value ? 'true' : 'false';
        break;
      case 'undefined':
      case 'function':
      case 'symbol':
        break;
      default: {
        // undefined when a toJSON says so: JSON.stringify leaves the field out then.
        const json = JSON.stringify(value) as string | undefined;
        if (json !== undefined) {
          parts[n++] = keyText(key);
          parts[n++] = json;
        }
      }
    }
  }
  return n;
}

/**
 * JSON lines to stdout through an asynchronous destination (pino's sonic-boom): no synchronous write on the review
 * path. Lines are batched for at most LOG_BATCH_MS (LineBatcher), so a busy webhook writes in batches and a quiet one
 * still writes each line within milliseconds. Every line is at most MAX_LOG_LINE_BYTES.
 */
export function createLogger(options: LoggerOptions = {}): Logger & { flush(): void } {
  const sonic = options.stream ? undefined : destination({ dest: options.dest ?? 1, sync: options.sync ?? false, minLength: 0, contentMode: 'buffer' });
  // sonic-boom takes each batch as bytes, encoded once here: given text, it measured the batch's UTF-8 length twice
  // (the batch's and the queue's) and encoded it a third time. Its types name only text.
  const out = options.stream ?? { write: (text: string) => sonic!.write(Buffer.from(text) as unknown as string) };
  // A caller's stream (tests) and a synchronous destination get each line as it is logged.
  const batcher = new LineBatcher(out, options.stream || options.sync ? 0 : options.batchMs ?? LOG_BATCH_MS);
  const logger = new JsonLineLogger(options.level ?? 'info', batcher);
  return Object.assign(logger, {
    flush: () => {
      // Handed to sonic-boom, the waiting lines would start an asynchronous write, which an exiting process never
      // finishes: they are written here, synchronously, after what sonic-boom holds (a write already on the thread pool
      // may land after them).
      const text = batcher.take();
      // A destination opened by path may not be open yet (sonic-boom throws then; its `fd` is -1 until it is, a field
      // its types leave out): the lines stay queued.
      const fd = sonic ? (sonic as unknown as { fd: number }).fd : -1;
      if (!sonic || fd < 0) {
        if (text !== '') out.write(text);
        return;
      }
      sonic.flushSync();
      if (text !== '') writeAllSync(fd, text);
    },
  });
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
