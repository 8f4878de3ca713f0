import { describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiServerClient } from './apiserver-client.js';
import { HAS_SHARED, ROOT, SHARED, readJson } from '../helpers.js';
import { certificateSans } from '../../src/tls/certs.js';
import type { AdmissionReviewRequest } from '../../src/kube/types.js';
import { runCli } from '../cli-run.js';

const CLI = join(ROOT, 'dist/src/cli.js');
/** A real process: exit codes, stdin. */
const spawnRun = (args: string[], input?: string) => spawnSync(process.execPath, [CLI, ...args], { cwd: ROOT, input, encoding: 'utf8' });
/** In process: what a verb prints. */
const run = (args: string[]) => runCli(args);

describe('aigw-admission review', () => {
  it('exits 1 on a denial and prints the response AdmissionReview', () => {
    const r = spawnRun(['review', '-f', 'test/fixtures/admission-reviews/aigatewayroute-stream-idle-too-long.json']);
    expect(r.status).toBe(1);
    const out = JSON.parse(r.stdout);
    expect(out.response.uid).toBe('7d1c2a90-0001-4f6e-9a51-3b2f1c0d0001');
    expect(out.response.allowed).toBe(false);
  });
  it('exits 0 when allowed (stdin)', () => {
    const r = spawnRun(['review', '--validate', '-f', '-'], readFileSync(join(ROOT, 'test/fixtures/admission-reviews/aigatewayroute-healthy.json'), 'utf8'));
    expect(r.status).toBe(0);
    const response = JSON.parse(r.stdout).response;
    expect([response.uid, response.allowed]).toEqual(['7d1c2a90-0002-4f6e-9a51-3b2f1c0d0002', true]);
    // `review -f` has no cluster: no BackendTrafficPolicy is known, so the route is warned that no retry applies (yet).
    expect(response.warnings.map((w: string) => w.slice(0, w.indexOf(': ')))).toEqual(['[fallover-retry-missing] spec.rules[0]']);
  });
  it('exits 2 on bad input with a message naming the problem', async () => {
    const r = spawnRun(['review', '-f', '-'], '{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}');
    expect(r.status).toBe(2);
    expect(r.stderr).toBe('aigw-admission: invalid AdmissionReview request field: request is missing, expected an object\n');
    expect((await run(['review', '-f', 'no-such.json'])).stderr).toBe('aigw-admission: invalid input file: no-such.json: no such file or directory\n');
  });
  it('exits 2 on an invalid config, naming the field', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'aigw-cfg-'));
    const cfg = join(dir, 'config.yaml');
    writeFileSync(cfg, 'policies:\n  stream-idle-zero:\n    mode: block\n  no-such-policy: {}\n');
    const r = await run(['review', '--config', cfg, '-f', 'test/fixtures/admission-reviews/aigatewayroute-healthy.json']);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(`invalid configuration: ${cfg}: `);
    expect(r.stderr).toContain('policies.stream-idle-zero.mode: must be one of deny, warn, audit');
    expect(r.stderr).toContain('policies.no-such-policy: unknown policy; known policies: duration-syntax,');
  });
});

describe('aigw-admission certs', () => {
  it('writes a CA and a serving cert for S.N.svc and prints the base64 CA bundle', async () => {
    const out = mkdtempSync(join(tmpdir(), 'aigw-certs-'));
    const r = await run(['certs', '--service', 'hook', '--namespace', 'infra', '--out', out, '--local']);
    expect(r.status).toBe(0);
    expect(Buffer.from(r.stdout.trim(), 'base64').toString('utf8')).toBe(readFileSync(join(out, 'ca.crt'), 'utf8'));
    expect(certificateSans(readFileSync(join(out, 'tls.crt'), 'utf8'))).toEqual([
      'hook', 'hook.infra', 'hook.infra.svc', 'hook.infra.svc.cluster.local', 'localhost', '127.0.0.1',
    ]);
  });
});

describe('aigw-admission serve --standalone (what npm start runs)', () => {
  it('answers a real kube-apiserver body over verified TLS and exits 0 on SIGTERM', async () => {
    const tlsDir = mkdtempSync(join(tmpdir(), 'aigw-serve-'));
    const child = spawn(process.execPath, [CLI, 'serve', '--standalone', '--listen', '127.0.0.1:0', '--tls-dir', tlsDir], { cwd: ROOT });
    let stderr = '';
    const port = await new Promise<number>((resolve, reject) => {
      child.stderr.on('data', (d: Buffer) => {
        stderr += d.toString();
        const m = /listening on https:\/\/127\.0\.0\.1:(\d+)/.exec(stderr);
        if (m) resolve(Number(m[1]));
      });
      child.on('exit', (code) => reject(new Error(`exited ${code}: ${stderr}`)));
    });
    expect(stderr).toContain(`CA certificate: ${join(tlsDir, 'ca.crt')}`);
    expect(stderr).toContain(`curl --cacert ${join(tlsDir, 'ca.crt')} -H 'Content-Type: application/json' --data @test/fixtures/admission-reviews/aigatewayroute-stream-idle-too-long.json https://127.0.0.1:${port}/validate`);
    const client = new ApiServerClient(port, readFileSync(join(tlsDir, 'ca.crt'), 'utf8'));
    const body = HAS_SHARED
      ? join(SHARED, 'fixtures/admission-reviews/aigatewayroute-example-stream-idle-timeout-create-validate.json')
      : join(ROOT, 'test/fixtures/admission-reviews/aigatewayroute-healthy.json');
    const input = readJson<AdmissionReviewRequest>(body);
    const { review } = await client.admit('/validate', input);
    // Standalone has no BackendTrafficPolicy to see: each rule with a streamIdleTimeout is warned that no retry applies (yet).
    const rules = (input.request.object!.spec as { rules: unknown[] }).rules;
    expect(review.response.allowed).toBe(true);
    expect(review.response.warnings!.map((w) => w.slice(0, w.indexOf(' ')))).toEqual(rules.map(() => '[fallover-retry-missing]'));
    client.close();
    const code = await new Promise<number | null>((resolve) => {
      child.on('exit', resolve);
      child.kill('SIGTERM');
    });
    expect(code).toBe(0);
  });
});

