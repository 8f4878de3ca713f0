/**
 * What every end-to-end scenario shares: the rig's context (provided by global-setup.ts), kubectl, waiting for the
 * cluster to get somewhere, and a namespace of the scenario's own. A new scenario is one more `<name>.e2e.ts` file
 * here that imports this module.
 */
import { spawnSync } from 'node:child_process';
import { inject } from 'vitest';

export interface RigContext {
  /** The repository root. */
  root: string;
  /** The rig's state directory (RIG_DIR). */
  rigDir: string;
  /** kubeconfig of the rig's admin (system:masters). */
  adminKubeconfig: string;
  /** kubeconfig with the token of ServiceAccount aigw-admission/aigw-admission, bound to deploy/'s RBAC. */
  serviceAccountKubeconfig: string;
  /** https://127.0.0.1:PORT of the running `serve`. */
  webhookUrl: string;
  /** Its CA (the managed certificate's, mirrored into --tls-dir). */
  webhookCaPath: string;
  /** The JSON log lines `serve` writes. */
  serveLogPath: string;
  /** The config file `serve` runs with. */
  configPath: string;
  kubectl: string;
}

declare module 'vitest' {
  export interface ProvidedContext {
    rig: RigContext;
  }
}

export function rig(): RigContext {
  return inject('rig');
}

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** kubectl as the admin (or with `kubeconfig`), stdin from `input`. Never throws: the scenario asserts the outcome. */
export function kubectl(args: string[], opts: { input?: string; kubeconfig?: string } = {}): Run {
  const ctx = rig();
  const r = spawnSync(ctx.kubectl, ['--kubeconfig', opts.kubeconfig ?? ctx.adminKubeconfig, ...args], { input: opts.input, encoding: 'utf8', maxBuffer: 64 << 20 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** kubectl that must succeed; returns stdout. */
export function kubectlOk(args: string[], opts: { input?: string; kubeconfig?: string } = {}): string {
  const r = kubectl(args, opts);
  if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return r.stdout;
}

/** `kubectl get -o json`, parsed. */
export function getJson<T = Record<string, unknown>>(args: string[], kubeconfig?: string): T {
  return JSON.parse(kubectlOk(['get', ...args, '-o', 'json'], { kubeconfig })) as T;
}

/** The built CLI (dist/) as a process, as the admin unless `kubeconfig` is given. */
export function cli(args: string[], opts: { env?: Record<string, string> } = {}): Run {
  const ctx = rig();
  const r = spawnSync(process.execPath, [`${ctx.root}/dist/src/cli.js`, ...args], {
    cwd: ctx.root,
    encoding: 'utf8',
    env: { ...process.env, KUBECONFIG: ctx.adminKubeconfig, ...opts.env },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/**
 * Asks `probe` until it returns a value (not undefined), at most `seconds`; fails naming `what` and the last answer.
 * The cluster gets there asynchronously (the webhook's watch, its cert reconcile), so scenarios wait on the state
 * itself, never a fixed sleep.
 */
export async function waitFor<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, seconds = 60): Promise<T> {
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`waited ${seconds}s for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/**
 * A fresh namespace for one scenario (names are suffixed with the run's start so a rerun on kept etcd data never
 * meets the last run's objects), with the `default` ServiceAccount that pods need (no controller-manager here).
 */
export function scenarioNamespace(scenario: string): string {
  const ns = `e2e-${scenario}-${Date.now().toString(36)}`;
  kubectlOk(['create', 'namespace', ns]);
  kubectlOk(['-n', ns, 'create', 'serviceaccount', 'default']);
  return ns;
}

/** The JSON lines `serve` has logged so far. */
export async function serveLog(): Promise<Array<Record<string, unknown>>> {
  const { readFileSync } = await import('node:fs');
  return readFileSync(rig().serveLogPath, 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** An AIGatewayRoute as YAML-free JSON text (kubectl reads JSON). */
export function routeJson(namespace: string, name: string, rules: unknown[], gateway = 'ai-gateway'): string {
  return JSON.stringify({
    apiVersion: 'aigateway.envoyproxy.io/v1beta1',
    kind: 'AIGatewayRoute',
    metadata: { name, namespace },
    spec: { parentRefs: [{ name: gateway, kind: 'Gateway', group: 'gateway.networking.k8s.io' }], rules },
  });
}

/** The `Warning: …` lines kubectl printed (what the API server kept of every webhook's warnings). */
export function warningsOf(stderr: string): string[] {
  return stderr
    .split('\n')
    .filter((l) => l.startsWith('Warning: '))
    .map((l) => l.slice('Warning: '.length));
}
