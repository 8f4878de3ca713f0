/**
 * `npm run e2e`, once for all scenarios: a real kube-apiserver and etcd on loopback (../shared/rig), the CRDs, deploy/'s
 * RBAC and webhook configurations (registered by URL, caBundle left to `serve`), and `serve` itself, running as the
 * ServiceAccount deploy/ binds, with managed certificates. Teardown stops `serve` and the rig (down.sh --purge), also
 * when setup fails half-way.
 *
 * Environment (all optional): RIG_KUBE_APISERVER (the binary; else ../shared/rig/bin/kube-apiserver),
 * AIGW_E2E_RIG_DIR (default /tmp/aigw-e2e-rig), AIGW_E2E_APISERVER_PORT (26443), AIGW_E2E_ETCD_PORT (26379),
 * AIGW_E2E_ETCD_PEER_PORT (26380), AIGW_E2E_WEBHOOK_PORT (26444).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { request } from 'node:https';
import { parseAllDocuments, parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import type { TestProject } from 'vitest/node';
import type { RigContext } from './rig.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const SHARED = resolve(ROOT, '../shared');
const RIG = join(SHARED, 'rig');
const KUBECTL = existsSync('/usr/bin/kubectl') ? '/usr/bin/kubectl' : 'kubectl';

const env = process.env;
const RIG_DIR = env.AIGW_E2E_RIG_DIR ?? '/tmp/aigw-e2e-rig';
const APISERVER_PORT = env.AIGW_E2E_APISERVER_PORT ?? '26443';
const WEBHOOK_PORT = env.AIGW_E2E_WEBHOOK_PORT ?? '26444';
const rigEnv = {
  ...env,
  RIG_DIR,
  RIG_APISERVER_PORT: APISERVER_PORT,
  RIG_ETCD_PORT: env.AIGW_E2E_ETCD_PORT ?? '26379',
  RIG_ETCD_PEER_PORT: env.AIGW_E2E_ETCD_PEER_PORT ?? '26380',
};

/** The steps to get what is missing: printed instead of skipping. */
function missing(what: string): Error {
  return new Error(
    [
      `npm run e2e needs ${what}.`,
      'It runs a real kube-apiserver (v1.32) and etcd on 127.0.0.1 with ../shared/rig (see ../shared/rig/README.md):',
      '  1. have ../shared/rig next to this clone (the repository of the project workspace, shared/rig/);',
      '  2. build the API server once per machine (12-28 min cold, seconds with a warm Go build cache):',
      '       ../shared/rig/build-apiserver.sh MICROSHIFT_GIT_DIR /opt/rig-bin   # a bare git snapshot of openshift/microshift',
      '  3. point the suite at it (or leave it in ../shared/rig/bin/kube-apiserver):',
      '       export RIG_KUBE_APISERVER=/opt/rig-bin/kube-apiserver',
      '  4. kubectl 1.32 at /usr/bin/kubectl; up.sh installs Debian\'s etcd-server with apt when it is missing.',
      'Then: npm run e2e',
    ].join('\n'),
  );
}

function apiServerBinary(): string {
  if (!existsSync(RIG)) throw missing(`the rig scripts in ${RIG}`);
  const candidates = [env.RIG_KUBE_APISERVER, join(RIG, 'bin/kube-apiserver')].filter((p): p is string => Boolean(p));
  const found = candidates.find((p) => existsSync(p));
  if (!found) throw missing(`a kube-apiserver binary (looked at ${candidates.join(', ')})`);
  return found;
}

