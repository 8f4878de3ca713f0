import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { Ajv } from 'ajv';
import { ALL_POLICIES } from '../../policies/index.js';
import { checkObjects } from '../../src/check/check.js';
import { consolidate, findingChunks, junitXml, renderFindings, sarifLog, writeChunks, type RenderContext } from '../../src/check/output.js';
import { readManifestFiles, readNotes, parseManifests } from '../../src/input/manifests.js';
import { PolicySet } from '../../src/review/policy-set.js';
import { ConfigLoader } from '../../src/config/config.js';
import { ROOT } from '../helpers.js';

const NOW = () => new Date('2026-11-23T12:00:00Z');
const INPUTS = join(ROOT, 'test/fixtures/check/inputs');
const ctx: RenderContext = { policies: ALL_POLICIES, version: '0.1.0', objects: 3, failOn: 'deny', cwd: ROOT };

/** The SARIF 2.1.0 JSON schema (draft-04), as @microsoft/jest-sarif ships it, loaded into ajv 8. */
function sarifValidator() {
  const file = createRequire(import.meta.url).resolve('@microsoft/jest-sarif/lib/schemas/sarif-2.1.0-rtm.5.json');
  const schema = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  delete schema.$schema;
  schema.$id = schema.id;
  delete schema.id;
  // The schema's patterns are ECMAScript without the u flag (one has a lone bracket).
  return new Ajv({ strict: false, allErrors: true, validateFormats: false, unicodeRegExp: false }).compile(schema);
}

function exemptionFindings() {
  const loader = new ConfigLoader(ALL_POLICIES);
  const policies = loader.policySet(loader.fromFile(join(ROOT, 'test/fixtures/check/exemptions/config.yaml')));
  const { manifests } = readManifestFiles([join(ROOT, 'test/fixtures/check/exemptions/routes.yaml')]);
  return consolidate(checkObjects(manifests, { policies, now: NOW }).findings);
}

describe('reading manifests like kubectl', () => {
  it('skips non-Kubernetes YAML found in a directory and says so; reads subdirectories only with -R', () => {
    const flat = readManifestFiles([INPUTS]);
    expect(flat.manifests.map((m) => m.location)).toEqual([{ file: join(INPUTS, 'route.yaml'), line: 1, document: 0 }]);
    expect(readNotes(flat)).toEqual([
      `skipped 2 files with no Kubernetes objects: ${join(INPUTS, 'kustomization.yaml')}, ${join(INPUTS, 'values.yaml')}`,
      `did not read 1 subdirectory (use -R to read them): ${join(INPUTS, 'nested')}`,
    ]);
    const deep = readManifestFiles([INPUTS], { recursive: true });
    expect(deep.manifests.map((m) => [m.object.metadata?.name, m.location])).toEqual([
      ['first', { file: join(INPUTS, 'nested/backend.yaml'), line: 2, document: 0 }],
      ['nested', { file: join(INPUTS, 'nested/backend.yaml'), line: 7, document: 1 }],
      ['chat', { file: join(INPUTS, 'route.yaml'), line: 1, document: 0 }],
    ]);
  });

  it('a file named on the command line must hold objects, unless --skip-non-kubernetes; YAML errors end in the sentence, not a dangling column', () => {
    expect(() => readManifestFiles([join(INPUTS, 'values.yaml')])).toThrow(`invalid input file: ${join(INPUTS, 'values.yaml')}:2: not a Kubernetes object: apiVersion and kind must be strings`);
    expect(readManifestFiles([join(INPUTS, 'values.yaml')], { skipNonKubernetes: true }).skippedFiles).toEqual([join(INPUTS, 'values.yaml')]);
    expect(() => parseManifests('a: [1\n', 'bad.yaml')).toThrow(/^invalid input file: bad.yaml:2: not valid YAML: [^\n]*[^:]$/);
    expect(() => readManifestFiles(['no-such.yaml'])).toThrow('invalid input file: no-such.yaml: no such file or directory');
  });
});

