/** `check` without --crds reads the installed CRDs from the cluster, so the schema matches the installed AI Gateway. */
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeApiServer } from './fake-apiserver.js';
import { fakeKubeconfig, runCli } from './support.js';

let fake: FakeApiServer | undefined;
afterEach(async () => {
  await fake?.cut().catch(() => undefined);
  fake = undefined;
});

const CRD = {
  apiVersion: 'apiextensions.k8s.io/v1',
  kind: 'CustomResourceDefinition',
  metadata: { name: 'aigatewayroutes.aigateway.envoyproxy.io' },
  spec: {
    group: 'aigateway.envoyproxy.io',
    names: { kind: 'AIGatewayRoute', plural: 'aigatewayroutes', singular: 'aigatewayroute', listKind: 'AIGatewayRouteList' },
    scope: 'Namespaced',
    versions: [
      {
        name: 'v1beta1',
        served: true,
        storage: true,
        schema: {
          openAPIV3Schema: {
            type: 'object',
            properties: {
              apiVersion: { type: 'string' },
              kind: { type: 'string' },
              metadata: { type: 'object' },
              spec: { type: 'object', properties: { rules: { type: 'array', maxItems: 1, items: { type: 'object', properties: { name: { type: 'string' } } } } } },
            },
          },
        },
      },
    ],
  },
};

describe('aigw-admission check with a cluster', () => {
  it('validates against the CRDs the cluster serves when no --crds is given; --offline never asks', async () => {
    fake = new FakeApiServer();
    fake.install('apiextensions.k8s.io/v1', 'customresourcedefinitions', 'CustomResourceDefinition');
    await fake.start();
    fake.add(CRD);
    const dir = mkdtempSync(join(tmpdir(), 'aigw-check-crds-'));
    const kubeconfig = fakeKubeconfig(dir, fake.port);
    const manifest = join(dir, 'route.yaml');
    writeFileSync(manifest, 'apiVersion: aigateway.envoyproxy.io/v1beta1\nkind: AIGatewayRoute\nmetadata: {name: chat, namespace: team-a}\nspec:\n  rules: [{name: a}, {name: b}]\n');

    const r = await runCli(['check', '--kubeconfig', kubeconfig, '-f', manifest, '-o', 'json']);
    expect(r.stderr).toBe(`note: 1 CRDs read from the cluster at http://127.0.0.1:${fake.port}\n`);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout)).toEqual([
      {
        policy: 'crd-schema',
        mode: 'deny',
        resource: { apiVersion: 'aigateway.envoyproxy.io/v1beta1', kind: 'AIGatewayRoute', namespace: 'team-a', name: 'chat' },
        path: 'spec.rules',
        message: 'Too many: 2: must have at most 1 items',
        source: { file: manifest, line: 1, document: 0 },
      },
    ]);
    expect(fake.count('list', 'customresourcedefinitions')).toBe(1);

    const offline = await runCli(['check', '--offline', '--kubeconfig', kubeconfig, '-f', manifest, '-o', 'json']);
    expect(offline.code).toBe(0);
    expect(fake.count('list', 'customresourcedefinitions')).toBe(1);
  });
});
