/** route-rule-index and orphaned-rule-references: exact messages, the log line, the counter and the Events of every miss. */
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { Ajv } from 'ajv';
import { parse as parseYaml } from 'yaml';
import { review } from '../../src/review/review.js';
import { PolicySet } from '../../src/review/policy-set.js';
import { MemoryWorld } from '../../src/world/world.js';
import { Metrics } from '../../src/observe/metrics.js';
import { ALL_POLICIES } from '../../policies/index.js';
import { formatXdsName, xdsHost, type XdsName } from '../../src/model/xds-names.js';
import { routeRules, ruleBackendRefs, ruleMatches, type AIGatewayRoute } from '../../src/model/aigatewayroute.js';
import { HAS_SHARED, SHARED, admissionReview, deps, listFiles, modelMatch, readJson, route, yamlObjects, warningsInFull } from '../helpers.js';
import type { EventSink, Logger } from '../../src/review/deps.js';
import type { AdmissionReviewRequest, EventDraft, KubeObject, ResourceRef } from '../../src/kube/types.js';

const SHAPES =
  'Envoy Gateway writes httproute/<namespace>/<name>/rule/<i> (cluster), httproute/<namespace>/<name>/rule/<i>/backend/<j> (per-backend cluster) ' +
  'or httproute/<namespace>/<name>/rule/<i>/match/<m>/<host> (route)';

/** The two-rule route of the real bodies: rules 0 ("chat") and 1 ("embeddings"), one backendRef each. */
function twoRuleRoute(): KubeObject {
  return route(
    [
      { name: 'chat', matches: modelMatch('gpt-4o-mini'), backendRefs: [{ name: 'envoy-ai-gateway-basic-testupstream', priority: 0, weight: 1 }], timeouts: { request: '120s' } },
      { name: 'embeddings', matches: modelMatch('text-embedding-3-small'), backendRefs: [{ name: 'envoy-ai-gateway-basic-testupstream', priority: 0, weight: 1 }] },
    ],
    'two-rule-route',
    'default',
  );
}

function clusterPatch(name: string) {
  return { type: 'type.googleapis.com/envoy.config.cluster.v3.Cluster', name, operation: { op: 'add', path: '/per_connection_buffer_limit_bytes', value: 52428800 } };
}

function epp(patches: unknown[], name = 'p', namespace = 'default'): KubeObject {
  return {
    apiVersion: 'gateway.envoyproxy.io/v1alpha1',
    kind: 'EnvoyPatchPolicy',
    metadata: { name, namespace },
    spec: { type: 'JSONPatch', targetRef: { group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'envoy-ai-gateway-basic' }, jsonPatches: patches },
  };
}

class RecordingEvents implements EventSink {
  readonly written: Array<{ regarding: ResourceRef; event: EventDraft }> = [];
  emit(regarding: ResourceRef, event: EventDraft): void {
    this.written.push({ regarding, event });
  }
}

class RecordingLogger implements Logger {
  readonly lines: Array<Record<string, unknown>> = [];
  debug() {}
  info(obj: object) {
    this.lines.push(obj as Record<string, unknown>);
  }
  warn() {}
  error() {}
}

const P_REF: ResourceRef = { apiVersion: 'gateway.envoyproxy.io/v1alpha1', kind: 'EnvoyPatchPolicy', namespace: 'default', name: 'p' };