describe('machine output', () => {
  const findings = exemptionFindings();

  it('SARIF 2.1.0: valid against the schema, one rule per policy, a location per result, skips as suppressions', () => {
    const log = sarifLog(findings, ctx);
    const validate = sarifValidator();
    expect(validate(log) ? [] : validate.errors).toEqual([]);
    const run = log.runs[0]!;
    expect(run.tool.driver.rules!.map((r) => r.id)).toEqual([...ALL_POLICIES.map((p) => p.id), 'exemption']);
    expect(run.results!.map((r) => [r.ruleId, r.level, r.locations![0]!.physicalLocation, r.suppressions])).toEqual([
      [
        'stream-idle-zero',
        'warning',
        { artifactLocation: { uri: 'test/fixtures/check/exemptions/routes.yaml' }, region: { startLine: 3 } },
        [{ kind: 'inSource', justification: 'aigw-admission.io/skip: the provider never streams; OPS-42' }],
      ],
      ['stream-idle-zero', 'warning', { artifactLocation: { uri: 'test/fixtures/check/exemptions/routes.yaml' }, region: { startLine: 16 } }, undefined],
      ['exemption', 'warning', { artifactLocation: { uri: 'test/fixtures/check/exemptions/routes.yaml' }, region: { startLine: 16 } }, undefined],
      ['exemption', 'warning', { artifactLocation: { uri: 'test/fixtures/check/exemptions/routes.yaml' }, region: { startLine: 16 } }, undefined],
      [
        'stream-idle-zero',
        'warning',
        { artifactLocation: { uri: 'test/fixtures/check/exemptions/routes.yaml' }, region: { startLine: 28 } },
        [{ kind: 'external', justification: 'config exclusion: sandboxes try things out' }],
      ],
    ]);
    expect(run.results![0]!.properties).toMatchObject({ document: 0, mode: 'warn', result: 'skip' });
  });

  it('JUnit: a case per finding, failures by --fail-on, skipped for exemptions', () => {
    const xml = junitXml(findings.slice(0, 2), { ...ctx, failOn: 'warn' });
    const routes = join(ROOT, 'test/fixtures/check/exemptions/routes.yaml');
    expect(xml).toBe(
      [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<testsuites name="aigw-admission" tests="2" failures="1" errors="0" skipped="1">',
        '  <testsuite name="aigw-admission check" tests="2" failures="1" errors="0" skipped="1">',
        `    <testcase name="stream-idle-zero: AIGatewayRoute team-a/accepted spec.rules[0].streamIdleTimeout" classname="${routes}:3">`,
        '      <skipped message="aigw-admission.io/skip: the provider never streams; OPS-42"/>',
        '    </testcase>',
        `    <testcase name="stream-idle-zero: AIGatewayRoute team-a/no-reason spec.rules[0].streamIdleTimeout" classname="${routes}:16">`,
        `      <failure message="${findings[1]!.message.replace(/"/g, '&quot;')}" type="warn"/>`,
        '    </testcase>',
        '  </testsuite>',
        '</testsuites>',
        '',
      ].join('\n'),
    );
    expect(junitXml(findings.slice(1, 2), ctx)).toContain('<testsuites name="aigw-admission" tests="1" failures="0" errors="0" skipped="0">');
    expect(junitXml([], ctx)).toContain('<testcase name="3 objects: no findings" classname="aigw-admission"/>');
  });

  it('json and yaml carry the source (file, line, document index), the result and the exemption', () => {
    const json = JSON.parse(renderFindings('json', findings.slice(0, 1), ctx)) as unknown[];
    expect(json).toEqual([
      {
        policy: 'stream-idle-zero',
        mode: 'warn',
        result: 'skip',
        exemption: 'aigw-admission.io/skip: the provider never streams; OPS-42',
        resource: { apiVersion: 'aigateway.envoyproxy.io/v1beta1', kind: 'AIGatewayRoute', namespace: 'team-a', name: 'accepted' },
        path: 'spec.rules[0].streamIdleTimeout',
        message: findings[0]!.message,
        source: { file: join(ROOT, 'test/fixtures/check/exemptions/routes.yaml'), line: 3, document: 0 },
      },
    ]);
    expect(renderFindings('yaml', [], ctx)).toBe('[]\n');
    expect(renderFindings('yaml', findings.slice(0, 1), ctx)).toContain(`source:\n    file: ${join(ROOT, 'test/fixtures/check/exemptions/routes.yaml')}\n    line: 3\n    document: 0\n`);
  });

  it('the table has a SOURCE column and shows a skip with its reason', () => {
    const table = renderFindings('table', findings.slice(0, 1), ctx).split('\n');
    expect(table[0]).toMatch(/^MODE {3}SOURCE {2,}KIND/);
    expect(table[1]).toMatch(/^skip {3}\S+routes\.yaml:3 +AIGatewayRoute/);
    expect(table[1]).toMatch(/\(skipped: aigw-admission.io\/skip: the provider never streams; OPS-42\)$/);
  });

  it('an empty policy set still names every registered rule in SARIF', () => {
    expect(sarifLog([], { ...ctx, policies: new PolicySet(ALL_POLICIES).all }).runs[0]!.results).toEqual([]);
  });
});

