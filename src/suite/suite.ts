import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { ErrorObject } from 'ajv';
import { ajvLibrary } from '../kube/ajv.js';
import { parse as parseYaml } from 'yaml';
import { AdmissionError } from '../review/errors.js';
import type { AnyPolicy } from '../review/policy.js';
import { ConfigLoader } from '../config/config.js';
import { checkObjects } from '../check/check.js';
import { consolidate, type OutputFinding } from '../check/output.js';
import { CrdSchemas } from '../crd/schemas.js';
import type { ValidatorCache } from '../crd/validator-cache.js';
import type { ParseCache } from '../input/parse-cache.js';
import { describeFsError, readManifestFiles, readManifests, readNotes } from '../input/manifests.js';
import { MODES } from '../kube/types.js';

/**
 * A test file in the user's repository (`aigw-test.yaml`, or `*.aigw-test.yaml`): the manifests that are the world, and
 * per object the findings it must and must not produce. Paths are relative to the test file.
 */
export interface TestFile {
  name?: string;
  manifests: string[];
  crds?: string[];
  config?: string;
  cases: TestCase[];
}

export interface ExpectedFinding {
  policy: string;
  path?: string;
  mode?: (typeof MODES)[number];
  /** `skip` (exempted) or `error` (the policy could not run); absent: an ordinary finding. */
  result?: 'skip' | 'error';
  /** A part of the message. */
  message?: string;
}

export interface TestCase {
  name: string;
  /** The object under test: kind and name, and namespace (default: `default`, as check places namespace-less objects). */
  object: { kind: string; name: string; namespace?: string };
  /** Findings the object must produce (each matched by the fields given). */
  findings?: ExpectedFinding[];
  /** Policies that must not report on the object. */
  notFindings?: (string | ExpectedFinding)[];
  /** No finding at all on the object (skipped ones aside). */
  clean?: boolean;
}

const FINDING_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['policy'],
  properties: {
    policy: { type: 'string', minLength: 1 },
    path: { type: 'string' },
    mode: { enum: [...MODES] },
    result: { enum: ['skip', 'error'] },
    message: { type: 'string', minLength: 1 },
  },
};

export const TEST_FILE_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['manifests', 'cases'],
  properties: {
    name: { type: 'string' },
    manifests: { type: 'array', minItems: 1, items: { type: 'string', minLength: 1 } },
    crds: { type: 'array', items: { type: 'string', minLength: 1 } },
    config: { type: 'string', minLength: 1 },
    cases: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name', 'object'],
        properties: {
          name: { type: 'string', minLength: 1 },
          object: {
            type: 'object',
            additionalProperties: false,
            required: ['kind', 'name'],
            properties: { kind: { type: 'string', minLength: 1 }, name: { type: 'string', minLength: 1 }, namespace: { type: 'string' } },
          },
          findings: { type: 'array', items: FINDING_SCHEMA },
          notFindings: { type: 'array', items: { anyOf: [{ type: 'string', minLength: 1 }, FINDING_SCHEMA] } },
          clean: { type: 'boolean' },
        },
        anyOf: [{ required: ['findings'] }, { required: ['notFindings'] }, { required: ['clean'] }],
      },
    },
  },
};

export interface CaseOutcome {
  file: string;
  name: string;
  object: string;
  passed: boolean;
  /** Why it failed, one line per unmet expectation. */
  problems: string[];
}

export const TEST_FILE_NAME = 'aigw-test.yaml';
const isTestFile = (name: string) => name === TEST_FILE_NAME || name.endsWith(`.${TEST_FILE_NAME}`);

