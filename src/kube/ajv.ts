import { createRequire } from 'node:module';

const requireHere = createRequire(import.meta.url);

/**
 * ajv, loaded on first use rather than with the CLI: a warm pre-commit `check` (validators from the cache, no config
 * file) compiles no schema and so spares the 60 ms of loading it. Every schema compile of ours comes through here.
 */
export function ajvLibrary(): typeof import('ajv') {
  return requireHere('ajv') as typeof import('ajv');
}

/** ajv's standalone code generation (`ajv/dist/standalone`), for the compiled CRD validators kept between runs. */
export function ajvStandalone(): typeof import('ajv/dist/standalone/index.js').default {
  return requireHere('ajv/dist/standalone') as typeof import('ajv/dist/standalone/index.js').default;
}
