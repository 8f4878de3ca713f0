import { describe, expect, it } from 'vitest';
import { CrdSchemas } from '../../src/crd/schemas.js';
import { rewriteIndexedHas } from '../../src/crd/rules.js';
import type { KubeObject } from '../../src/kube/types.js';

/** A small CRD written for these tests: one field per structural-schema feature. */
const CRD: KubeObject = {
  apiVersion: 'apiextensions.k8s.io/v1',
  kind: 'CustomResourceDefinition',
  metadata: { name: 'widgets.example.com' },
  spec: {
    group: 'example.com',
    scope: 'Namespaced',
    names: { kind: 'Widget', plural: 'widgets' },
    versions: [
      { name: 'v1alpha1', served: false, storage: false, schema: { openAPIV3Schema: { type: 'object' } } },
      {
        name: 'v1',
        served: true,
        storage: true,
        subresources: { status: {} },
        schema: {
          openAPIV3Schema: {
            type: 'object',
            properties: {
              apiVersion: { type: 'string' },
              kind: { type: 'string' },
              metadata: { type: 'object' },
              status: { type: 'object', properties: { ready: { type: 'boolean' } } },
              spec: {
                type: 'object',
                required: ['mode'],
                'x-kubernetes-validations': [
                  { rule: "self.mode != 'Fast' || has(self.limit)", message: 'limit is required when mode is Fast' },
                  { rule: 'self.replicas <= 10', messageExpression: "'replicas ' + string(self.replicas) + ' is over 10'" },
                  { rule: "!has(self.owner) || self.owner.startsWith('team-')", fieldPath: '.owner', reason: 'FieldValueForbidden', message: 'owner must start with team-' },
                  { rule: 'self.mode == oldSelf.mode', message: 'mode is immutable' },
                ],
                properties: {
                  mode: { type: 'string', enum: ['Fast', 'Slow'] },
                  replicas: { type: 'integer', format: 'int32', default: 1, maximum: 100 },
                  limit: { 'x-kubernetes-int-or-string': true, pattern: '^[0-9]+%$' },
                  owner: { type: 'string', maxLength: 10, nullable: true },
                  comment: { type: 'string' },
                  since: { type: 'string', format: 'date-time' },
                  tags: { type: 'array', maxItems: 2, items: { type: 'string' }, 'x-kubernetes-list-type': 'set' },
                  labels: { type: 'object', maxProperties: 1, additionalProperties: { type: 'string' } },
                  ports: {
                    type: 'array',
                    'x-kubernetes-list-type': 'map',
                    'x-kubernetes-list-map-keys': ['name'],
                    items: { type: 'object', required: ['name'], properties: { name: { type: 'string' }, port: { type: 'integer' } } },
                  },
                  extra: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
                  checks: {
                    type: 'array',
                    items: { type: 'object', properties: { path: { type: 'string' } } },
                    'x-kubernetes-validations': [{ rule: "size(self) == 0 || has(self[0].path)", message: 'the first check needs a path' }],
                  },
                },
              },
            },
          },
        },
      },
    ],
  },
};

const widget = (spec: Record<string, unknown>, extra: Record<string, unknown> = {}): KubeObject => ({
  apiVersion: 'example.com/v1',
  kind: 'Widget',
  metadata: { name: 'w', namespace: 'default' },
  spec,
  ...extra,
});

const schemas = new CrdSchemas([CRD]);
const check = (obj: KubeObject) => {
  const r = schemas.check(obj)!;
  return { schema: r.schema.map((f) => `${f.path}: ${f.message}`), rules: r.rules.map((f) => `${f.path}: ${f.message}`) };
};