function run(cmd: string, args: string[], opts: { input?: string; env?: NodeJS.ProcessEnv; kubeconfig?: string } = {}): string {
  const full = cmd === KUBECTL && opts.kubeconfig ? ['--kubeconfig', opts.kubeconfig, ...args] : args;
  const r = spawnSync(cmd, full, { input: opts.input, encoding: 'utf8', env: opts.env ?? env, maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`${cmd} ${full.join(' ')} exited ${r.status}:\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

function httpsStatus(url: string, ca: string): Promise<number> {
  return new Promise((resolvePromise) => {
    // No keep-alive agent: a pooled socket would outlive the run and hold vitest open at exit.
    const req = request(url, { ca, timeout: 5000, agent: false }, (res) => {
      res.resume();
      resolvePromise(res.statusCode ?? 0);
    });
    req.on('error', () => resolvePromise(0));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

async function until(what: string, probe: () => boolean | Promise<boolean>, seconds: number): Promise<void> {
  const deadline = Date.now() + seconds * 1000;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`e2e setup: waited ${seconds}s for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** The CRDs the webhook caches and judges, from ../shared/fixtures (real upstream files). */
const CRD_FILES = [
  'ai-gateway/aigateway.envoyproxy.io_aigatewayroutes.yaml',
  'ai-gateway/aigateway.envoyproxy.io_aiservicebackends.yaml',
  'envoy-gateway/gateway.envoyproxy.io_envoypatchpolicies.yaml',
  'envoy-gateway/gateway.envoyproxy.io_backendtrafficpolicies.yaml',
  'envoy-gateway/gateway.envoyproxy.io_backends.yaml',
  'envoy-gateway/gateway.networking.k8s.io_httproutes.standard.yaml',
];

/** deploy/ as a user would render it, minus what needs a kubelet; the webhooks point at the local `serve` by URL. */
function deployObjects(webhookUrl: string): Array<Record<string, any>> {
  const rendered = parseAllDocuments(run(KUBECTL, ['kustomize', join(ROOT, 'deploy')])).map((d) => d.toJS() as Record<string, any>);
  const wanted = new Set(['Namespace', 'ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding', 'ValidatingWebhookConfiguration', 'MutatingWebhookConfiguration']);
  return rendered
    .filter((o) => wanted.has(o.kind))
    .map((o) => {
      if (!o.kind.endsWith('WebhookConfiguration')) return o;
      for (const w of o.webhooks) w.clientConfig = { url: `${webhookUrl}${w.clientConfig.service.path}` };
      return o;
    });
}

let serve: ChildProcess | undefined;
let serveLogFd: number | undefined;
let rigStarted = false;

async function teardown(): Promise<void> {
  if (serve && serve.exitCode === null) {
    const exited = new Promise((r) => serve!.once('exit', r));
    serve.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([exited, new Promise((r) => (timer = setTimeout(r, 15_000)))]);
    // Cleared, or the pending timer holds vitest open for its 15 s after a clean exit.
    clearTimeout(timer);
    if (serve.exitCode === null) serve.kill('SIGKILL');
  }
  serve = undefined;
  if (serveLogFd !== undefined) closeSync(serveLogFd);
  serveLogFd = undefined;
  if (rigStarted) {
    spawnSync(join(RIG, 'down.sh'), ['--purge'], { env: rigEnv, stdio: 'inherit' });
    rigStarted = false;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const binary = apiServerBinary();
  if (!existsSync(join(ROOT, 'dist/src/cli.js'))) throw new Error('dist/ is missing: run `npm run e2e` (it builds first), not vitest directly');
  const work = join(RIG_DIR, 'aigw-e2e');
  try {
    // A fresh cluster each run: stop a rig a crashed run left behind (its recorded pids only), wipe its etcd data.
    spawnSync(join(RIG, 'down.sh'), ['--purge'], { env: rigEnv, stdio: 'ignore' });
    rigStarted = true;
    run(join(RIG, 'up.sh'), [], { env: { ...rigEnv, RIG_KUBE_APISERVER: binary } });
    const admin = join(RIG_DIR, 'kubeconfig');
    mkdirSync(work, { recursive: true });

    const crds = CRD_FILES.map((f) => join(SHARED, 'fixtures/crds', f));
    for (const f of crds) if (!existsSync(f)) throw missing(`the upstream CRD ${f} (../shared/fixtures/crds)`);
    run(KUBECTL, ['apply', '--server-side', ...crds.flatMap((f) => ['-f', f])], { kubeconfig: admin });
    // The optional overlay this project ships: the report CRDs.
    run(KUBECTL, ['apply', '--server-side', '-k', join(ROOT, 'deploy/overlays/report-crds')], { kubeconfig: admin });
    run(KUBECTL, ['wait', '--for', 'condition=Established', '--timeout=120s', 'crd', '--all'], { kubeconfig: admin });

    const webhookUrl = `https://127.0.0.1:${WEBHOOK_PORT}`;
    const objects = deployObjects(webhookUrl);
    run(KUBECTL, ['apply', '-f', '-'], { kubeconfig: admin, input: objects.map((o) => JSON.stringify(o)).join('\n') });
    writeFileSync(join(work, 'webhook-configurations.json'), JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects.filter((o) => o.kind.endsWith('WebhookConfiguration')) }));

    // serve runs as the ServiceAccount deploy/ binds: every call it makes goes through that RBAC.
    const token = run(KUBECTL, ['-n', 'aigw-admission', 'create', 'token', 'aigw-admission', '--duration=2h'], { kubeconfig: admin }).trim();
    const saKubeconfig = join(work, 'serviceaccount.kubeconfig');
    writeFileSync(
      saKubeconfig,
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name: 'rig', cluster: { server: `https://127.0.0.1:${APISERVER_PORT}`, 'certificate-authority': join(RIG_DIR, 'pki/ca.crt') } }],
        users: [{ name: 'aigw-admission', user: { token } }],
        contexts: [{ name: 'aigw-admission', context: { cluster: 'rig', user: 'aigw-admission', namespace: 'aigw-admission' } }],
        'current-context': 'aigw-admission',
      }),
    );
    const configPath = join(work, 'config.yaml');
    // deploy/'s policy configuration, plus: no background audit (the reports scenario drives `audit` itself).
    const shipped = parseAllDocuments(readFileSync(join(ROOT, 'deploy/base/config.yaml'), 'utf8'))[0]!.toJS() as { data: { 'config.yaml': string } };
    // The shipped config, with the background audit off (the scenarios run audits themselves).
    const config = parseYaml(shipped.data['config.yaml']) as Record<string, unknown>;
    writeFileSync(configPath, stringifyYaml({ ...config, audit: { ...(config.audit as object | undefined), intervalSeconds: 0 } }));

    const serveLogPath = join(work, 'serve.log');
    const tlsDir = join(work, 'certs');
    const log = (serveLogFd = openSync(serveLogPath, 'w'));
    serve = spawn(
      process.execPath,
      [
        join(ROOT, 'dist/src/cli.js'),
        'serve',
        '--kubeconfig',
        saKubeconfig,
        '--listen',
        `127.0.0.1:${WEBHOOK_PORT}`,
        '--namespace',
        'aigw-admission',
        '--tls-dir',
        tlsDir,
        '--config',
        configPath,
        '--cert-check-interval',
        '2',
        '--shutdown-delay',
        '0',
      ],
      { cwd: ROOT, env: { ...env, POD_NAME: 'aigw-admission-e2e' }, stdio: ['ignore', log, log] },
    );
    const caPath = join(tlsDir, 'ca.crt');
    await until('serve to answer /readyz with 200', async () => {
      if (serve!.exitCode !== null) throw new Error(`serve exited ${serve!.exitCode}:\n${readFileSync(serveLogPath, 'utf8')}`);
      return existsSync(caPath) && (await httpsStatus(`${webhookUrl}/readyz`, readFileSync(caPath, 'utf8'))) === 200;
    }, 120);
    const webhookCount = objects.filter((o) => o.kind.endsWith('WebhookConfiguration')).reduce((n, o) => n + o.webhooks.length, 0);
    await until('serve to put its CA into every webhook of both configurations', () => {
      const out = run(KUBECTL, ['get', 'validatingwebhookconfiguration,mutatingwebhookconfiguration', 'aigw-admission', '-o', 'jsonpath={.items[*].webhooks[*].clientConfig.caBundle}'], { kubeconfig: admin });
      return out.trim().split(/\s+/).filter(Boolean).length === webhookCount;
    }, 60);
    // The API server picks up changed webhook configurations within a second or two: wait until it calls ours.
    const probeNs = 'default';
    const probe = JSON.stringify({
      apiVersion: 'aigateway.envoyproxy.io/v1beta1',
      kind: 'AIGatewayRoute',
      metadata: { name: 'e2e-probe', namespace: probeNs },
      spec: { parentRefs: [{ name: 'ai-gateway', kind: 'Gateway', group: 'gateway.networking.k8s.io' }], rules: [{ backendRefs: [{ name: 'openai' }] }] },
    });
    await until('the API server to call the webhook', () => {
      const r = spawnSync(KUBECTL, ['--kubeconfig', admin, 'apply', '--dry-run=server', '-f', '-'], { input: probe, encoding: 'utf8' });
      return r.status === 0 && r.stderr.includes('[defaults] wrote timeouts.request');
    }, 60);

    const ctx: RigContext = {
      root: ROOT,
      rigDir: RIG_DIR,
      adminKubeconfig: admin,
      serviceAccountKubeconfig: saKubeconfig,
      webhookUrl,
      webhookCaPath: caPath,
      serveLogPath,
      configPath,
      kubectl: KUBECTL,
    };
    project.provide('rig', ctx);
  } catch (err) {
    await teardown();
    throw err;
  }
  return teardown;
}