/** Test files under the given paths: files as given, directories searched (recursively) for aigw-test.yaml files. */
export function findTestFiles(paths: readonly string[]): string[] {
  const out: string[] = [];
  const walk = (path: string, given: boolean) => {
    let stat;
    try {
      stat = statSync(path);
    } catch (err) {
      throw new AdmissionError('INVALID_INPUT_FILE', `${path}: ${describeFsError(err)}`);
    }
    if (!stat.isDirectory()) {
      if (given || isTestFile(path.split('/').pop()!)) out.push(path);
      return;
    }
    for (const e of readdirSync(path, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      if (e.name === 'node_modules' || e.name.startsWith('.')) continue;
      walk(join(path, e.name), false);
    }
  };
  for (const p of paths) walk(p, true);
  return out;
}

const describeError = (e: ErrorObject) => `${e.instancePath ? e.instancePath.slice(1).replace(/\//g, '.') : '(top level)'}: ${e.keyword === 'additionalProperties' ? `unknown field ${(e.params as { additionalProperty: string }).additionalProperty}` : e.message}`;

export class SuiteRunner {
  private readonly validate;
  /** The caches of check (parsed CRD bundles, compiled CRD validators): each test file builds its CRD schemas anew. */
  constructor(
    private readonly policies: readonly AnyPolicy[],
    private readonly caches: { parse?: ParseCache; validators?: ValidatorCache } = {},
  ) {
    this.validate = new (ajvLibrary().Ajv)({ allErrors: true, strict: false }).compile<unknown>(TEST_FILE_SCHEMA);
  }

  parse(file: string): TestFile {
    let raw: unknown;
    try {
      raw = parseYaml(readFileSync(file, 'utf8'));
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new AdmissionError('INVALID_INPUT_FILE', `${file}: ${code ? describeFsError(err) : `not valid YAML: ${(err as Error).message.split('\n')[0]}`}`);
    }
    if (!this.validate(raw)) {
      const problems = [...new Set((this.validate.errors ?? []).filter((e) => e.keyword !== 'anyOf' || e.instancePath.split('/').length === 3).map(describeError))];
      throw new AdmissionError('INVALID_INPUT_FILE', `${file}: not a test file: ${problems.join('; ')}`);
    }
    const known = new Set(this.policies.map((p) => p.id));
    const named = (raw as unknown as TestFile).cases.flatMap((c, i) => [
      ...(c.findings ?? []).map((f) => [i, f.policy] as const),
      ...(c.notFindings ?? []).map((f) => [i, typeof f === 'string' ? f : f.policy] as const),
    ]);
    const unknown = named.filter(([, id]) => !known.has(id) && id !== 'exemption');
    if (unknown.length > 0) {
      throw new AdmissionError('INVALID_INPUT_FILE', `${file}: ${unknown.map(([i, id]) => `cases[${i}]: ${id}`).join('; ')}: unknown policy; known policies: ${[...known].join(', ')}`);
    }
    return raw as unknown as TestFile;
  }

  /** Runs one test file: check on its manifests (offline), then each case against the findings of its object. */
  run(file: string, now: () => Date): { outcomes: CaseOutcome[]; notes: string[] } {
    const test = this.parse(file);
    const base = dirname(file);
    const at = (p: string) => resolve(base, p);
    const loader = new ConfigLoader(this.policies);
    const config = test.config ? loader.fromFile(at(test.config)) : loader.fromObject({});
    const read = readManifestFiles(test.manifests.map(at), { recursive: true, cache: this.caches.parse });
    const crdObjects = [...(test.crds ? readManifests(test.crds.map(at), { recursive: true, cache: this.caches.parse }) : []), ...read.manifests]
      .map((m) => m.object)
      .filter((o) => o.kind === 'CustomResourceDefinition');
    const result = checkObjects(read.manifests, {
      policies: loader.policySet(config),
      crds: crdObjects.length > 0 ? new CrdSchemas(crdObjects, { cache: this.caches.validators }) : undefined,
      kubernetesMinor: config.kubernetesMinor,
      now,
    });
    const findings = consolidate(result.findings);
    const outcomes = test.cases.map((c) => judgeCase(file, c, findings, read.manifests.some((m) => matchesObject(c.object, m.object.kind, m.object.metadata?.name, m.object.metadata?.namespace))));
    return { outcomes, notes: [...readNotes(read), ...result.notes] };
  }
}

function matchesObject(want: TestCase['object'], kind: unknown, name: unknown, namespace: unknown): boolean {
  return want.kind === kind && want.name === name && (want.namespace ?? 'default') === (namespace || 'default');
}

const describeExpected = (e: ExpectedFinding) =>
  [e.policy, e.mode, e.result, e.path && `at ${e.path}`, e.message && `saying "${e.message}"`].filter(Boolean).join(' ');

const fits = (e: ExpectedFinding, f: OutputFinding) =>
  (f.policy === e.policy || (f.also ?? []).includes(e.policy)) &&
  (e.path === undefined || f.path === e.path) &&
  (e.mode === undefined || f.mode === e.mode) &&
  (e.result === undefined ? f.result === undefined : f.result === e.result) &&
  (e.message === undefined || f.message.includes(e.message));

function judgeCase(file: string, c: TestCase, all: readonly OutputFinding[], objectFound: boolean): CaseOutcome {
  const object = `${c.object.kind} ${c.object.namespace ?? 'default'}/${c.object.name}`;
  const problems: string[] = [];
  if (!objectFound) problems.push(`no ${object} among the manifests`);
  const mine = all.filter((f) => f.resource.kind === c.object.kind && f.resource.name === c.object.name && (f.resource.namespace || 'default') === (c.object.namespace ?? 'default'));
  for (const e of c.findings ?? []) {
    if (!mine.some((f) => fits(e, f))) {
      const got = mine.map((f) => `${f.policy}${f.result ? `/${f.result}` : ''} ${f.mode} ${f.path || '-'}`).join(', ') || 'none';
      problems.push(`expected ${describeExpected(e)}; got: ${got}`);
    }
  }
  for (const n of c.notFindings ?? []) {
    const e = typeof n === 'string' ? { policy: n } : n;
    const hit = mine.find((f) => f.policy === e.policy && (e.path === undefined || f.path === e.path) && (e.mode === undefined || f.mode === e.mode) && (e.result === undefined || f.result === e.result));
    if (hit) problems.push(`unexpected ${hit.policy} ${hit.mode} at ${hit.path || '-'}: ${hit.message}`);
  }
  if (c.clean) {
    const applied = mine.filter((f) => f.result !== 'skip');
    if (applied.length > 0) problems.push(`expected no findings; got ${applied.map((f) => `${f.policy} ${f.mode} ${f.path || '-'}`).join(', ')}`);
  }
  return { file, name: c.name, object, passed: problems.length === 0, problems };
}

/** The pass/fail table: one row per case, the reasons under a failed one. */
export function formatOutcomes(outcomes: readonly CaseOutcome[]): string {
  const rows = outcomes.map((o) => [o.passed ? 'PASS' : 'FAIL', o.file, o.name, o.object]);
  const header = ['RESULT', 'FILE', 'CASE', 'OBJECT'];
  const widths = header.slice(0, -1).map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: readonly string[]) => cells.map((c, i) => (i < cells.length - 1 ? c.padEnd(widths[i]! + 3) : c)).join('');
  const out = [line(header)];
  outcomes.forEach((o, i) => {
    out.push(line(rows[i]!));
    for (const p of o.problems) out.push(`       - ${p}`);
  });
  return `${out.join('\n')}\n`;
}