describe('test files', () => {
  it('a test file that is not one says which fields are wrong, and names unknown policies', async () => {
    const { SuiteRunner } = await import('../../src/suite/suite.js');
    const { mkdtempSync, writeFileSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const dir = mkdtempSync(join(tmpdir(), 'aigw-suite-'));
    const file = join(dir, 'aigw-test.yaml');
    const runner = new SuiteRunner(ALL_POLICIES);
    writeFileSync(file, 'manifests: []\ncases: []\n');
    expect(() => runner.parse(file)).toThrow(`invalid input file: ${file}: not a test file: manifests: must NOT have fewer than 1 items; cases: must NOT have fewer than 1 items`);
    writeFileSync(file, 'manifests: [x]\ncases:\n  - name: n\n    object: { kind: K, name: n }\n    findings: [{ policy: nope }]\n');
    expect(() => runner.parse(file)).toThrow(new RegExp(`^invalid input file: ${file}: cases\\[0\\]: nope: unknown policy; known policies: duration-syntax,`));
  });
});

describe('the parse cache', () => {
  it('parses a big file once: the second read, under another name, comes from the cache with the same objects and its own locations', async () => {
    const { mkdtempSync, writeFileSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { diskParseCache } = await import('../../src/input/parse-cache.js');
    const dir = mkdtempSync(join(tmpdir(), 'aigw-cache-'));
    const docs = Array.from({ length: 400 }, (_, i) => `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c${i}\ndata:\n  text: "${'x'.repeat(160)}"\n`);
    const text = docs.join('---\n');
    writeFileSync(join(dir, 'a.yaml'), text);
    writeFileSync(join(dir, 'b.yaml'), text);
    const disk = diskParseCache(join(dir, 'cache'));
    let hits = 0;
    const cache = { get: (d: string) => { const v = disk.get(d); if (v) hits++; return v; }, set: disk.set };
    const first = readManifestFiles([join(dir, 'a.yaml')], { cache }).manifests;
    const second = readManifestFiles([join(dir, 'b.yaml')], { cache }).manifests;
    expect(hits).toBe(1);
    expect(second.map((m) => m.object)).toEqual(first.map((m) => m.object));
    expect(second[1]).toEqual({ object: first[1]!.object, source: `${join(dir, 'b.yaml')}:8`, location: { file: join(dir, 'b.yaml'), line: 8, document: 1 } });
    expect(first).toHaveLength(400);
  });
});

describe('JSON output written in pieces (issue 19: an audit of 90,000 findings)', () => {
  const findings = () => {
    const base = exemptionFindings();
    expect(base.length).toBeGreaterThan(1);
    // A message with newlines and quotes, and a finding standing for another policy's, in the mix.
    return [...base, { ...base[0]!, message: 'two\nlines "quoted"', also: ['crd-schema'] }];
  };

  it('is the text JSON.stringify(list, null, 2) gives, piece by piece, and [] when there is nothing', () => {
    const list = findings();
    const pieces = [...findingChunks('json', list, ctx)];
    expect(pieces).toHaveLength(list.length + 1);
    const text = pieces.join('');
    expect(text).toBe(`${JSON.stringify(JSON.parse(text), null, 2)}\n`);
    expect(JSON.parse(text)).toHaveLength(list.length);
    expect(JSON.parse(text)[list.length - 1]).toMatchObject({ message: 'two\nlines "quoted"', also: ['crd-schema'] });
    expect(renderFindings('json', list, ctx)).toBe(text);
    expect([...findingChunks('json', [], ctx)]).toEqual(['[]\n']);
    expect([...findingChunks('table', list, ctx)]).toHaveLength(list.length + 1);
  });

  it('writeChunks batches the pieces, waits for drain when the stream asks, and loses nothing', async () => {
    const writes: string[] = [];
    let drains = 0;
    const out = new Writable({ highWaterMark: 8, write: (chunk, _enc, done) => (writes.push(String(chunk)), setImmediate(done)) });
    out.on('drain', () => drains++);
    await writeChunks(out, ['aaaa', 'bbbb', 'cc', 'dddddd', 'e'], 6);
    expect(writes).toEqual(['aaaabbbb', 'ccdddddd', 'e']);
    expect(drains).toBeGreaterThanOrEqual(2);
  });
});
