/**
 * The compiled CRD validators kept between runs (issue 20 item 6): a validator loaded from the cache gives exactly the
 * errors of one ajv compiles afresh, a bad entry is compiled again, the key follows the schema, and the off switch
 * writes nothing.
 */
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CrdSchemas, crdAjv, toAjvSchema, type SchemaNode } from '../../src/crd/schemas.js';
import { diskValidatorCache, loadValidator, validatorKey, type CachedValidator, type ValidatorCache } from '../../src/crd/validator-cache.js';
import type { KubeObject } from '../../src/kube/types.js';
import { runCli } from '../cli-run.js';
import { HAS_SHARED, ROOT, SHARED, listFiles, yamlObjects } from '../helpers.js';

const PROJECT_CRDS = listFiles(join(ROOT, 'test/fixtures/check/crds'), '.yaml');
const FORMATS_CRD = join(ROOT, 'test/fixtures/crd-cache/formats-crd.yaml');

interface Version {
  crd: KubeObject;
  group: string;
  kind: string;
  name: string;
  schema: SchemaNode;
}

function versionsOf(crd: KubeObject): Version[] {
  const spec = crd.spec as { group: string; names: { kind: string }; versions: { name: string; served?: boolean; schema?: { openAPIV3Schema?: SchemaNode } }[] };
  return spec.versions
    .filter((v) => v.served !== false && v.schema?.openAPIV3Schema)
    .map((v) => ({ crd, group: spec.group, kind: spec.names.kind, name: v.name, schema: v.schema!.openAPIV3Schema! }));
}

/** A value that breaks the node's schema wherever it can (wrong enum, pattern, format, bound, type, unknown field). */
function wrong(node: SchemaNode, depth = 0): unknown {
  if (depth > 10) return {};
  if (node['x-kubernetes-int-or-string']) return true;
  if (node.enum) return 'not-one-of-them';
  switch (node.type) {
    case 'string':
      return node.format ? `not a ${node.format}` : node.pattern ? '!! matches nothing !!' : typeof node.maxLength === 'number' ? 'x'.repeat(node.maxLength + 1) : 42;
    case 'integer':
      return node.maximum !== undefined ? node.maximum + 1 : node.format === 'int32' ? 2 ** 40 : 1.5;
    case 'number':
      return node.maximum !== undefined ? node.maximum : 'NaN';
    case 'boolean':
      return 'yes';
    case 'array':
      return node.items ? [wrong(node.items, depth + 1), wrong(node.items, depth + 1), wrong(node.items, depth + 1)] : [1, 1, 1];
    default: {
      const out: Record<string, unknown> = { notAField: 1 };
      for (const [name, prop] of Object.entries(node.properties ?? {})) out[name] = wrong(prop, depth + 1);
      if (typeof node.additionalProperties === 'object') out.someKey = wrong(node.additionalProperties, depth + 1);
      return out;
    }
  }
}

/** Objects of the version's kind to validate: every field wrong, spec of the wrong type, spec empty (required fields). */
function samples(v: Version): KubeObject[] {
  const base = { apiVersion: `${v.group}/${v.name}`, kind: v.kind, metadata: { name: 'sample', namespace: 'default' } };
  const spec = v.schema.properties?.spec;
  return [
    { ...base, ...(wrong(v.schema) as object), ...base },
    { ...base, spec: 'not an object' },
    { ...base, spec: {} },
    ...(spec ? [{ ...base, spec: wrong(spec) }] : []),
  ] as KubeObject[];
}

/** A disk cache in a fresh temporary dir, counting what it is asked. */
function countingCache(): { cache: ValidatorCache; dir: string; gets: string[]; sets: string[] } {
  const dir = mkdtempSync(join(tmpdir(), 'aigw-validators-'));
  const disk = diskValidatorCache(dir);
  const gets: string[] = [];
  const sets: string[] = [];
  return {
    dir,
    gets,
    sets,
    cache: {
      get: (key) => {
        const entry = disk.get(key);
        if (entry) gets.push(key);
        return entry;
      },
      set: (key, entry) => {
        sets.push(key);
        disk.set(key, entry);
      },
    },
  };
}

