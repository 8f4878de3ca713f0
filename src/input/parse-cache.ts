import { createHash } from 'node:crypto';
import { join } from 'node:path';
import type { KubeObject } from '../kube/types.js';
import { readCacheFile, writeCacheFile } from './cache-file.js';

/** One parsed document of a file, without the file's name (the same content may sit under any name). */
export interface CachedDocument {
  object: KubeObject;
  line: number;
  document: number;
  item?: number;
}

/**
 * Parsed manifests by the digest of their text. A big file (a CRD bundle: megabytes of YAML) takes seconds to parse and
 * JSON of the same objects milliseconds, so a pre-commit hook that checks against the same CRDs every time parses them once.
 */
export interface ParseCache {
  get(digest: string): CachedDocument[] | undefined;
  set(digest: string, documents: readonly CachedDocument[]): void;
}

/** Files smaller than this parse faster than the cache reads. */
export const CACHED_FILE_BYTES = 64 * 1024;
/** Part of every key: a change to how files are parsed makes old entries misses. */
const FORMAT = 'manifests-v1';

export function textDigest(text: string): string {
  return createHash('sha256').update(FORMAT).update('\0').update(text).digest('hex');
}

/**
 * The cache as files in `dir` (the CLI passes the user cache dir), one JSON file per digest, written whole (temp file,
 * then rename) so a concurrent reader never sees half of one. A cache that cannot be read or written is a miss: the
 * file is parsed as if there were none.
 */
export function diskParseCache(dir: string): ParseCache {
  const file = (digest: string) => join(dir, `${FORMAT}-${digest}.json`);
  return {
    get(digest) {
      const text = readCacheFile(file(digest));
      try {
        return text ? (JSON.parse(text.toString('utf8')) as CachedDocument[]) : undefined;
      } catch {
        return undefined;
      }
    },
    set(digest, documents) {
      writeCacheFile(file(digest), JSON.stringify(documents));
    },
  };
}
