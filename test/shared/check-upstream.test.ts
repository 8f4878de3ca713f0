import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ALL_POLICIES } from '../../policies/index.js';
import { checkObjects, CRD_RULE_POLICY, CRD_SCHEMA_POLICY } from '../../src/check/check.js';
import { CrdSchemas } from '../../src/crd/schemas.js';
import { readManifests } from '../../src/input/manifests.js';
import { PolicySet } from '../../src/review/policy-set.js';
import { HAS_SHARED, SHARED } from '../helpers.js';

const EXAMPLES = join(SHARED, 'fixtures/examples/ai-gateway');

describe.runIf(HAS_SHARED)('check against upstream fixtures', () => {
  // Compiled once for the whole file, as the CLI does for one run.
  // (The describe body runs even when skipped: read ../shared only when it is there.)
  const crds = HAS_SHARED
    ? new CrdSchemas(readManifests([join(SHARED, 'fixtures/crds/ai-gateway'), join(SHARED, 'fixtures/crds/envoy-gateway')]).map((m) => m.object))
    : undefined;
  const policies = new PolicySet(ALL_POLICIES);
  const crdFindings = (paths: string[]) =>
    checkObjects(readManifests(paths), { policies, crds, now: () => new Date('2026-11-23T12:00:00Z') }).findings.filter(
      (f) => f.policy === CRD_SCHEMA_POLICY || f.policy === CRD_RULE_POLICY,
    );

  it('agrees with the API server on 31 of the 33 upstream CEL test inputs that have an expected outcome', () => {
    const expectations = [...readFileSync(join(SHARED, 'fixtures/SOURCES.md'), 'utf8').matchAll(
      /\| shared\/fixtures\/examples\/ai-gateway\/(tests__crdcel__\S+) \|.*crdcel expectation: (.*) \|$/gm,
    )].map((m) => ({ file: m[1]!, expected: m[2]! }));
    const disagreements: string[] = [];
    for (const { file, expected } of expectations) {
      const got = crdFindings([join(EXAMPLES, file)]).map((f) => `${f.path}: ${f.message}`);
      const agrees = expected.startsWith('VALID') ? got.length === 0 : got.some((g) => g.includes(expected));
      if (!agrees) disagreements.push(`${file}: ${got.join(' | ')}`);
    }
    expect(expectations.length).toBe(33);
    // Upstream's test creates objects through Go structs, which send a missing non-omitempty string as "": the API
    // server then reports minLength. kubectl sends the file as written, and the field is missing: Required value.
    expect(disagreements).toEqual([
      'tests__crdcel__testdata__backendsecuritypolicies__azure_credentials_missing_client_id.yaml: spec.azureCredentials.clientID: Required value',
      'tests__crdcel__testdata__backendsecuritypolicies__azure_credentials_missing_tenant_id.yaml: spec.azureCredentials.tenantID: Required value',
    ]);
  });

  it('finds no CRD problem in the upstream examples except the ones listed in the README', () => {
    const examples = readManifests([EXAMPLES]).filter((m) => !m.source.includes('tests__crdcel__'));
    const found = checkObjects(examples, { policies, crds, now: () => new Date('2026-11-23T12:00:00Z') })
      .findings.filter((f) => f.policy === CRD_SCHEMA_POLICY || f.policy === CRD_RULE_POLICY)
      .map((f) => `${f.source!.replace(`${EXAMPLES}/`, '').replace(/:\d+.*/, '')} ${f.resource.kind} ${f.path}`);
    expect([...new Set(found)]).toEqual([
      'cmd__aigw__testdata__gateway_no_listeners.yaml Gateway spec.listeners',
      'cmd__aigw__testdata__translate_basic.in.yaml AIServiceBackend spec.backendRef',
      'examples__mcp__openai-github.yaml AIServiceBackend spec.timeouts',
      ...[
        'azure-openai', 'debug', 'llamastack', 'openai-github', 'openai-ip', 'openai-otel', 'openai-with-org-and-project',
        'openai-with-org', 'openai-with-project', 'openai', 'tars',
      ].map((f) => `internal__autoconfig__testdata__${f}.yaml AIServiceBackend spec.timeouts`),
      ...[0, 1, 2].map((i) => `tests__e2e__testdata__dynamic_metadata_ratelimit.yaml BackendTrafficPolicy spec.rateLimit.global.rules[${i}].limit.fromMetadata`),
    ]);
  });
});