/**
 * Fills a cache through CrdSchemas (the way check does), then compares, on every sample, the cached validator's raw
 * errors with those of the schema compiled afresh, and CrdSchemas' findings with a cache hit, with a miss and without a
 * cache. Returns how many ajv errors were compared, so that a test can show it compared something.
 */
function compareCachedWithFresh(crds: KubeObject[]): number {
  const { cache, dir } = countingCache();
  // The last CRD given for a kind wins, as in CrdSchemas (Gateway API's standard and experimental channels).
  const versions = [...new Map(crds.flatMap(versionsOf).map((v) => [`${v.group}/${v.kind}/${v.name}`, v])).values()];
  const miss = new CrdSchemas(crds, { cache });
  const missFindings = versions.flatMap((v) => samples(v).map((o) => miss.check(o)));
  const hit = new CrdSchemas(crds, { cache });
  const plain = new CrdSchemas(crds);
  const hitFindings = versions.flatMap((v) => samples(v).map((o) => hit.check(o)));
  expect(hitFindings).toEqual(missFindings);
  expect(versions.flatMap((v) => samples(v).map((o) => plain.check(o)))).toEqual(hitFindings);

  let compared = 0;
  const disk = diskValidatorCache(dir);
  for (const v of versions) {
    const translated = toAjvSchema(v.schema, true);
    const entry = disk.get(validatorKey(translated));
    expect(entry, `${v.kind} ${v.name} is in the cache`).toBeDefined();
    const cached = loadValidator(entry!.code, entry!.v8).validate;
    const fresh = crdAjv().compile(translated);
    for (const o of samples(v)) {
      expect(cached(o)).toBe(fresh(o));
      expect(cached.errors).toEqual(fresh.errors);
      compared += fresh.errors?.length ?? 0;
    }
  }
  return compared;
}