describe('CRD schemas (Kubernetes structural-schema semantics)', () => {
  it('accepts a valid object: defaults applied, nulls pruned, status dropped, preserve-unknown-fields, int-or-string, transition rules skipped on CREATE', () => {
    const r = schemas.check(
      widget({ mode: 'Slow', limit: 5, owner: null, extra: { anything: { goes: 1 } }, comment: null, since: '2026-01-02T03:04:05Z' }, { status: { ready: 'not a bool' } }),
    )!;
    expect(r.schema).toEqual([]);
    expect(r.rules).toEqual([]);
    expect(r.object.spec).toEqual({ mode: 'Slow', limit: 5, owner: null, replicas: 1, extra: { anything: { goes: 1 } }, since: '2026-01-02T03:04:05Z' });
    expect(r.object.status).toBeUndefined();
  });

  it('reports each schema rule kind as the API server words it', () => {
    expect(check(widget({ mode: 'Fast', limit: '50%', colour: 'red' })).schema).toEqual([
      'spec.colour: unknown field "spec.colour": not in the schema of Widget example.com/v1, so the API server rejects it (kubectl\'s default --validate=strict); remove it or check its spelling',
    ]);
    expect(check(widget({ mode: 'Medium' })).schema).toEqual(['spec.mode: Unsupported value: "Medium": supported values: "Fast", "Slow"']);
    expect(check(widget({})).schema).toEqual(['spec.mode: Required value']);
    expect(check(widget({ mode: 'Slow', replicas: 'two' })).schema).toEqual([
      'spec.replicas: Invalid value: "two": spec.replicas in body must be of type integer: "string"',
    ]);
    expect(check(widget({ mode: 'Slow', replicas: 3000000000 })).schema).toEqual([
      'spec.replicas: Invalid value: 3000000000: spec.replicas in body should be less than or equal to 100',
      'spec.replicas: Invalid value: 3000000000: spec.replicas in body must be of type int32: 3000000000',
    ]);
    expect(check(widget({ mode: 'Fast', limit: '50' })).schema).toEqual(['spec.limit: Invalid value: "50": spec.limit in body should match \'^[0-9]+%$\'']);
    expect(check(widget({ mode: 'Fast', limit: true })).schema).toEqual(['spec.limit: Invalid value: true: spec.limit in body must be of type integer or string: "boolean"']);
    expect(check(widget({ mode: 'Slow', owner: 'team-abcdefghij' })).schema).toEqual(['spec.owner: Too long: may not be more than 10 bytes']);
    expect(check(widget({ mode: 'Slow', tags: ['a', 'b', 'c'] })).schema).toEqual(['spec.tags: Too many: 3: must have at most 2 items']);
    expect(check(widget({ mode: 'Slow', tags: ['a', 'a'] })).schema).toEqual(['spec.tags[1]: Duplicate value: "a"']);
    expect(check(widget({ mode: 'Slow', labels: { a: 'x', b: 'y' } })).schema).toEqual(['spec.labels: Too many: 2: must have at most 1 items']);
    expect(check(widget({ mode: 'Slow', ports: [{ name: 'http', port: 80 }, { name: 'http', port: 81 }] })).schema).toEqual([
      'spec.ports[1]: Duplicate value: {"name":"http"}',
    ]);
    expect(check(widget({ mode: 'Slow', since: 'yesterday' })).schema).toEqual([
      'spec.since: Invalid value: "yesterday": spec.since in body must be of type date-time: "yesterday"',
    ]);
    expect(check({ ...widget({ mode: 'Slow' }), metadata: { namespace: 'default' } }).schema).toEqual(['metadata.name: Required value: name or generateName is required']);
    expect(check({ ...widget({ mode: 'Slow' }), apiVersion: 'example.com/v1alpha1' }).schema).toEqual([
      'apiVersion: no matches for kind "Widget" in version "example.com/v1alpha1": the CRD serves example.com/v1; use one of those',
    ]);
  });

  it('runs x-kubernetes-validations rules: message, messageExpression, reason, fieldPath, has() on an indexed element', () => {
    expect(check(widget({ mode: 'Fast', replicas: 11, owner: 'ops', checks: [{}] })).rules).toEqual([
      'spec.checks: Invalid value: "array": the first check needs a path',
      'spec: Invalid value: "object": limit is required when mode is Fast',
      'spec: Invalid value: "object": replicas 11 is over 10',
      'spec.owner: Forbidden: owner must start with team-',
    ]);
  });

  it('does not run the rules when a type or enum is wrong, and says so like the API server', () => {
    expect(check(widget({ mode: 'Medium', replicas: 11 })).rules).toEqual([
      ': Invalid value: "null": some validation rules were not checked because the object was invalid; correct the existing errors to complete validation',
    ]);
  });

  it('knows scope and kinds, and ignores objects of kinds no CRD defines', () => {
    expect(schemas.kinds()).toEqual(['example.com/Widget']);
    expect(schemas.namespaced('example.com', 'Widget')).toBe(true);
    expect(schemas.check({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x' } })).toBeUndefined();
  });

  it('rewrites has() on an indexed selection to a key test', () => {
    expect(rewriteIndexedHas("size(self.m) != 1 || !has(self.m[0].path) || has(self.a.b)")).toBe(
      "size(self.m) != 1 || !('path' in (self.m[0])) || has(self.a.b)",
    );
  });
});
