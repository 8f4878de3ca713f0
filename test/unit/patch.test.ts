import { describe, expect, it } from 'vitest';
import { apply_patch } from 'jsonpatch';
import { PatchBuilder, pointer } from '../../src/review/patch.js';

describe('PatchBuilder', () => {
  it('escapes ~ and / in pointer tokens', () => {
    expect(pointer(['metadata', 'annotations', 'aigw-admission.io/inject~x'])).toBe('/metadata/annotations/aigw-admission.io~1inject~0x');
  });

  it('creates missing parents once, appends with /-, and the patch applies to the expected object', () => {
    const pod = { metadata: { name: 'p' }, spec: { containers: [{ name: 'envoy' }] } };
    const created = new Set<string>();
    const a = new PatchBuilder(pod, created);
    a.set(['metadata', 'annotations', 'example.io/one'], '1');
    a.append(['spec', 'containers'], { name: 'sidecar' });
    a.append(['spec', 'initContainers'], { name: 'init' });
    a.commit();
    const b = new PatchBuilder(pod, created);
    b.set(['metadata', 'annotations', 'example.io/two'], '2');
    b.set(['metadata', 'name'], 'q');
    const ops = [...a.ops, ...b.ops];
    expect(ops).toEqual([
      { op: 'add', path: '/metadata/annotations', value: {} },
      { op: 'add', path: '/metadata/annotations/example.io~1one', value: '1' },
      { op: 'add', path: '/spec/containers/-', value: { name: 'sidecar' } },
      { op: 'add', path: '/spec/initContainers', value: [{ name: 'init' }] },
      { op: 'add', path: '/metadata/annotations/example.io~1two', value: '2' },
      { op: 'replace', path: '/metadata/name', value: 'q' },
    ]);
    expect(apply_patch(structuredClone(pod), ops)).toEqual({
      metadata: { name: 'q', annotations: { 'example.io/one': '1', 'example.io/two': '2' } },
      spec: { containers: [{ name: 'envoy' }, { name: 'sidecar' }], initContainers: [{ name: 'init' }] },
    });
  });

  it('creates every missing level on the way down once, under array indices and escaped keys, and no parent twice across builders', () => {
    const route = { spec: { rules: [{ name: 'a' }, { name: 'b', timeouts: {} }] } };
    const created = new Set<string>();
    const a = new PatchBuilder(route, created);
    a.set(['spec', 'rules', 0, 'timeouts', 'request'], '60s');
    a.set(['spec', 'rules', 1, 'timeouts', 'request'], '60s');
    a.set(['metadata', 'labels', 'a/b~c', 'deep'], 'x');
    a.commit();
    const b = new PatchBuilder(route, created);
    b.set(['spec', 'rules', 0, 'timeouts', 'idle'], '5s');
    b.set(['metadata', 'labels', 'a/b~c', 'other'], 'y');
    const ops = [...a.ops, ...b.ops];
    expect(ops).toEqual([
      { op: 'add', path: '/spec/rules/0/timeouts', value: {} },
      { op: 'add', path: '/spec/rules/0/timeouts/request', value: '60s' },
      { op: 'add', path: '/spec/rules/1/timeouts/request', value: '60s' },
      { op: 'add', path: '/metadata', value: {} },
      { op: 'add', path: '/metadata/labels', value: {} },
      { op: 'add', path: '/metadata/labels/a~1b~0c', value: {} },
      { op: 'add', path: '/metadata/labels/a~1b~0c/deep', value: 'x' },
      { op: 'add', path: '/spec/rules/0/timeouts/idle', value: '5s' },
      { op: 'add', path: '/metadata/labels/a~1b~0c/other', value: 'y' },
    ]);
    expect(apply_patch(structuredClone(route), ops)).toEqual({
      metadata: { labels: { 'a/b~c': { deep: 'x', other: 'y' } } },
      spec: { rules: [{ name: 'a', timeouts: { request: '60s', idle: '5s' } }, { name: 'b', timeouts: { request: '60s' } }] },
    });
  });
});
