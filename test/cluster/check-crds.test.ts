/** `check` without --crds reads the installed CRDs from the cluster, so the schema matches the installed AI Gateway. */
import { afterEach, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../helpers.js';
import { FakeApiServer } from './fake-apiserver.js';

const CLI = join(ROOT, 'dist/src/cli.js');
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

function run(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: ROOT, env: { ...process.env, KUBECONFIG: '', ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('aigw-admission check with a cluster', () => {
  it('validates against the CRDs the cluster serves when no --crds is given; --offline never asks', async () => {
    fake = new FakeApiServer();
    fake.install('apiextensions.k8s.io/v1', 'customresourcedefinitions', 'CustomResourceDefinition');
    await fake.start();
    fake.add(CRD);
    const dir = mkdtempSync(join(tmpdir(), 'aigw-check-crds-'));
    const kubeconfig = join(dir, 'kubeconfig');
    writeFileSync(
      kubeconfig,
      `apiVersion: v1\nkind: Config\nclusters: [{name: fake, cluster: {server: "http://127.0.0.1:${fake.port}", insecure-skip-tls-verify: true}}]\nusers: [{name: fake, user: {token: test-token}}]\ncontexts: [{name: fake, context: {cluster: fake, user: fake}}]\ncurrent-context: fake\n`,
    );
    const manifest = join(dir, 'route.yaml');
    writeFileSync(manifest, 'apiVersion: aigateway.envoyproxy.io/v1beta1\nkind: AIGatewayRoute\nmetadata: {name: chat, namespace: team-a}\nspec:\n  rules: [{name: a}, {name: b}]\n');

    const r = await run(['check', '--kubeconfig', kubeconfig, '-f', manifest, '-o', 'json'], {});
    expect(r.stderr).toBe(`note: 1 CRDs read from the cluster at http://127.0.0.1:${fake.port}\n`);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout)).toEqual([
      {
        policy: 'crd-schema',
        mode: 'deny',
        resource: { apiVersion: 'aigateway.envoyproxy.io/v1beta1', kind: 'AIGatewayRoute', namespace: 'team-a', name: 'chat' },
        path: 'spec.rules',
        message: 'Too many: 2: must have at most 1 items',
      },
    ]);
    expect(fake.count('list', 'customresourcedefinitions')).toBe(1);

    const offline = await run(['check', '--offline', '--kubeconfig', kubeconfig, '-f', manifest, '-o', 'json'], {});
    expect(offline.code).toBe(0);
    expect(fake.count('list', 'customresourcedefinitions')).toBe(1);
  });
});