describe('the compiled CRD validator cache', () => {
  it("a cached validator gives exactly the errors of a fresh one, on the project's CRDs and one with every format", () => {
    const crds = [...PROJECT_CRDS, FORMATS_CRD].flatMap(yamlObjects);
    expect(compareCachedWithFresh(crds)).toBeGreaterThan(60);
  });

  it.runIf(HAS_SHARED)('and on the upstream AI Gateway and Envoy Gateway CRDs (../shared)', () => {
    const crds = ['ai-gateway', 'envoy-gateway'].flatMap((d) => listFiles(join(SHARED, 'fixtures/crds', d), '.yaml')).flatMap(yamlObjects);
    expect(compareCachedWithFresh(crds)).toBeGreaterThan(1000);
  });

  it('the formats work in cached code: a bad int32, address, URI and date-time are found, good ones pass', () => {
    const { cache } = countingCache();
    const crds = yamlObjects(FORMATS_CRD);
    new CrdSchemas(crds, { cache }).check(probe({ target: 'web', port: 80 }));
    const hit = new CrdSchemas(crds, { cache });
    expect(hit.check(probe({ target: 'web', port: 80, address: '10.0.0.1', endpoint: 'https://x.example', since: '2026-01-02T03:04:05Z' }))?.schema).toEqual([]);
    expect(hit.check(probe({ target: 'web', port: 2 ** 40, address: '10.0.0.300', endpoint: 'not a uri', since: 'yesterday' }))?.schema).toEqual([
      { path: 'spec.port', message: 'Invalid value: 1099511627776: spec.port in body should be less than or equal to 65535' },
      { path: 'spec.port', message: 'Invalid value: 1099511627776: spec.port in body must be of type int32: 1099511627776' },
      { path: 'spec.since', message: 'Invalid value: "yesterday": spec.since in body must be of type date-time: "yesterday"' },
      { path: 'spec.address', message: 'Invalid value: "10.0.0.300": spec.address in body must be of type ipv4: "10.0.0.300"' },
      { path: 'spec.endpoint', message: 'Invalid value: "not a uri": spec.endpoint in body must be of type uri: "not a uri"' },
    ]);
  });

  it('a hit compiles nothing and writes nothing; a miss writes one entry per version checked', () => {
    const { cache, gets, sets } = countingCache();
    const crds = yamlObjects(FORMATS_CRD);
    const bad = probe({ target: 'UPPER', tags: ['a', 'a', 'b'] });
    const first = new CrdSchemas(crds, { cache }).check(bad);
    expect({ gets: gets.length, sets: sets.length }).toEqual({ gets: 0, sets: 1 });
    const second = new CrdSchemas(crds, { cache }).check(bad);
    expect({ gets: gets.length, sets: sets.length }).toEqual({ gets: 1, sets: 1 });
    expect(second).toEqual(first);
    expect(first?.schema).toEqual([
      { path: 'spec.target', message: `Invalid value: "UPPER": spec.target in body should match '^[a-z]+$'` },
      { path: 'spec.tags', message: 'Too many: 3: must have at most 2 items' },
      { path: 'spec.tags[1]', message: 'Duplicate value: "a"' },
    ]);
  });

  it('a cut, altered or unloadable entry is a miss: compiled again, same findings, entry rewritten', () => {
    const crds = yamlObjects(FORMATS_CRD);
    const bad = probe({ target: 'x', port: 0 });
    const expected = new CrdSchemas(crds).check(bad);
    const key = validatorKey(toAjvSchema(versionsOf(crds[0]!)[0]!.schema, true));
    const good = (dir: string): CachedValidator => diskValidatorCache(dir).get(key)!;
    const spoilers: [string, (dir: string, file: string) => void][] = [
      ['cut short', (_dir, file) => writeFileSync(file, readFileSync(file).subarray(0, 1000))],
      ['one byte altered', (_dir, file) => {
        const data = readFileSync(file);
        data[data.length >> 1] ^= 0x20;
        writeFileSync(file, data);
      }],
      ['not a cache entry', (_dir, file) => writeFileSync(file, 'hello')],
      ['code that does not run', (dir) => diskValidatorCache(dir).set(key, { code: 'module.exports = (' })],
      ['code that exports no function', (dir) => diskValidatorCache(dir).set(key, { code: 'module.exports = 42;' })],
      ['code that requires a module it may not', (dir) => diskValidatorCache(dir).set(key, { code: 'module.exports = require("node:fs").readFileSync;' })],
      // Code this process has not compiled yet (V8 would take it from its own memory and ignore the data).
      ['V8 data that is not V8 data', (dir) => diskValidatorCache(dir).set(key, { code: `${good(dir).code}\n// a`, v8: Buffer.from('not V8 data') })],
      ['V8 data of other code', (dir) => diskValidatorCache(dir).set(key, { code: `${good(dir).code}\n// bb`, v8: good(dir).v8 })],
    ];
    for (const [what, spoil] of spoilers) {
      const { cache, dir, sets } = countingCache();
      new CrdSchemas(crds, { cache }).check(bad);
      const [file] = readdirSync(dir).map((f) => join(dir, f));
      spoil(dir, file!);
      expect(new CrdSchemas(crds, { cache }).check(bad), what).toEqual(expected);
      expect(sets, what).toEqual([key, key]);
      expect(good(dir).code, what).toContain('module.exports');
      expect(good(dir).v8?.length, what).toBeGreaterThan(0);
    }
  });

  it('a cache dir that cannot be written is only slower: same findings, nothing thrown', () => {
    const crds = yamlObjects(FORMATS_CRD);
    const bad = probe({ target: 'x', port: 0 });
    const notADir = join(mkdtempSync(join(tmpdir(), 'aigw-validators-')), 'file');
    writeFileSync(notADir, 'a file where the cache dir would be');
    const cache = diskValidatorCache(notADir);
    expect(new CrdSchemas(crds, { cache }).check(bad)).toEqual(new CrdSchemas(crds).check(bad));
    expect(new CrdSchemas(crds, { cache }).check(bad)?.schema).toEqual([
      { path: 'spec.target', message: 'Invalid value: "x": spec.target in body should be at least 2 chars long' },
      { path: 'spec.port', message: 'Invalid value: 0: spec.port in body should be greater than or equal to 1' },
    ]);
  });

  it('the key changes when the translated schema does, and only then', () => {
    const [crd] = yamlObjects(FORMATS_CRD);
    const schema = versionsOf(crd!)[0]!.schema;
    const changed = structuredClone(schema);
    changed.properties!.spec!.properties!.target!.maxLength = 9;
    const key = validatorKey(toAjvSchema(schema, true));
    expect(validatorKey(toAjvSchema(structuredClone(schema), true))).toBe(key);
    expect(key).toMatch(/^[0-9a-f]{64}$/);
    expect(validatorKey(toAjvSchema(changed, true))).not.toBe(key);
    // A description is not part of the translated schema: editing one keeps the compiled validator.
    const described = structuredClone(schema);
    described.properties!.spec!.description = 'what a probe probes';
    expect(validatorKey(toAjvSchema(described, true))).toBe(key);
  });

  it('a changed CRD is not checked with the validator of the old one', () => {
    const { cache } = countingCache();
    const [crd] = yamlObjects(FORMATS_CRD);
    const looser = structuredClone(crd!);
    const spec = (looser.spec as { versions: { schema: { openAPIV3Schema: SchemaNode } }[] }).versions[0]!.schema.openAPIV3Schema.properties!.spec!;
    spec.properties!.target!.maxLength = 20;
    const long = probe({ target: 'abcdefghijkl' });
    expect(new CrdSchemas([crd!], { cache }).check(long)?.schema).toEqual([{ path: 'spec.target', message: 'Too long: may not be more than 8 bytes' }]);
    expect(new CrdSchemas([looser], { cache }).check(long)?.schema).toEqual([]);
  });
});

