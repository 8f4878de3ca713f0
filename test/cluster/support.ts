import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FakeApiServer } from './fake-apiserver.js';
import { ROOT } from '../helpers.js';
import { runCli as runInProcess } from '../cli-run.js';
import { definePolicy } from '../../src/review/policy.js';
import { ENVOYPATCHPOLICY, WORLD_KEYS } from '../../src/model/kinds.js';
import type { Logger } from '../../src/review/deps.js';
import type { KubeObject } from '../../src/kube/types.js';

export const AIGW = 'aigateway.envoyproxy.io/v1beta1';
export const EG = 'gateway.envoyproxy.io/v1alpha1';
export const T0 = new Date('2026-11-23T12:00:00Z');
export const FAST_RETRY = { initialMs: 2, maxMs: 10 };

export interface LogLine {
  level: string;
  obj: Record<string, unknown>;
  msg?: string;
}
export function recordingLogger(): Logger & { lines: LogLine[]; events(name: string): LogLine[] } {
  const lines: LogLine[] = [];
  const at = (level: string) => (obj: object, msg?: string) => lines.push({ level, obj: obj as Record<string, unknown>, msg });
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), events: (name) => lines.filter((l) => l.obj.event === name) };
}

/** The CRDs of an AI Gateway install without Envoy Gateway's Backend CRD (so one kind answers 404). */
export function fakeCluster(): FakeApiServer {
  const fake = new FakeApiServer();
  fake.install(AIGW, 'aigatewayroutes', 'AIGatewayRoute');
  fake.install(AIGW, 'aiservicebackends', 'AIServiceBackend');
  fake.install(EG, 'envoypatchpolicies', 'EnvoyPatchPolicy');
  fake.install(EG, 'backendtrafficpolicies', 'BackendTrafficPolicy');
  // Core pods are always served (the cache watches Envoy Gateway's proxy pods when the background audit is on).
  fake.install('v1', 'pods', 'Pod');
  for (const ns of ['team-a', 'team-b', 'envoy-gateway-system']) fake.createNamespace(ns);
  return fake;
}

export const patchPolicy = (name: string, targetRouteName: string, namespace = 'team-a'): KubeObject => ({
  apiVersion: EG,
  kind: 'EnvoyPatchPolicy',
  metadata: { name, namespace },
  spec: { targetRouteName },
});

/** A policy that looks a route up in the world, reports a miss as a warning and a Warning Event. */
export const routeLookup = definePolicy({
  id: 'test-route-lookup',
  description: 'test: the referenced AIGatewayRoute exists',
  endpoint: 'validate',
  match: { kinds: [ENVOYPATCHPOLICY], operations: ['CREATE', 'UPDATE'] },
  defaultMode: 'warn',
  onError: 'deny',
  paramsSchema: { type: 'object' },
  defaultParams: {},
  evaluate({ object, world }) {
    const ns = object!.metadata!.namespace!;
    const name = (object!.spec as { targetRouteName: string }).targetRouteName;
    if (world.get(WORLD_KEYS.aiGatewayRoute, ns, name)) return {};
    const message = `no AIGatewayRoute ${ns}/${name}`;
    return { findings: [{ path: 'spec.targetRouteName', message }], events: [{ type: 'Warning', reason: 'RouteLookupMiss', message }] };
  },
});


/** A kubeconfig in `dir` pointing at a fake API server on 127.0.0.1 (plain HTTP, the token the fake expects). */
export function fakeKubeconfig(dir: string, port: number): string {
  const file = join(dir, 'kubeconfig');
  writeFileSync(
    file,
    [
      'apiVersion: v1',
      'kind: Config',
      `clusters: [{name: fake, cluster: {server: "http://127.0.0.1:${port}", insecure-skip-tls-verify: true}}]`,
      'users: [{name: fake, user: {token: test-token}}]',
      'contexts: [{name: fake, context: {cluster: fake, user: fake}}]',
      'current-context: fake',
      '',
    ].join('\n'),
  );
  return file;
}

/** The CLI in this process, with no KUBECONFIG unless given (`code` as a process would exit with). */
export async function runCli(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const r = await runInProcess(args, { env: { ...process.env, KUBECONFIG: '', ...env } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The built CLI as a process, asynchronously, so the fake API server in this process can answer it. */
export function spawnCli(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(ROOT, 'dist/src/cli.js'), ...args], { cwd: ROOT, env: { ...process.env, KUBECONFIG: '', ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}
