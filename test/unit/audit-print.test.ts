/** Issue 19: the audit prints its findings as each object is judged, consolidated per object, byte for byte as before. */
import { describe, expect, it } from 'vitest';
import { Writable } from 'node:stream';
import { join } from 'node:path';
import fc from 'fast-check';
import { stringify as toYaml } from 'yaml';
import { ALL_POLICIES } from '../../policies/index.js';
import { checkObjects, type CheckFinding } from '../../src/check/check.js';
import { FINDING_FORMATS, consolidate, renderFindings, summaryLine, writeFindingBatches, type FindingPass, type RenderContext } from '../../src/check/output.js';
import { FindingCounts } from '../../src/check/check.js';
import { auditBatches, auditWorld } from '../../src/audit/audit.js';
import { readManifestFiles } from '../../src/input/manifests.js';
import { ConfigLoader } from '../../src/config/config.js';
import { PolicySet } from '../../src/review/policy-set.js';
import { MemoryWorld } from '../../src/world/world.js';
import type { Mode } from '../../src/kube/types.js';
import { ROOT, route } from '../helpers.js';

const NOW = () => new Date('2026-11-23T12:00:00Z');
const ctx: Omit<RenderContext, 'objects'> = { policies: ALL_POLICIES, version: '0.1.0', failOn: 'deny', cwd: ROOT };

const RESOURCES = [
  { apiVersion: 'aigateway.envoyproxy.io/v1beta1', kind: 'AIGatewayRoute', namespace: 'team-a', name: 'chat' },
  { apiVersion: 'aigateway.envoyproxy.io/v1beta1', kind: 'AIGatewayRoute', namespace: 'team-b', name: 'chat' },
  { apiVersion: 'v1', kind: 'Pod', namespace: 'envoy-gateway-system', name: 'envoy-1' },
  { apiVersion: 'gateway.envoyproxy.io/v1alpha1', kind: 'Backend', namespace: 'team-a', name: 'openai' },
];
const PATHS = ['spec.rules[0].backendRefs[0]', 'spec.rules[0].backendRefs[1]', 'spec.rules[1].backendRefs[0].name', 'spec.rules[0].timeouts.request', 'spec.x', ''];

/** A finding of any policy (CRD ones included), mode and result, on one of four objects. */
const finding = fc.record({
  resource: fc.nat(RESOURCES.length - 1),
  policy: fc.constantFrom('duration-syntax', 'stream-idle-zero', 'crd-schema', 'crd-cel', 'someone-elses'),
  mode: fc.constantFrom<Mode>('deny', 'warn', 'audit'),
  result: fc.constantFrom(undefined, undefined, 'skip' as const, 'error' as const),
  path: fc.constantFrom(...PATHS),
  message: fc.constantFrom('one.', 'two "quoted" <&>.', 'a\nsecond line', '- looks: like yaml', ''),
});

/** Findings in the audit's order (all of one object's together), and the batches the audit would hand over. */
type RawFinding = typeof finding extends fc.Arbitrary<infer T> ? T : never;

function audited(raw: RawFinding[], cuts: boolean[]): { all: CheckFinding[]; batches: CheckFinding[][] } {
  const all = RESOURCES.flatMap((resource, r) =>
    raw
      .filter((f) => f.resource === r)
      .map(({ result, ...f }) => ({ ...f, resource, ...(result ? { result } : {}), ...(result === 'skip' ? { exemption: 'config: later' } : {}) })),
  );
  const batches: CheckFinding[][] = [];
  RESOURCES.forEach((_, r) => {
    const own = all.filter((f) => f.resource === RESOURCES[r]);
    if (own.length === 0) return;
    // A batch holds one object's findings, or more objects' (proxy pods before an object).
    if (batches.length === 0 || cuts[r]) batches.push([...own]);
    else batches.at(-1)!.push(...own);
  });
  return { all, batches };
}

const passOf =
  (batches: CheckFinding[][], objects: number): FindingPass =>
  () =>
    (function* () {
      for (const b of batches) yield b;
      return { objects };
    })();

function recorder(highWaterMark = 64) {
  const writes: string[] = [];
  const out = new Writable({ highWaterMark, write: (chunk, _enc, done) => (writes.push(String(chunk)), setImmediate(done)) });
  return { out, writes };
}