describe('aigw-admission inject', () => {
  const pod = 'test/fixtures/pods/envoy-proxy-pod.yaml';
  const routeFile = 'test/fixtures/pods/ai-gateway-route.yaml';

  it('--kubernetes-minor 33+ prints exactly the golden 1.33 pod; the Gateway is checked against the routes given', async () => {
    const r = await run(['inject', '-f', pod, '-f', routeFile, '--kubernetes-minor', '33+', '-o', 'json']);
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual(readJson(join(ROOT, 'test/golden/pods/envoy-proxy-pod.k8s-1.33.pod.json')));
    expect(r.stderr).toBe(
      `${pod}:3: Warning: [inject-extproc-sidecar] spec.initContainers: injected ai-gateway-extproc (docker.io/envoyproxy/ai-gateway-extproc:v1.1.0) as a native sidecar in spec.initContainers (Kubernetes 1.33) for Gateway team-a/ai-gateway (AIGatewayRoutes team-a/chat), with its filter config from Secret ai-gateway-team-a; every envoy container mounts the socket at /etc/ai-gateway-extproc-uds\n`,
    );
  });

  it('YAML by default; without routes or a version it says what it assumed; injecting its own output changes nothing', async () => {
    const r = await run(['inject', '-f', pod]);
    expect(r.status).toBe(0);
    expect(r.stderr.split('\n').slice(0, 2)).toEqual([
      "note: no AIGatewayRoute among the files: injecting without checking that one names the pod's Gateway in parentRefs (add the routes with -f to check)",
      'note: Kubernetes version not given: the sidecar goes into spec.containers; pass --kubernetes-minor 33 (or set kubernetesMinor in the config) for a native sidecar',
    ]);
    const second = spawnRun(['inject', '-f', '-', '-o', 'json'], r.stdout);
    expect(second.status).toBe(0);
    expect(second.stderr).toContain('<stdin>:1: not injected (already-injected): spec.containers already has ai-gateway-extproc\n');
    expect(JSON.parse(second.stdout)).toEqual(readJson(join(ROOT, 'test/golden/pods/envoy-proxy-pod.k8s-1.32.pod.json')));
  });

  it('exits 2 with file and line on bad input, and when no pod is given', async () => {
    const bad = spawnRun(['inject', '-f', '-'], 'apiVersion: v1\nkind: Pod\n---\nmetadata: name: x\n');
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/^aigw-admission: invalid input file: <stdin>:4: not valid YAML: /);
    const none = await run(['inject', '-f', routeFile]);
    expect(none.status).toBe(2);
    expect(none.stderr).toBe(`aigw-admission: invalid input file: ${routeFile}: no Pod or workload with a pod template (Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, CronJob) found\n`);
    const minor = await run(['inject', '-f', pod, '--kubernetes-minor', 'latest']);
    expect(minor.status).toBe(2);
    expect(minor.stderr).toBe('aigw-admission: invalid flag: --kubernetes-minor latest: expected the minor version, e.g. 32, 33 or 33+\n');
  });
});

describe('aigw-admission serve without --standalone', () => {
  const runEnv = (args: string[], env: NodeJS.ProcessEnv) => runCli(args, { env: { PATH: process.env.PATH, ...env } });
  it('refuses to start without a cluster instead of falling back to http://localhost:8080, and names an unreadable kubeconfig', async () => {
    const none = await runEnv(['serve', '--listen', '127.0.0.1:0'], { HOME: mkdtempSync(join(tmpdir(), 'aigw-home-')) });
    expect(none.status).toBe(2);
    expect(none.stderr).toBe(
      'aigw-admission: invalid configuration: no Kubernetes cluster found: pass --kubeconfig FILE, set KUBECONFIG, or run in a pod; use --standalone to run without a cluster\n',
    );
    const missing = await runEnv(['serve', '--kubeconfig', '/no/such/kubeconfig'], {});
    expect(missing.status).toBe(2);
    expect(missing.stderr).toBe('aigw-admission: invalid configuration: --kubeconfig /no/such/kubeconfig: cannot be read: no such file or directory\n');
  });
});
