import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { Script } from 'node:vm';
import type { ValidateFunction } from 'ajv';
import { readCacheFile, writeCacheFile } from '../input/cache-file.js';
import { FORMATS_SPECIFIER, KUBERNETES_FORMATS, formatsFingerprint } from './formats.js';

/**
 * A compiled CRD validator as kept between runs: the code ajv generated for the schema (its standalone code), and
 * V8's compiled form of that code, which spares the seconds of ajv compiling the EnvoyProxy schema and the fraction of a
 * second V8 takes to compile its 3 MB of code.
 */
export interface CachedValidator {
  code: string;
  /** V8's code cache of `code` (vm.Script#createCachedData); absent or rejected by this V8, the code is compiled again. */
  v8?: Uint8Array;
}

/** Compiled validators by key (validatorKey). The CLI passes a disk cache in the user cache dir; none is no caching. */
export interface ValidatorCache {
  get(key: string): CachedValidator | undefined;
  set(key: string, entry: CachedValidator): void;
}

/**
 * Part of every key. Bump it when anything that shapes the generated code changes other than the translated schema,
 * ajv's version and the formats (which are in the key already): the Ajv options of CrdSchemas, the loader.
 */
export const VALIDATOR_FORMAT = 'crd-validator-v1';

const requireHere = createRequire(import.meta.url);
const AJV_VERSION = (requireHere('ajv/package.json') as { version: string }).version;

/** The key of the validator of a translated schema (toAjvSchema's output): anything that changes the code changes it. */
export function validatorKey(translated: unknown): string {
  return createHash('sha256')
    .update(`${VALIDATOR_FORMAT}\0ajv ${AJV_VERSION}\0${formatsFingerprint()}\0`)
    .update(JSON.stringify(translated))
    .digest('hex');
}

/** A validator loaded from generated code, with what it takes to cache V8's compiled form after it has run. */
export interface LoadedValidator {
  validate: ValidateFunction;
  /** False when the V8 data given was used; true when the code was compiled here (none given, or V8 refused it). */
  compiledHere: boolean;
  /** V8's code cache for the code, with every function compiled so far (call after the validator has run once). */
  v8Data(): Uint8Array;
}

/**
 * Runs ajv's standalone code (CommonJS: `module.exports = validateN`) of our own making. The code may `require` only
 * ajv's runtime helpers and our formats; anything else, a syntax error or an export that is not a function throws,
 * and the caller treats the entry as a miss.
 */
export function loadValidator(code: string, v8?: Uint8Array): LoadedValidator {
  const script = new Script(`(function (require, module, exports) {${code}\n})`, {
    filename: 'aigw-admission-crd-validator.js',
    cachedData: v8,
  });
  const module = { exports: {} as unknown };
  (script.runInThisContext() as (require: (spec: string) => unknown, module: object, exports: unknown) => void)(requireForGeneratedCode, module, module.exports);
  if (typeof module.exports !== 'function') throw new Error('generated validator code exports no function');
  return {
    validate: module.exports as ValidateFunction,
    compiledHere: v8 === undefined || script.cachedDataRejected === true,
    v8Data: () => script.createCachedData(),
  };
}

function requireForGeneratedCode(spec: string): unknown {
  if (spec === FORMATS_SPECIFIER) return KUBERNETES_FORMATS;
  if (/^ajv\/dist\/runtime\/[a-z0-9]+$/.test(spec)) return requireHere(spec);
  throw new Error(`generated validator code requires ${spec}, which it may not`);
}

const MAGIC = 'aigw-admission crd validator\n';

/**
 * The cache as files in `dir` (the CLI passes the user cache dir, shared with the parse cache), one per key: a header
 * with the lengths and SHA-256 of the parts, the code, the V8 data. An entry that is cut short, altered or unreadable is
 * a miss (the schema is compiled again and the entry rewritten), never an error.
 */
export function diskValidatorCache(dir: string): ValidatorCache {
  const file = (key: string) => join(dir, `${VALIDATOR_FORMAT}-${key}.bin`);
  return {
    get(key) {
      const data = readCacheFile(file(key));
      if (!data) return undefined;
      const headerEnd = data.indexOf(10, MAGIC.length);
      if (headerEnd < 0 || data.subarray(0, MAGIC.length).toString('latin1') !== MAGIC) return undefined;
      const [codeBytes, v8Bytes, digest] = data.subarray(MAGIC.length, headerEnd).toString('latin1').split(' ');
      const body = data.subarray(headerEnd + 1);
      if (body.length !== Number(codeBytes) + Number(v8Bytes) || createHash('sha256').update(body).digest('hex') !== digest) return undefined;
      const code = body.subarray(0, Number(codeBytes)).toString('utf8');
      return Number(v8Bytes) > 0 ? { code, v8: body.subarray(Number(codeBytes)) } : { code };
    },
    set(key, entry) {
      const body = Buffer.concat([Buffer.from(entry.code, 'utf8'), entry.v8 ?? Buffer.alloc(0)]);
      const codeBytes = Buffer.byteLength(entry.code, 'utf8');
      const header = `${MAGIC}${codeBytes} ${body.length - codeBytes} ${createHash('sha256').update(body).digest('hex')}\n`;
      writeCacheFile(file(key), Buffer.concat([Buffer.from(header, 'latin1'), body]));
    },
  };
}