describe('route-rule-index: each miss reason, with its exact message', () => {
  const world = () => new MemoryWorld([twoRuleRoute()]);
  const denial = (names: string[]) => {
    const { review: out, verdict } = review(admissionReview(epp(names.map(clusterPatch))), 'validate', deps({ world: world() }));
    return { out, verdict };
  };

  it('rule-index-out-of-range: says how many rules there are, which, and the fix', () => {
    const { out } = denial(['httproute/default/two-rule-route/rule/5']);
    expect(out.response).toEqual({
      uid: out.response.uid,
      allowed: false,
      status: {
        code: 403,
        reason: 'Forbidden',
        message:
          '[route-rule-index] spec.jsonPatches[0].name: jsonPatches[0] names "httproute/default/two-rule-route/rule/5", but AIGatewayRoute default/two-rule-route has 2 rules: 0 ("chat"), 1 ("embeddings"), ' +
          'and its generated HTTPRoute adds only the catch-all route-not-found rule at index 2; the cluster of rule 5 does not exist, so the patch does not apply. Fix: use a rule index from 0 to 1.',
      },
    });
  });

  const routePatch = (name: string) => ({
    type: 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration',
    name: 'default/gw/http',
    operation: { op: 'add', jsonPath: `..routes[?(@.name=='${name}')]`, path: '/route/idle_timeout', value: '300s' },
  });
  const findingsOf = (patches: unknown[], objects: KubeObject[]) =>
    review(admissionReview(epp(patches)), 'validate', deps({ world: new MemoryWorld(objects) })).verdict.findings.map((f) => [f.mode, f.path, f.message]);
  const asb = (name: string): KubeObject => ({
    apiVersion: 'aigateway.envoyproxy.io/v1beta1',
    kind: 'AIServiceBackend',
    metadata: { name, namespace: 'default' },
    spec: { schema: { name: 'OpenAI' }, backendRef: { group: 'gateway.envoyproxy.io', kind: 'Backend', name } },
  });
  const backend = (name: string, endpoint: Record<string, unknown>): KubeObject => ({
    apiVersion: 'gateway.envoyproxy.io/v1alpha1',
    kind: 'Backend',
    metadata: { name, namespace: 'default' },
    spec: { endpoints: [endpoint] },
  });
  const twoBackends = (): KubeObject =>
    route([{ name: 'chat', backendRefs: [{ name: 'a', priority: 0 }, { name: 'b', priority: 1 }] }], 'two-rule-route', 'default');

  it('no-backend-clusters: …/backend/<j> of a rule Envoy Gateway keeps in one cluster names nothing', () => {
    const world = [twoBackends(), asb('a'), asb('b'), backend('a', { fqdn: { hostname: 'a.example.com', port: 443 } }), backend('b', { fqdn: { hostname: 'b.example.com', port: 443 } })];
    expect(findingsOf([clusterPatch('httproute/default/two-rule-route/rule/0/backend/1')], world)).toEqual([
      [
        'deny',
        'spec.jsonPatches[0].name',
        'jsonPatches[0] names "httproute/default/two-rule-route/rule/0/backend/1", but rule 0 ("chat") of AIGatewayRoute default/two-rule-route gets one cluster for all its backends (they resolve to one address type and no zone-aware load balancing applies), ' +
          'named httproute/default/two-rule-route/rule/0; Envoy Gateway builds per-backend clusters (…/backend/<j>) only for a rule it splits, so the cluster of backend 1 in rule 0 does not exist and the patch does not apply. ' +
          'Fix: patch the rule\'s cluster httproute/default/two-rule-route/rule/0.',
      ],
    ]);
    // Split by address type (FQDN next to IP): the per-backend cluster exists.
    const split = [twoBackends(), asb('a'), asb('b'), backend('a', { fqdn: { hostname: 'a.example.com', port: 443 } }), backend('b', { ip: { address: '10.0.0.7', port: 8000 } })];
    expect(findingsOf([clusterPatch('httproute/default/two-rule-route/rule/0/backend/1')], split)).toEqual([]);
    // Backends unknown (the route alone): nothing can be said.
    expect(findingsOf([clusterPatch('httproute/default/two-rule-route/rule/0/backend/1')], [twoBackends()])).toEqual([]);
  });

  it('match-index-out-of-range: a rule without matches has the one default match, match/0', () => {
    expect(findingsOf([routePatch('httproute/default/two-rule-route/rule/0/match/1/*')], [twoBackends()])).toEqual([
      [
        'deny',
        'spec.jsonPatches[0].operation.jsonPath',
        'jsonPatches[0] names "httproute/default/two-rule-route/rule/0/match/1/*", but rule 0 ("chat") of AIGatewayRoute default/two-rule-route has 1 match (it lists none, so it gets the CRD default path prefix /); ' +
          'the route of match 1 for host * in rule 0 does not exist, so the patch does not apply. Fix: use a match index 0.',
      ],
    ]);
    expect(findingsOf([routePatch('httproute/default/two-rule-route/rule/0/match/0/*')], [twoBackends()])).toEqual([]);
  });

  it('host-not-generated: with spec.hostnames the host is one of them, never *', () => {
    const withHosts = { ...twoBackends(), spec: { ...(twoBackends().spec as object), hostnames: ['api.example.com', '*.models.example.com'] } };
    expect(findingsOf([routePatch('httproute/default/two-rule-route/rule/0/match/0/*')], [withHosts])).toEqual([
      [
        'deny',
        'spec.jsonPatches[0].operation.jsonPath',
        'jsonPatches[0] names "httproute/default/two-rule-route/rule/0/match/0/*", but AIGatewayRoute default/two-rule-route sets spec.hostnames [api.example.com, *.models.example.com], so Envoy Gateway writes the host of its route names as api_example_com or *_models_example_com ' +
          '(a "." written "_"); "*" is never generated, so the patch does not apply. Fix: write httproute/default/two-rule-route/rule/0/match/0/api_example_com.',
      ],
    ]);
    // A listener hostname under the wildcard is generated.
    expect(findingsOf([routePatch('httproute/default/two-rule-route/rule/0/match/0/gpu_models_example_com'), routePatch('httproute/default/two-rule-route/rule/0/match/0/api_example_com')], [withHosts])).toEqual([]);
  });

  it('host-not-generated: with the Gateway in the world, its listener hostnames decide the host', () => {
    const gateway = (hostname?: string): KubeObject => ({
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'Gateway',
      metadata: { name: 'ai-gateway', namespace: 'default' },
      spec: { gatewayClassName: 'eg', listeners: [{ name: 'http', protocol: 'HTTP', port: 80, ...(hostname ? { hostname } : {}) }] },
    });
    expect(findingsOf([routePatch('httproute/default/two-rule-route/rule/0/match/0/*')], [twoBackends(), gateway('api.example.com')])).toEqual([
      [
        'deny',
        'spec.jsonPatches[0].operation.jsonPath',
        'jsonPatches[0] names "httproute/default/two-rule-route/rule/0/match/0/*", but its Gateway listeners (hostnames api.example.com) and spec.hostnames [] give the host of its route names as api_example_com ' +
          '(a "." written "_"); "*" is never generated, so the patch does not apply. Fix: write httproute/default/two-rule-route/rule/0/match/0/api_example_com.',
      ],
    ]);
    expect(findingsOf([routePatch('httproute/default/two-rule-route/rule/0/match/0/api_example_com')], [twoBackends(), gateway('api.example.com')])).toEqual([]);
    // A listener without hostname and a route without hostnames: `*`.
    expect(findingsOf([routePatch('httproute/default/two-rule-route/rule/0/match/0/*')], [twoBackends(), gateway()])).toEqual([]);
    // The more specific of a matching pair: route *.example.com on listener gpu.example.com gives gpu_example_com.
    const wild = { ...twoBackends(), spec: { ...(twoBackends().spec as object), hostnames: ['*.example.com'] } };
    expect(findingsOf([routePatch('httproute/default/two-rule-route/rule/0/match/0/gpu_example_com')], [wild, gateway('gpu.example.com')])).toEqual([]);
    expect(findingsOf([routePatch('httproute/default/two-rule-route/rule/0/match/0/*_example_com')], [wild, gateway('gpu.example.com')]).map((f) => f[0])).toEqual(['deny']);
  });

  it('catch-all-rule: index len(rules) is the generated route-not-found rule', () => {
    const { verdict } = denial(['httproute/default/two-rule-route/rule/2']);
    expect(verdict.findings.map((f) => [f.policy, f.mode, f.path, f.message])).toEqual([
      [
        'route-rule-index',
        'warn',
        'spec.jsonPatches[0].name',
        'jsonPatches[0] names "httproute/default/two-rule-route/rule/2": rule 2 of the HTTPRoute generated from AIGatewayRoute default/two-rule-route is the catch-all route-not-found rule the controller adds after its 2 rules: 0 ("chat"), 1 ("embeddings"). ' +
          'The patch applies there, to requests no rule matches (e.g. a header on the 404), and changes no model rule; if you meant a model rule, this is an index mistake. Fix: use a rule index from 0 to 1.',
      ],
    ]);
  });

  it('backend-index-out-of-range: lists the backendRefs of the rule', () => {
    const { verdict } = denial(['httproute/default/two-rule-route/rule/1/backend/1']);
    expect(verdict.findings.map((f) => [f.mode, f.path, f.message])).toEqual([
      [
        'deny',
        'spec.jsonPatches[0].name',
        'jsonPatches[0] names "httproute/default/two-rule-route/rule/1/backend/1", but rule 1 ("embeddings") of AIGatewayRoute default/two-rule-route has 1 backendRef: 0 ("envoy-ai-gateway-basic-testupstream"); ' +
          'the cluster of backend 1 in rule 1 does not exist, so the patch does not apply. Fix: use a backend index 0, or the rule\'s cluster httproute/default/two-rule-route/rule/1. ' +
          '(AIGatewayRoute default/two-rule-route has 2 rules: 0 ("chat"), 1 ("embeddings").)',
      ],
    ]);
  });

  it('unparseable: says what is wrong and lists the rules of the route it seems to mean', () => {
    const { verdict } = denial(['httproute/default/two-rule-route/rule/abc']);
    expect(verdict.findings.map((f) => [f.mode, f.path, f.message])).toEqual([
      [
        'deny',
        'spec.jsonPatches[0].name',
        `jsonPatches[0] names "httproute/default/two-rule-route/rule/abc", which is not a name Envoy Gateway generates, so it matches nothing and the patch does not apply: the rule index "abc" is not a non-negative integer without leading zeros (xDS names carry the rule index, never the rule name); ${SHAPES}. ` +
          'AIGatewayRoute default/two-rule-route has 2 rules: 0 ("chat"), 1 ("embeddings"). Fix: write the name in one of those shapes.',
      ],
    ]);
  });

  it('unparseable: a rule written by name gets the index to use', () => {
    const { verdict } = denial(['httproute/default/two-rule-route/rule/embeddings/backend/0']);
    expect(verdict.findings.map((f) => f.message)).toEqual([
      `jsonPatches[0] names "httproute/default/two-rule-route/rule/embeddings/backend/0", which is not a name Envoy Gateway generates, so it matches nothing and the patch does not apply: the rule index "embeddings" is not a non-negative integer without leading zeros (xDS names carry the rule index, never the rule name); ${SHAPES}. ` +
        'AIGatewayRoute default/two-rule-route has 2 rules: 0 ("chat"), 1 ("embeddings"). Fix: write rule/1 for rule "embeddings" (httproute/default/two-rule-route/rule/1/backend/0).',
    ]);
  });

  it('unparseable: a host written with dots', () => {
    const { verdict } = review(
      admissionReview(epp([{ type: 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration', name: 'default/eg/http', operation: { op: 'add', jsonPath: "..routes[?(@.name=='httproute/default/nope/rule/0/match/0/api.example.com')]", path: '/route/timeout', value: '5s' } }])),
      'validate',
      deps({ world: world() }),
    );
    expect(verdict.findings.map((f) => [f.mode, f.path, f.message])).toEqual([
      [
        'deny',
        'spec.jsonPatches[0].operation.jsonPath',
        `jsonPatches[0] names "httproute/default/nope/rule/0/match/0/api.example.com", which is not a name Envoy Gateway generates, so it matches nothing and the patch does not apply: the host "api.example.com" contains "."; Envoy Gateway writes each "." of a hostname as "_" ("api_example_com"); ${SHAPES}. Fix: write the name in one of those shapes.`,
      ],
    ]);
  });

  it('route-not-found: only a warning even though the policy denies (an EnvoyPatchPolicy may be applied before its route)', () => {
    const { out, verdict } = denial(['httproute/default/nope/rule/0']);
    expect(out.response.allowed).toBe(true);
    expect(out.response.warnings).toHaveLength(1);
    expect({ uid: out.response.uid, allowed: true, warnings: warningsInFull(verdict) }).toEqual({
      uid: out.response.uid,
      allowed: true,
      warnings: [
        '[route-rule-index] spec.jsonPatches[0].name: jsonPatches[0] names "httproute/default/nope/rule/0", but there is no AIGatewayRoute default/nope, so nothing generates this name and the patch does not apply. ' +
          'When the AIGatewayRoute is applied after this EnvoyPatchPolicy (kubectl apply -f dir/ in file order, a GitOps sync), this goes away once it exists. Fix: create AIGatewayRoute default/nope, or correct the namespace and name in the reference.',
      ],
    });
  });

  it('route-not-found denies when the config says routeNotFoundMode: deny', () => {
    const policies = new PolicySet(ALL_POLICIES, { 'route-rule-index': { params: { routeNotFoundMode: 'deny' } } });
    const { verdict } = review(admissionReview(epp([clusterPatch('httproute/default/nope/rule/0')])), 'validate', deps({ policies }));
    expect(verdict.allowed).toBe(false);
    expect(verdict.findings.map((f) => f.mode)).toEqual(['deny']);
  });

  it('route-not-found stays audit when the whole policy is at audit (atMost never raises a mode)', () => {
    const policies = new PolicySet(ALL_POLICIES, { 'route-rule-index': { mode: 'audit' } });
    const { review: out, verdict } = review(admissionReview(epp([clusterPatch('httproute/default/nope/rule/0'), clusterPatch('httproute/default/two-rule-route/rule/9')])), 'validate', deps({ policies, world: world() }));
    expect(out.response).toEqual({ uid: out.response.uid, allowed: true });
    expect(verdict.findings.map((f) => f.mode)).toEqual(['audit', 'audit']);
  });

  it('skips a name of a plain HTTPRoute the world knows (no AIGatewayRoute of that name)', () => {
    const plain = { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', metadata: { name: 'plain', namespace: 'default' }, spec: { rules: [{}] } };
    const { verdict } = review(admissionReview(epp([clusterPatch('httproute/default/plain/rule/0')])), 'validate', deps({ world: new MemoryWorld([plain]) }));
    expect(verdict.findings).toEqual([]);
  });

  it('resolves against the namespace in the name, not the policy namespace', () => {
    const { verdict } = review(admissionReview(epp([clusterPatch('httproute/default/two-rule-route/rule/1')], 'p', 'envoy-gateway-system')), 'validate', deps({ world: world() }));
    expect(verdict.findings).toEqual([]);
  });

  it('judges every place a name can hide, one finding per reference', () => {
    const { verdict } = review(
      admissionReview(
        epp([
          {
            type: 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration',
            name: 'default/envoy-ai-gateway-basic/http',
            operation: {
              op: 'add',
              jsonPath: "..routes[?(@.name=='httproute/default/two-rule-route/rule/3/match/0/*')]",
              path: '/route/weighted_clusters',
              value: { clusters: [{ name: 'httproute/default/two-rule-route/rule/0/backend/4', weight: 1 }] },
            },
          },
          { type: 'type.googleapis.com/envoy.config.cluster.v3.Cluster', name: 'httproute/default/two-rule-route/rule/0', operation: { op: 'copy', from: '/x/httproute~1default~1two-rule-route~1rule~17', path: '/y' } },
        ]),
      ),
      'validate',
      deps({ world: world() }),
    );
    expect(verdict.findings.map((f) => f.path)).toEqual([
      'spec.jsonPatches[0].operation.jsonPath',
      'spec.jsonPatches[0].operation.value.clusters[0].name',
      'spec.jsonPatches[1].operation.from',
    ]);
  });
});

describe('route-rule-index on the real EnvoyPatchPolicy bodies (../shared)', () => {
  const files = ['envoypatchpolicy-rule-1-in-range-create-validate.json', 'envoypatchpolicy-rule-1-in-range-create-mutate.json'];
  const realRoute = () => readJson<AdmissionReviewRequest>(join(SHARED, 'fixtures/admission-reviews/aigatewayroute-two-rules-kubectl-create-create-validate.json')).request.object!;

  it.runIf(HAS_SHARED).each(files)('%s: no finding with the two-rule-route of the same cluster in the world', (file) => {
    const input = readJson<AdmissionReviewRequest>(join(SHARED, 'fixtures/admission-reviews', file));
    const events = new RecordingEvents();
    const { review: out, verdict } = review(input, 'validate', deps({ world: new MemoryWorld([realRoute()]), events }));
    expect(out.response).toEqual({ uid: input.request.uid, allowed: true });
    expect(verdict.findings).toEqual([]);
    expect(events.written).toEqual([]);
  });

  it.runIf(HAS_SHARED)('with an empty world: both references warn route-not-found, and both are logged, counted and sent as Events', () => {
    const input = readJson<AdmissionReviewRequest>(join(SHARED, 'fixtures/admission-reviews/envoypatchpolicy-rule-1-in-range-create-validate.json'));
    const events = new RecordingEvents();
    const logger = new RecordingLogger();
    const metrics = new Metrics();
    const { review: out } = review(input, 'validate', deps({ events, logger, metrics }));
    expect(out.response.allowed).toBe(true);
    expect(out.response.warnings).toHaveLength(2);
    const ref = { apiVersion: 'gateway.envoyproxy.io/v1alpha1', kind: 'EnvoyPatchPolicy', namespace: 'default', name: 'two-rule-route-rule-1' };
    expect(events.written).toEqual([
      { regarding: ref, event: { type: 'Warning', reason: 'RouteLookupMiss', message: 'route-not-found: spec.jsonPatches[0].operation.jsonPath "httproute/default/two-rule-route/rule/1/match/0/*": no AIGatewayRoute default/two-rule-route' } },
      { regarding: ref, event: { type: 'Warning', reason: 'RouteLookupMiss', message: 'route-not-found: spec.jsonPatches[1].name "httproute/default/two-rule-route/rule/1": no AIGatewayRoute default/two-rule-route' } },
    ]);
    expect(logger.lines.filter((l) => l.event === 'route_lookup_miss')).toEqual([
      {
        event: 'route_lookup_miss',
        reason: 'route-not-found',
        routeName: 'httproute/default/two-rule-route/rule/1/match/0/*',
        namespace: 'default',
        name: 'two-rule-route',
        ruleIndex: 1,
        ruleCount: undefined,
        referencing: 'EnvoyPatchPolicy default/two-rule-route-rule-1',
        path: 'spec.jsonPatches[0].operation.jsonPath',
        uid: input.request.uid,
        policy: 'route-rule-index',
        mode: 'deny',
      },
      {
        event: 'route_lookup_miss',
        reason: 'route-not-found',
        routeName: 'httproute/default/two-rule-route/rule/1',
        namespace: 'default',
        name: 'two-rule-route',
        ruleIndex: 1,
        ruleCount: undefined,
        referencing: 'EnvoyPatchPolicy default/two-rule-route-rule-1',
        path: 'spec.jsonPatches[1].name',
        uid: input.request.uid,
        policy: 'route-rule-index',
        mode: 'deny',
      },
    ]);
  });

  it.runIf(HAS_SHARED)('the EnvoyPatchPolicy CRD (../shared/fixtures/crds/envoy-gateway) accepts every policy these tests send, and has the fields the finder reads', () => {
    const crd = parseYaml(readFileSync(join(SHARED, 'fixtures/crds/envoy-gateway/gateway.envoyproxy.io_envoypatchpolicies.yaml'), 'utf8')) as {
      spec: { versions: Array<{ name: string; schema: { openAPIV3Schema: Record<string, unknown> } }> };
    };
    const schema = crd.spec.versions.find((v) => v.name === 'v1alpha1')!.schema.openAPIV3Schema;
    const validate = new Ajv({ strict: false }).compile(schema);
    const ops = (schema as { properties: { spec: { properties: { jsonPatches: { items: { properties: { operation: { properties: Record<string, unknown> } } } } } } } }).properties.spec.properties.jsonPatches.items.properties;
    expect(Object.keys(ops).sort()).toEqual(['name', 'operation', 'type']);
    expect(Object.keys(ops.operation.properties).sort()).toEqual(['from', 'jsonPath', 'op', 'path', 'value']);
    const input = readJson<AdmissionReviewRequest>(join(SHARED, 'fixtures/admission-reviews/envoypatchpolicy-rule-1-in-range-create-validate.json'));
    for (const o of [input.request.object, epp([clusterPatch('httproute/default/two-rule-route/rule/5')]), eppFor(twoRuleRoute() as AIGatewayRoute)]) {
      expect(validate(o), JSON.stringify(validate.errors)).toBe(true);
    }
    expect(validate(epp([{ name: 'x', operation: { op: 'frobnicate' }, type: 'type.googleapis.com/envoy.config.cluster.v3.Cluster' }]))).toBe(false);
  });
});

describe('every miss is visible: Events (never on dry run), the counter, the log line', () => {
  const sequence = [
    ['httproute/default/two-rule-route/rule/5', 'httproute/default/two-rule-route/rule/2'],
    ['httproute/default/nope/rule/0', 'httproute/default/two-rule-route/rule/abc', 'httproute/default/two-rule-route/rule/9'],
    ['httproute/default/two-rule-route/rule/0/backend/3', 'httproute/default/two-rule-route/rule/1'],
  ];

  it('one Warning Event per miss on the EnvoyPatchPolicy, and none on dry run', () => {
    for (const dryRun of [false, true]) {
      const events = new RecordingEvents();
      const d = deps({ world: new MemoryWorld([twoRuleRoute()]), events });
      review(admissionReview(epp(sequence[0]!.map(clusterPatch)), 'CREATE', null, dryRun), 'validate', d);
      expect(events.written).toEqual(
        dryRun
          ? []
          : [
              { regarding: P_REF, event: { type: 'Warning', reason: 'RouteLookupMiss', message: 'rule-index-out-of-range: spec.jsonPatches[0].name "httproute/default/two-rule-route/rule/5": AIGatewayRoute default/two-rule-route has 2 rules, no rule 5' } },
              { regarding: P_REF, event: { type: 'Warning', reason: 'RouteLookupMiss', message: 'catch-all-rule: spec.jsonPatches[1].name "httproute/default/two-rule-route/rule/2": rule 2 is the generated catch-all route-not-found rule of AIGatewayRoute default/two-rule-route (2 rules)' } },
            ],
      );
    }
  });

  it('aigw_admission_route_lookup_misses_total{reason} after a known sequence (dry runs count: the log and counter are not side effects on the cluster)', async () => {
    const metrics = new Metrics();
    const d = deps({ world: new MemoryWorld([twoRuleRoute()]), metrics });
    sequence.forEach((names, i) => review(admissionReview(epp(names.map(clusterPatch)), 'CREATE', null, i === 2), 'validate', d));
    const route = twoRuleRoute();
    const shorter = structuredClone(route) as { spec: { rules: unknown[] } };
    shorter.spec.rules.pop();
    const withPolicy = deps({ world: new MemoryWorld([route, epp([clusterPatch('httproute/default/two-rule-route/rule/1')])]), metrics });
    review(admissionReview(shorter as KubeObject, 'UPDATE', route), 'validate', withPolicy);
    review(admissionReview(null, 'DELETE', route), 'validate', withPolicy);
    expect((await metrics.registry.getSingleMetricAsString('aigw_admission_route_lookup_misses_total')).split('\n')).toEqual([
      '# HELP aigw_admission_route_lookup_misses_total xDS route or cluster names that do not resolve to an AIGatewayRoute rule, by reason.',
      '# TYPE aigw_admission_route_lookup_misses_total counter',
      'aigw_admission_route_lookup_misses_total{reason="rule-index-out-of-range"} 2',
      'aigw_admission_route_lookup_misses_total{reason="catch-all-rule"} 2',
      'aigw_admission_route_lookup_misses_total{reason="route-not-found"} 2',
      'aigw_admission_route_lookup_misses_total{reason="unparseable"} 1',
      'aigw_admission_route_lookup_misses_total{reason="backend-index-out-of-range"} 1',
    ]);
  });

  it('logs one line per miss with the rule count of the route it looked in', () => {
    const logger = new RecordingLogger();
    review(admissionReview(epp([clusterPatch('httproute/default/two-rule-route/rule/0/backend/3')])), 'validate', deps({ world: new MemoryWorld([twoRuleRoute()]), logger }));
    expect(logger.lines.filter((l) => l.event === 'route_lookup_miss')).toEqual([
      {
        event: 'route_lookup_miss',
        reason: 'backend-index-out-of-range',
        routeName: 'httproute/default/two-rule-route/rule/0/backend/3',
        namespace: 'default',
        name: 'two-rule-route',
        ruleIndex: 0,
        ruleCount: 2,
        referencing: 'EnvoyPatchPolicy default/p',
        path: 'spec.jsonPatches[0].name',
        uid: expect.any(String),
        policy: 'route-rule-index',
        mode: 'deny',
      },
    ]);
  });
});

describe('orphaned-rule-references (AIGatewayRoute UPDATE and DELETE)', () => {
  const inRange = epp(
    [
      { type: 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration', name: 'default/envoy-ai-gateway-basic/http', operation: { op: 'add', jsonPath: "..routes[?(@.name=='httproute/default/two-rule-route/rule/1/match/0/*')]", path: '/route/idle_timeout', value: '300s' } },
      clusterPatch('httproute/default/two-rule-route/rule/1'),
    ],
    'two-rule-route-rule-1',
  );
  const ruleOne = { apiVersion: 'gateway.envoyproxy.io/v1alpha1', kind: 'EnvoyPatchPolicy', namespace: 'default', name: 'two-rule-route-rule-1' };
  const withRules = (rules: unknown[]) => {
    const r = structuredClone(twoRuleRoute()) as { spec: { rules: unknown[] } };
    r.spec.rules = rules;
    return r as KubeObject;
  };
  const [chat, embeddings] = (twoRuleRoute().spec as { rules: unknown[] }).rules;

  it('removing the last rule: the references now name the catch-all rule; names the policy, the path and the index', () => {
    const events = new RecordingEvents();
    const { review: out, verdict } = review(admissionReview(withRules([chat]), 'UPDATE', twoRuleRoute()), 'validate', deps({ world: new MemoryWorld([twoRuleRoute(), inRange]), events }));
    expect(out.response.warnings).toHaveLength(2);
    expect({ uid: out.response.uid, allowed: out.response.allowed, warnings: warningsInFull(verdict) }).toEqual({
      uid: out.response.uid,
      allowed: true,
      warnings: [
        '[orphaned-rule-references] spec.rules: after this change AIGatewayRoute default/two-rule-route has 1 rule (0 ("chat")), so EnvoyPatchPolicy default/two-rule-route-rule-1 spec.jsonPatches[0].operation.jsonPath names "httproute/default/two-rule-route/rule/1/match/0/*", written for rule 1 ("embeddings"), ' +
          'now names the catch-all route-not-found rule the controller adds at index 1; that patch changes it instead of a model rule. Fix: update or delete EnvoyPatchPolicy default/two-rule-route-rule-1, or keep the rule.',
        '[orphaned-rule-references] spec.rules: after this change AIGatewayRoute default/two-rule-route has 1 rule (0 ("chat")), so EnvoyPatchPolicy default/two-rule-route-rule-1 spec.jsonPatches[1].name names "httproute/default/two-rule-route/rule/1", written for rule 1 ("embeddings"), ' +
          'now names the catch-all route-not-found rule the controller adds at index 1; that patch changes it instead of a model rule. Fix: update or delete EnvoyPatchPolicy default/two-rule-route-rule-1, or keep the rule.',
      ],
    });
    expect(events.written).toEqual([
      { regarding: ruleOne, event: { type: 'Warning', reason: 'OrphanedRuleReference', message: 'catch-all-rule: spec.jsonPatches[0].operation.jsonPath "httproute/default/two-rule-route/rule/1/match/0/*": AIGatewayRoute default/two-rule-route has 1 rule after the change; rule 1 ("embeddings") was removed', regarding: ruleOne } },
      { regarding: ruleOne, event: { type: 'Warning', reason: 'OrphanedRuleReference', message: 'catch-all-rule: spec.jsonPatches[1].name "httproute/default/two-rule-route/rule/1": AIGatewayRoute default/two-rule-route has 1 rule after the change; rule 1 ("embeddings") was removed', regarding: ruleOne } },
    ]);
  });

  it('removing a rule before it: the rule moved, the fix names its new index; a reference two past the end names nothing', () => {
    const far = epp([clusterPatch('httproute/default/two-rule-route/rule/2/backend/0')], 'far');
    const three = [chat, embeddings, { name: 'rerank', backendRefs: [{ name: 'b' }] }];
    const { verdict } = review(admissionReview(withRules([embeddings]), 'UPDATE', withRules(three)), 'validate', deps({ world: new MemoryWorld([inRange, far]) }));
    expect(verdict.findings.map((f) => [f.mode, f.path, f.message])).toEqual([
      [
        'warn',
        'spec.rules',
        'after this change AIGatewayRoute default/two-rule-route has 1 rule (0 ("embeddings")), so EnvoyPatchPolicy default/two-rule-route-rule-1 spec.jsonPatches[0].operation.jsonPath names "httproute/default/two-rule-route/rule/1/match/0/*", written for rule 1 ("embeddings"), ' +
          'now names the catch-all route-not-found rule the controller adds at index 1; that patch changes it instead of a model rule. Fix: change the reference to rule/0 (where "embeddings" is now) in EnvoyPatchPolicy default/two-rule-route-rule-1.',
      ],
      [
        'warn',
        'spec.rules',
        'after this change AIGatewayRoute default/two-rule-route has 1 rule (0 ("embeddings")), so EnvoyPatchPolicy default/two-rule-route-rule-1 spec.jsonPatches[1].name names "httproute/default/two-rule-route/rule/1", written for rule 1 ("embeddings"), ' +
          'now names the catch-all route-not-found rule the controller adds at index 1; that patch changes it instead of a model rule. Fix: change the reference to rule/0 (where "embeddings" is now) in EnvoyPatchPolicy default/two-rule-route-rule-1.',
      ],
      [
        'warn',
        'spec.rules',
        'after this change AIGatewayRoute default/two-rule-route has 1 rule (0 ("embeddings")), so EnvoyPatchPolicy default/far spec.jsonPatches[0].name names "httproute/default/two-rule-route/rule/2/backend/0", written for rule 2 ("rerank"), names no rule; that patch stops applying. ' +
          'Fix: update or delete EnvoyPatchPolicy default/far, or keep the rule.',
      ],
    ]);
  });

  it('a reference that still resolves but now patches another rule', () => {
    const first = epp([clusterPatch('httproute/default/two-rule-route/rule/0')], 'first');
    const { verdict } = review(admissionReview(withRules([embeddings, chat]), 'UPDATE', twoRuleRoute()), 'validate', deps({ world: new MemoryWorld([first]) }));
    expect(verdict.findings.map((f) => [f.path, f.message])).toEqual([
      [
        'spec.rules[0]',
        'after this change rule 0 ("embeddings") is where rule 0 ("chat") was, so EnvoyPatchPolicy default/first spec.jsonPatches[0].name names "httproute/default/two-rule-route/rule/0", written for rule 0 ("chat"), now patches rule 0 ("embeddings"). ' +
          'Fix: change the reference to rule/1 (where "chat" is now) in EnvoyPatchPolicy default/first.',
      ],
    ]);
  });

  it('removing a backendRef a per-backend cluster name points at', () => {
    const backend = epp([clusterPatch('httproute/default/two-rule-route/rule/0/backend/1')], 'backend');
    const before = withRules([{ ...(chat as object), backendRefs: [{ name: 'openai' }, { name: 'anthropic', priority: 1 }] }, embeddings]);
    const after = withRules([{ ...(chat as object), backendRefs: [{ name: 'openai' }] }, embeddings]);
    const logger = new RecordingLogger();
    const { verdict } = review(admissionReview(after, 'UPDATE', before), 'validate', deps({ world: new MemoryWorld([backend]), logger }));
    expect(verdict.findings.map((f) => [f.path, f.message])).toEqual([
      [
        'spec.rules[0].backendRefs',
        'after this change rule 0 ("chat") has 1 backendRef (0 ("openai")), so EnvoyPatchPolicy default/backend spec.jsonPatches[0].name names "httproute/default/two-rule-route/rule/0/backend/1" names no backend; that patch stops applying. ' +
          'Fix: update or delete EnvoyPatchPolicy default/backend, or keep backendRef 1.',
      ],
    ]);
    expect(logger.lines.filter((l) => l.event === 'route_lookup_miss').map((l) => [l.reason, l.ruleIndex, l.ruleCount, l.referencing, l.policy])).toEqual([
      ['backend-index-out-of-range', 0, 2, 'EnvoyPatchPolicy default/backend', 'orphaned-rule-references'],
    ]);
  });

  it('DELETE: every policy that names the route is warned about, the route is gone', () => {
    const events = new RecordingEvents();
    const { review: out, verdict } = review(admissionReview(null, 'DELETE', twoRuleRoute()), 'validate', deps({ world: new MemoryWorld([inRange]), events }));
    expect(out.response.warnings).toHaveLength(2);
    expect(warningsInFull(verdict)).toEqual([
      '[orphaned-rule-references] deleting AIGatewayRoute default/two-rule-route removes its 2 rules (0 ("chat"), 1 ("embeddings")), but EnvoyPatchPolicy default/two-rule-route-rule-1 spec.jsonPatches[0].operation.jsonPath names "httproute/default/two-rule-route/rule/1/match/0/*"; that patch stops applying. ' +
        'Fix: update or delete EnvoyPatchPolicy default/two-rule-route-rule-1 before deleting the route.',
      '[orphaned-rule-references] deleting AIGatewayRoute default/two-rule-route removes its 2 rules (0 ("chat"), 1 ("embeddings")), but EnvoyPatchPolicy default/two-rule-route-rule-1 spec.jsonPatches[1].name names "httproute/default/two-rule-route/rule/1"; that patch stops applying. ' +
        'Fix: update or delete EnvoyPatchPolicy default/two-rule-route-rule-1 before deleting the route.',
    ]);
    expect(events.written.map((e) => [e.regarding.name, e.event.message])).toEqual([
      ['two-rule-route-rule-1', 'route-not-found: spec.jsonPatches[0].operation.jsonPath "httproute/default/two-rule-route/rule/1/match/0/*": AIGatewayRoute default/two-rule-route is being deleted'],
      ['two-rule-route-rule-1', 'route-not-found: spec.jsonPatches[1].name "httproute/default/two-rule-route/rule/1": AIGatewayRoute default/two-rule-route is being deleted'],
    ]);
  });

  it('DELETE on dry run: the same warnings, no Event', () => {
    const events = new RecordingEvents();
    const { review: out } = review(admissionReview(null, 'DELETE', twoRuleRoute(), true), 'validate', deps({ world: new MemoryWorld([inRange]), events }));
    expect(out.response.warnings).toHaveLength(2);
    expect(events.written).toEqual([]);
  });

  it('says nothing when the change keeps every referenced rule, or when the policies name other routes or already missed', () => {
    const other = epp([clusterPatch('httproute/default/other/rule/0'), clusterPatch('httproute/team-b/two-rule-route/rule/1'), clusterPatch('httproute/default/two-rule-route/rule/7')], 'other');
    const longer = withRules([chat, embeddings, { name: 'rerank', backendRefs: [{ name: 'b' }] }]);
    const world = new MemoryWorld([inRange, other]);
    expect(review(admissionReview(longer, 'UPDATE', twoRuleRoute()), 'validate', deps({ world })).verdict.findings).toEqual([]);
    expect(review(admissionReview(withRules([chat]), 'UPDATE', twoRuleRoute()), 'validate', deps({ world: new MemoryWorld([other]) })).verdict.findings).toEqual([]);
  });
});

/** An EnvoyPatchPolicy naming every xDS resource Envoy Gateway generates for `route`'s rules. */
function eppFor(route: AIGatewayRoute): KubeObject {
  const ns = route.metadata!.namespace!;
  const name = route.metadata!.name!;
  const hosts = Array.isArray(route.spec?.hostnames) && route.spec.hostnames.length ? (route.spec.hostnames as string[]).map(xdsHost) : ['*'];
  const names: XdsName[] = [];
  routeRules(route).forEach((rule, ruleIndex) => {
    names.push({ kind: 'rule-cluster', namespace: ns, name, ruleIndex });
    ruleBackendRefs(rule).forEach((_b, backendIndex) => names.push({ kind: 'backend-cluster', namespace: ns, name, ruleIndex, backendIndex }));
    const matches = ruleMatches(rule).length;
    for (const host of hosts) for (let m = 0; m < Math.max(matches, 1); m++) names.push({ kind: 'route', namespace: ns, name, ruleIndex, matchIndex: m, host });
  });
  return epp(
    names.map((n) =>
      n.kind === 'route'
        ? { type: 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration', name: `${ns}/gw/http`, operation: { op: 'add', jsonPath: `..routes[?(@.name=='${formatXdsName(n)}')]`, path: '/route/idle_timeout', value: '300s' } }
        : clusterPatch(formatXdsName(n)),
    ),
    `${name}-all`,
    ns,
  );
}

describe.runIf(HAS_SHARED)('no miss on the upstream examples: every name Envoy Gateway generates for their routes resolves', () => {
  const routes: Array<[string, AIGatewayRoute]> = [];
  if (HAS_SHARED) {
    for (const f of listFiles(join(SHARED, 'fixtures/examples/ai-gateway'), '.yaml')) {
      for (const o of yamlObjects(f)) if (o.kind === 'AIGatewayRoute') routes.push([`${f.split('/').pop()} ${o.metadata?.name}`, { ...o, metadata: { namespace: 'default', ...o.metadata } } as AIGatewayRoute]);
    }
  }

  it.each(routes)('%s', (_name, r) => {
    const policy = eppFor(r);
    const events = new RecordingEvents();
    const metrics = new Metrics();
    const { review: out, verdict } = review(admissionReview(policy), 'validate', deps({ world: new MemoryWorld([r as KubeObject]), events, metrics }));
    expect((policy.spec as { jsonPatches: unknown[] }).jsonPatches.length).toBeGreaterThan(1);
    expect(verdict.findings).toEqual([]);
    expect(out.response).toEqual({ uid: out.response.uid, allowed: true });
    expect(events.written).toEqual([]);
    // …and updating the route to itself, or deleting a route no policy names, orphans nothing.
    // (This world holds no BackendTrafficPolicy, so the fall-over policies speak on routes with priorities; not this test's subject.)
    const onUpdate = review(admissionReview(r as KubeObject, 'UPDATE', r as KubeObject), 'validate', deps({ world: new MemoryWorld([r as KubeObject, policy]) })).verdict.findings;
    expect(onUpdate.filter((f) => !f.policy.startsWith('fallover-'))).toEqual([]);
    expect(review(admissionReview(null, 'DELETE', r as KubeObject), 'validate', deps()).verdict.findings).toEqual([]);
  });
});