describe('consolidating one object at a time', () => {
  it('gives exactly what consolidating all the findings at once gives', () => {
    fc.assert(
      fc.property(fc.array(finding, { maxLength: 40 }), fc.array(fc.boolean(), { minLength: RESOURCES.length, maxLength: RESOURCES.length }), (raw, cuts) => {
        const { all, batches } = audited(raw, cuts);
        expect(batches.flatMap((b) => consolidate(b))).toEqual(consolidate(all));
      }),
      { numRuns: 300, seed: 19 },
    );
  });

  it('merges a CRD finding into the policy finding on its field, and backendRefs into one, within each object', () => {
    const f = (resource: number, policy: string, path: string, message: string, mode: Mode = 'deny'): CheckFinding => ({ policy, mode, resource: RESOURCES[resource]!, path, message });
    const batch0 = [f(0, 'crd-schema', 'spec.rules[0].timeouts.request', 'bad.'), f(0, 'duration-syntax', 'spec.rules[0].timeouts.request', 'fix it.'), f(0, 'provider', 'spec.rules[0].backendRefs[0]', 'one.', 'warn'), f(0, 'provider', 'spec.rules[0].backendRefs[1]', 'two.', 'warn')];
    const batch1 = [f(1, 'provider', 'spec.rules[0].backendRefs[0]', 'three.', 'warn')];
    const perObject = [...consolidate(batch0), ...consolidate(batch1)];
    expect(perObject).toEqual(consolidate([...batch0, ...batch1]));
    expect(perObject.map((x) => [x.resource.namespace, x.policy, x.path, x.message, x.also])).toEqual([
      ['team-a', 'duration-syntax', 'spec.rules[0].timeouts.request', 'fix it.', ['crd-schema']],
      ['team-a', 'provider', 'spec.rules[0].backendRefs', '2 backendRefs: one. two.', undefined],
      ['team-b', 'provider', 'spec.rules[0].backendRefs[0]', 'three.', undefined],
    ]);
  });
});

describe('writeFindingBatches', () => {
  /** Findings of files (a SOURCE column, exemptions) and of any object, policy, mode and result. */
  function fileFindings(): CheckFinding[] {
    const loader = new ConfigLoader(ALL_POLICIES);
    const policies = loader.policySet(loader.fromFile(join(ROOT, 'test/fixtures/check/exemptions/config.yaml')));
    const { manifests } = readManifestFiles([join(ROOT, 'test/fixtures/check/exemptions/routes.yaml')]);
    return checkObjects(manifests, { policies, now: NOW }).findings;
  }

  it('writes byte for byte what renderFindings gives for the whole list, in every format, and counts what the summary line needs', async () => {
    const samples = fc.sample(fc.tuple(fc.array(finding, { maxLength: 30 }), fc.array(fc.boolean(), { minLength: 4, maxLength: 4 })), { numRuns: 12, seed: 7 });
    const files = fileFindings();
    expect(files.length).toBeGreaterThan(1);
    const worlds = [{ all: [], batches: [] }, { all: files, batches: [files] }, ...samples.map(([raw, cuts]) => audited(raw, cuts))];
    for (const failOn of ['deny', 'warn'] as const) {
      for (const { all, batches } of worlds) {
        const whole = consolidate(all);
        // YAML is written an item at a time: the same text as the whole list given to the library at once.
        if (whole.length > 0) expect(renderFindings('yaml', whole, { ...ctx, objects: 7 })).toBe(toYaml(JSON.parse(renderFindings('json', whole, { ...ctx, objects: 7 })), { lineWidth: 0, aliasDuplicateObjects: false }));
        for (const format of FINDING_FORMATS) {
          const { out, writes } = recorder();
          const written = await writeFindingBatches(out, format, { ...ctx, failOn }, passOf(batches, 7), { batchBytes: 100 });
          expect(writes.join('')).toBe(renderFindings(format, whole, { ...ctx, failOn, objects: 7 }));
          expect(summaryLine(written.counts, written.objects, written.merged)).toBe(summaryLine(FindingCounts.of(whole), 7, all.length - whole.length));
        }
      }
    }
  });

  it('writes an object\'s findings before the audit judges the rest (JSON at once; the table in its second pass)', async () => {
    const world = new MemoryWorld(
      Array.from({ length: 6 }, (_, i) => route([{ name: 'r0', streamIdleTimeout: '0s' }], `chat-${i}`)),
      { kubernetesMinor: 33 },
    );
    const opts = { policies: new PolicySet(ALL_POLICIES), kubernetesMinor: 33, now: NOW };
    const expected = consolidate(auditWorld(world, opts).findings);
    expect(expected.length).toBeGreaterThanOrEqual(6);
    for (const format of ['json', 'table'] as const) {
      let judged = 0;
      const judgedAtWrite: number[] = [];
      const writes: string[] = [];
      const out = new Writable({ highWaterMark: 16, write: (chunk, _enc, done) => (writes.push(String(chunk)), judgedAtWrite.push(judged), setImmediate(done)) });
      const pass = () => {
        judged = 0;
        return auditBatches(world, opts, { finding: () => undefined, checked: () => judged++ });
      };
      await writeFindingBatches(out, format, ctx, pass, { batchBytes: 1 });
      expect(writes.join('')).toBe(renderFindings(format, expected, { ...ctx, objects: 6 }));
      // The first finding went out when one route of six had been judged; the last once all were.
      expect([judgedAtWrite[format === 'json' ? 0 : 1], judgedAtWrite.at(-1)]).toEqual([1, 6]);
    }
  });
});
