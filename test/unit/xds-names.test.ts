import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  XDS_NAME_SHAPES,
  findXdsNames,
  formatXdsName,
  namesInText,
  parseXdsName,
  resolveXdsName,
  xdsHost,
  type XdsName,
} from '../../src/model/xds-names.js';
import { route } from '../helpers.js';

const label = fc.stringMatching(/^[a-z0-9]([-a-z0-9]{0,20}[a-z0-9])?$/);
const subdomain = fc.array(label, { minLength: 1, maxLength: 3 }).map((l) => l.join('.'));
const index = fc.nat({ max: 200 });
const host = fc.oneof(
  fc.constant('*'),
  fc.array(label, { minLength: 1, maxLength: 4 }).map((l) => xdsHost(l.join('.'))),
  fc.array(label, { minLength: 1, maxLength: 3 }).map((l) => xdsHost(`*.${l.join('.')}`)),
);
const xdsName: fc.Arbitrary<XdsName> = fc.oneof(
  fc.record({ kind: fc.constant('rule-cluster' as const), namespace: label, name: subdomain, ruleIndex: index }),
  fc.record({ kind: fc.constant('backend-cluster' as const), namespace: label, name: subdomain, ruleIndex: index, backendIndex: index }),
  fc.record({
    kind: fc.constant('route' as const),
    namespace: label,
    name: subdomain,
    ruleIndex: index,
    matchIndex: fc.integer({ min: 0, max: 200 }),
    host,
  }),
);

describe('xDS names: format → parse round trip (property)', () => {
  it('parses every name Envoy Gateway can generate back to what it was made from', () => {
    fc.assert(
      fc.property(xdsName, (n) => {
        const text = formatXdsName(n);
        expect(parseXdsName(text)).toEqual({ ok: true, value: n });
        expect(formatXdsName((parseXdsName(text) as { ok: true; value: XdsName }).value)).toBe(text);
      }),
      { numRuns: 500 },
    );
  });

  it('finds each generated name exactly once inside a jsonPath filter, a value string and a pointer segment', () => {
    fc.assert(
      fc.property(xdsName, (n) => {
        const text = formatXdsName(n);
        const found = findXdsNames({
          spec: {
            jsonPatches: [
              { name: text, operation: { op: 'add', jsonPath: `..routes[?(@.name=='${text}')]`, path: `/x/${text.replaceAll('/', '~1')}`, value: { deep: [{ s: `cluster ${text}` }] } } },
            ],
          },
        });
        expect(found.map((f) => [f.text, f.path])).toEqual([
          [text, 'spec.jsonPatches[0].name'],
          [text, 'spec.jsonPatches[0].operation.jsonPath'],
          [text, 'spec.jsonPatches[0].operation.path'],
          [text, 'spec.jsonPatches[0].operation.value.deep[0].s'],
        ]);
        expect(found.every((f) => f.parsed.ok)).toBe(true);
      }),
      { numRuns: 200 },
    );
  });
});

describe('parseXdsName', () => {
  it.each([
    ['httproute/default/two-rule-route/rule/1/match/0/*', { kind: 'route', namespace: 'default', name: 'two-rule-route', ruleIndex: 1, matchIndex: 0, host: '*' }],
    ['httproute/team-a/chat/rule/2/match/3/*_example_com', { kind: 'route', namespace: 'team-a', name: 'chat', ruleIndex: 2, matchIndex: 3, host: '*_example_com' }],
    ['httproute/default/two-rule-route/rule/1', { kind: 'rule-cluster', namespace: 'default', name: 'two-rule-route', ruleIndex: 1 }],
    ['httproute/default/my.route/rule/0/backend/12', { kind: 'backend-cluster', namespace: 'default', name: 'my.route', ruleIndex: 0, backendIndex: 12 }],
  ])('%s', (text, value) => {
    expect(parseXdsName(text)).toEqual({ ok: true, value });
  });

  it.each([
    ['httproute/default/x/rule/abc', 'the rule index "abc" is not a non-negative integer without leading zeros (xDS names carry the rule index, never the rule name)'],
    ['httproute/default/x/rule/01', 'the rule index "01" is not a non-negative integer without leading zeros'],
    ['httproute/default/x/rule/-1', 'the rule index "-1" is not a non-negative integer without leading zeros'],
    ['httproute/default/x', '"rule/<index>" must follow the route name'],
    ['httproute/default/x/rules/0', '"rule/<index>" must follow the route name'],
    ['httproute/Default/x/rule/0', '"Default" is not a namespace name'],
    ['httproute//x/rule/0', '"" is not a namespace name'],
    ['httproute/default/x/rule/0/backend/x', 'the backend index "x" is not a non-negative integer without leading zeros'],
    ['httproute/default/x/rule/0/match/-2/*', 'the match index "-2" is not a non-negative integer without leading zeros'],
    ['httproute/team-a/chat/rule/0/match/-1/api_example_com', 'the match index is never -1: a rule without matches gets the CRD default match (path prefix /), so its route is match/0'],
    ['httproute/default/x/rule/0/match/0/api.example.com', 'the host "api.example.com" contains "."; Envoy Gateway writes each "." of a hostname as "_" ("api_example_com")'],
    ['httproute/default/x/rule/0/match/0', '"match/0" after the rule index is not "backend/<j>" or "match/<m>/<host>"'],
    ['httproute/default/x/rule/0/', '"" after the rule index is not "backend/<j>" or "match/<m>/<host>"'],
  ])('%s is unparseable: %s', (text, why) => {
    expect(parseXdsName(text)).toEqual({ ok: false, error: `${why}; Envoy Gateway writes ${XDS_NAME_SHAPES}` });
  });
});