describe('check and the cache dir', () => {
  const probeFile = join(mkdtempSync(join(tmpdir(), 'aigw-probe-')), 'probe.yaml');
  writeFileSync(probeFile, 'apiVersion: example.com/v1\nkind: Probe\nmetadata: { name: p, namespace: default }\nspec: { target: UPPER }\n');
  const args = ['check', '--offline', '-f', probeFile, '--crds', FORMATS_CRD, '-o', 'json'];

  it('writes the compiled validators beside the parse cache, in $XDG_CACHE_HOME/aigw-admission, and a second run gives the same output', async () => {
    const home = mkdtempSync(join(tmpdir(), 'aigw-cache-home-'));
    const first = await runCli(args, { env: { XDG_CACHE_HOME: home } });
    expect(readdirSync(join(home, 'aigw-admission'))).toEqual([expect.stringMatching(/^crd-validator-v1-[0-9a-f]{64}\.bin$/)]);
    const second = await runCli(args, { env: { XDG_CACHE_HOME: home } });
    const off = await runCli(args, { env: { XDG_CACHE_HOME: home, AIGW_ADMISSION_CACHE: 'off' } });
    expect(first.stdout).toContain('"policy": "crd-schema"');
    expect(second).toEqual(first);
    expect(off).toEqual(first);
  });

  it('the test verb uses the same cache: a suite with CRDs gives the same outcome from a cold and a warm cache', async () => {
    const home = mkdtempSync(join(tmpdir(), 'aigw-cache-home-'));
    const suite = join(mkdtempSync(join(tmpdir(), 'aigw-suite-')), 'aigw-test.yaml');
    writeFileSync(
      suite,
      [
        `manifests: [${probeFile}]`,
        `crds: [${FORMATS_CRD}]`,
        'cases:',
        '  - name: an upper-case target breaks the pattern',
        '    object: { kind: Probe, name: p }',
        '    findings: [{ policy: crd-schema, path: spec.target }]',
        '',
      ].join('\n'),
    );
    const cold = await runCli(['test', suite, '-o', 'json'], { env: { XDG_CACHE_HOME: home } });
    expect(readdirSync(join(home, 'aigw-admission'))).toEqual([expect.stringMatching(/^crd-validator-v1-[0-9a-f]{64}\.bin$/)]);
    const warm = await runCli(['test', suite, '-o', 'json'], { env: { XDG_CACHE_HOME: home } });
    expect(cold.status).toBe(0);
    expect(warm).toEqual(cold);
  });

  it('AIGW_ADMISSION_CACHE=off writes nothing', async () => {
    const home = mkdtempSync(join(tmpdir(), 'aigw-cache-home-'));
    const run = await runCli(args, { env: { XDG_CACHE_HOME: home, AIGW_ADMISSION_CACHE: 'off' } });
    expect(run.stdout).toContain('"policy": "crd-schema"');
    expect(readdirSync(home)).toEqual([]);
  });
});

function probe(spec: Record<string, unknown>): KubeObject {
  return { apiVersion: 'example.com/v1', kind: 'Probe', metadata: { name: 'p', namespace: 'default' }, spec };
}
