import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * One entry of an on-disk cache (the parse cache, the compiled CRD validators). An entry that cannot be read is a miss;
 * one that cannot be written costs time, never a result.
 */
export function readCacheFile(file: string): Buffer | undefined {
  try {
    return readFileSync(file);
  } catch {
    return undefined;
  }
}

/** Written whole (temp file, then rename) so that a concurrent reader, another hook run, never sees half of one. */
export function writeCacheFile(file: string, data: string | Uint8Array): void {
  try {
    mkdirSync(dirname(file), { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, data);
    renameSync(tmp, file);
  } catch {
    // Not being able to cache costs time, never a result.
  }
}