describe('namesInText', () => {
  it('reads names out of JSONPath filters, with either quote, and ignores regex filters and longer words', () => {
    expect(namesInText(`..routes[?(@.name=='httproute/a/b/rule/0/match/0/*')]`)).toEqual(['httproute/a/b/rule/0/match/0/*']);
    expect(namesInText(`$..[?(@.name == "httproute/a/b/rule/1" || @.name=="httproute/a/b/rule/2")]`)).toEqual(['httproute/a/b/rule/1', 'httproute/a/b/rule/2']);
    expect(namesInText(`..routes[?(@.name =~ /httproute\\/a\\/b\\/.*/)]`)).toEqual([]);
    expect(namesInText('xhttproute/a/b/rule/0 and my-httproute/a')).toEqual([]);
  });
});

describe('findXdsNames', () => {
  it('reports where each name sits and skips names of other xDS resources', () => {
    const found = findXdsNames({
      spec: {
        jsonPatches: [
          { name: 'default/eg/http', type: 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration', operation: { op: 'add', jsonPath: "..routes[?(@.name=='httproute/default/r/rule/0/match/0/*')]", path: '/route/timeout', value: '10s' } },
          { name: 'httproute/default/r/rule/1', operation: { op: 'copy', from: '/a/httproute~1default~1r~1rule~12', path: '/b' } },
          { name: 'default/eg/http', operation: { op: 'add', path: '/virtual_hosts/0/routes/0', value: { name: 'x', route: { cluster: 'httproute/default/r/rule/0/backend/3' }, 'odd-key': ['httproute/default/r/rule/abc'] } } },
          'not an object',
        ],
      },
    });
    expect(found.map((f) => [f.patchIndex, f.path, f.text, f.parsed.ok])).toEqual([
      [0, 'spec.jsonPatches[0].operation.jsonPath', 'httproute/default/r/rule/0/match/0/*', true],
      [1, 'spec.jsonPatches[1].name', 'httproute/default/r/rule/1', true],
      [1, 'spec.jsonPatches[1].operation.from', 'httproute/default/r/rule/2', true],
      [2, 'spec.jsonPatches[2].operation.value.route.cluster', 'httproute/default/r/rule/0/backend/3', true],
      [2, 'spec.jsonPatches[2].operation.value["odd-key"][0]', 'httproute/default/r/rule/abc', false],
    ]);
  });

  it('finds nothing in an object without jsonPatches', () => {
    expect(findXdsNames({ spec: {} })).toEqual([]);
    expect(findXdsNames(null)).toEqual([]);
  });
});

describe('resolveXdsName', () => {
  const r = route([{ name: 'chat', backendRefs: [{ name: 'a' }, { name: 'b' }] }, { name: 'embeddings', backendRefs: [{ name: 'a' }] }], 'r', 'default');
  const at = (text: string) => resolveXdsName((parseXdsName(text) as { ok: true; value: XdsName }).value, r);

  it('resolves rules and backends that exist', () => {
    expect(at('httproute/default/r/rule/1/match/0/*')).toEqual({ ok: true, rule: (r.spec as { rules: unknown[] }).rules[1], ruleCount: 2 });
    expect(at('httproute/default/r/rule/0/backend/1').ok).toBe(true);
  });

  it('names each kind of miss', () => {
    expect(at('httproute/default/r/rule/3')).toEqual({ ok: false, reason: 'rule-index-out-of-range', ruleCount: 2 });
    expect(at('httproute/default/r/rule/2/match/0/*')).toEqual({ ok: false, reason: 'catch-all-rule', ruleCount: 2 });
    expect(at('httproute/default/r/rule/1/backend/1')).toEqual({ ok: false, reason: 'backend-index-out-of-range', ruleCount: 2 });
    expect(resolveXdsName({ kind: 'rule-cluster', namespace: 'default', name: 'r', ruleIndex: 0 }, undefined)).toEqual({ ok: false, reason: 'route-not-found', ruleCount: 0 });
  });
});
