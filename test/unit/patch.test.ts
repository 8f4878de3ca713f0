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
});
