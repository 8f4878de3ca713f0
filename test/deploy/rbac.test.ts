/**
 * Least privilege, measured (issue 21): the API calls the code makes, as src/kube/registry.ts lists them, are exactly
 * what the rendered Role and ClusterRoles grant, both ways; and the calls the real modules make against the fake API
 * server are exactly the registry's, both ways.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { afterEach, describe, expect, it } from 'vitest';
import { KINDS, type Caller } from '../../src/kube/registry.js';
import { generatedRbacFiles } from '../../src/deploy/rbac.js';
import { ClusterWorld, CLUSTER_KINDS, PROXY_POD_KIND } from '../../src/world/cluster-world.js';
import { KubeEventSink } from '../../src/world/kube-events.js';
import { buildReports, kubeReportClient, writeReports } from '../../src/audit/policy-report.js';
import { silentLogger } from '../../src/review/deps.js';
import type { KubeObject } from '../../src/kube/types.js';
import { FakeApiServer } from '../cluster/fake-apiserver.js';
import { FAST_RETRY, T0, patchPolicy } from '../cluster/support.js';
import { proxyPod } from '../cluster/audit-support.js';
import { ROOT, route } from '../helpers.js';
import { ALL_POLICIES } from '../../policies/index.js';
import { FAILURE_POLICY_WHEN_READY, webhookConfiguration } from '../../src/deploy/webhook-rules.js';
import { FailurePolicyEnforcer } from '../../src/cluster/failure-policy.js';
import { kubeCertClient } from '../../src/cluster/kube-cert-client.js';
import { WebhookCertManager } from '../../src/cluster/webhook-certs.js';
import { schemaProblems } from './schemas.js';

/** `verb group/resource[/name]`: one thing RBAC allows or refuses. */
type Grant = string;
const grant = (verb: string, group: string, resource: string, name?: string): Grant => `${verb} ${group}/${resource}${name ? `/${name}` : ''}`;

/** What the registry says a caller does. */
function declared(caller: Caller, filter: (namespaced: boolean) => boolean = () => true): Grant[] {
  return KINDS.filter((k) => filter(k.namespaced))
    .flatMap((k) => k.uses.filter((u) => u.by === caller).flatMap((u) => u.verbs.flatMap((v) => (u.resourceNames ?? [undefined]).map((n) => grant(v, k.group, k.plural, n)))))
    .sort();
}

type Rule = { apiGroups: string[]; resources: string[]; resourceNames?: string[]; verbs: string[] };
function granted(rules: Rule[]): Grant[] {
  return rules
    .flatMap((r) => r.apiGroups.flatMap((g) => r.resources.flatMap((res) => r.verbs.flatMap((v) => (r.resourceNames ?? [undefined]).map((n) => grant(v, g, res, n))))))
    .sort();
}

const rendered = new Map<string, KubeObject[]>();
/** kubectl kustomize (seconds on a busy machine): once per directory. */
function render(dir: string): KubeObject[] {
  if (!rendered.has(dir)) rendered.set(dir, parseAllDocuments(execFileSync('kubectl', ['kustomize', join(ROOT, dir)], { encoding: 'utf8' })).map((d) => d.toJS() as KubeObject));
  return rendered.get(dir)!;
}
const rulesOf = (objs: KubeObject[], kind: string, name: string) => (objs.find((o) => o.kind === kind && o.metadata?.name === name) as unknown as { rules: Rule[] } | undefined)?.rules;

describe('deploy/: RBAC generated from the registry of kinds', () => {
  it('the checked-in RBAC is exactly what `npm run gen:deploy` writes', () => {
    for (const [file, content] of Object.entries(generatedRbacFiles())) {
      expect(readFileSync(join(ROOT, 'deploy', file), 'utf8'), `deploy/${file} is stale: run npm run gen:deploy`).toBe(content);
    }
  });

  it('the base grants the webhook path and --manage-certs exactly what the code calls, and no pods or reports', () => {
    const base = render('deploy');
    expect(granted(rulesOf(base, 'ClusterRole', 'aigw-admission')!)).toEqual([...new Set([...declared('webhook'), ...declared('manage-certs', (ns) => !ns)])].sort());
    expect(granted(rulesOf(base, 'Role', 'aigw-admission-certs')!)).toEqual(declared('manage-certs', (ns) => ns));
    expect(granted(rulesOf(base, 'ClusterRole', 'aigw-admission')!).filter((g) => / \/pods|policyreports/.test(g))).toEqual([]);
    expect(rulesOf(base, 'ClusterRole', 'aigw-admission-audit')).toBeUndefined();
    // The base's config keeps the background audit off: without pods it could not run.
    const config = parse((base.find((o) => o.kind === 'ConfigMap')!.data as Record<string, string>)['config.yaml']!);
    expect(config.audit).toEqual({ intervalSeconds: 0 });
  });

  it('the audit overlay adds the pods and PolicyReports the background audit calls, turns it on, and changes nothing else', () => {
    const base = render('deploy');
    const audited = render('deploy/overlays/audit');
    expect(granted(rulesOf(audited, 'ClusterRole', 'aigw-admission-audit')!)).toEqual(declared('background-audit'));
    expect(granted(rulesOf(audited, 'ClusterRole', 'aigw-admission-audit')!)).toEqual([
      'create wgpolicyk8s.io/policyreports',
      'get wgpolicyk8s.io/policyreports/aigw-admission',
      'list /pods',
      'list wgpolicyk8s.io/policyreports',
      'update wgpolicyk8s.io/policyreports/aigw-admission',
      'watch /pods',
    ]);
    const configOf = (objs: KubeObject[]) => parse((objs.find((o) => o.kind === 'ConfigMap')!.data as Record<string, string>)['config.yaml']!);
    expect(configOf(audited)).toEqual({ ...configOf(base), audit: { intervalSeconds: 600 } });
    const others = (objs: KubeObject[]) => objs.filter((o) => o.kind !== 'ConfigMap' && !String(o.metadata?.name).endsWith('-audit'));
    expect(others(audited)).toEqual(others(base));
    expect(audited.flatMap(schemaProblems)).toEqual([]);
  });

  it('no delete anywhere: reports are emptied in place, never deleted', () => {
    for (const dir of ['deploy', 'deploy/overlays/audit', 'deploy/overlays/cert-manager']) {
      const verbs = render(dir).flatMap((o) => ((o as unknown as { rules?: Rule[] }).rules ?? []).flatMap((r) => r.verbs));
      expect(verbs, dir).not.toContain('delete');
      expect(verbs, dir).not.toContain('*');
    }
  });
});

/** The RBAC check the API server would make for a recorded call. */
function grantOf(call: { method: string; path: string; query: Record<string, string> }): Grant {
  const m = /^\/(?:api\/v1|apis\/([^/]+)\/[^/]+)(?:\/namespaces\/[^/]+)?\/([^/]+)(?:\/([^/]+))?$/.exec(call.path);
  if (!m) throw new Error(`unexpected call ${call.method} ${call.path}`);
  const [, group = '', resource, name] = m;
  const verb =
    call.method === 'GET' ? (name ? 'get' : call.query.watch === 'true' ? 'watch' : 'list') : call.method === 'POST' ? 'create' : call.method === 'PUT' ? 'update' : call.method === 'PATCH' ? 'patch' : 'delete';
  return grant(verb, group, resource!, name);
}

let fake: FakeApiServer | undefined;
afterEach(async () => {
  await fake?.cut().catch(() => undefined);
  fake = undefined;
});

describe('the calls the code makes, measured on the fake API server', () => {
  async function everyKindInstalled(): Promise<FakeApiServer> {
    const f = new FakeApiServer();
    for (const k of KINDS.filter((x) => x.cached || x.key === 'wgpolicyk8s.io/PolicyReport')) f.install(k.group ? `${k.group}/${k.versions[0]}` : k.versions[0]!, k.plural, k.kind);
    await f.start();
    f.add(route([{ name: 'r0' }], 'chat', 'team-a'));
    f.add(patchPolicy('p', 'chat', 'team-a'));
    f.add(proxyPod('envoy-1'));
    // The two webhook configurations as deploy/ installs them (every entry Ignore until a replica is ready).
    f.install('admissionregistration.k8s.io/v1', 'validatingwebhookconfigurations', 'ValidatingWebhookConfiguration');
    f.install('admissionregistration.k8s.io/v1', 'mutatingwebhookconfigurations', 'MutatingWebhookConfiguration');
    f.add(webhookConfiguration(ALL_POLICIES, 'validate') as KubeObject);
    f.add(webhookConfiguration(ALL_POLICIES, 'mutate') as KubeObject);
    return f;
  }
  const measured = (f: FakeApiServer, from: number) => [...new Set(f.calls.slice(from).filter((c) => c.kind !== 'version').map(grantOf))].sort();

  it('the webhook path (cache, Events, raising the failurePolicy of its configurations) calls exactly what the registry lists for it', async () => {
    fake = await everyKindInstalled();
    const world = new ClusterWorld({ kubeConfig: fake.kubeConfig(), logger: silentLogger, now: () => T0, kinds: CLUSTER_KINDS, retry: FAST_RETRY });
    world.start();
    await fake.until(() => fake!.openWatches() === CLUSTER_KINDS.length);
    await world.stop();
    // A ready replica raises its webhook entries' failurePolicy (install safety), through the real cluster client.
    const enforcer = new FailurePolicyEnforcer({
      client: kubeCertClient(fake.kubeConfig()),
      webhooks: [
        { kind: 'ValidatingWebhookConfiguration', name: 'aigw-admission' },
        { kind: 'MutatingWebhookConfiguration', name: 'aigw-admission' },
      ],
      wanted: FAILURE_POLICY_WHEN_READY,
      ready: () => true,
      logger: silentLogger,
    });
    expect((await enforcer.reconcileOnce()).raised).toEqual([
      'ValidatingWebhookConfiguration/aigw-admission: gateway.validate.aigw-admission.io',
      'MutatingWebhookConfiguration/aigw-admission: pods.mutate.aigw-admission.io',
    ]);
    const sink = new KubeEventSink({ kubeConfig: fake.kubeConfig(), logger: silentLogger, now: () => T0, reportingInstance: 'test' });
    sink.emit({ apiVersion: 'gateway.envoyproxy.io/v1alpha1', kind: 'EnvoyPatchPolicy', namespace: 'team-a', name: 'p' }, { type: 'Warning', reason: 'Test', message: 'm' });
    await fake.until(() => fake!.createdEvents.length === 1);
    expect(measured(fake, 0)).toEqual(declared('webhook'));
  });

  it('the background audit (proxy pods, PolicyReports created then replaced) calls exactly what the registry lists for it', async () => {
    fake = await everyKindInstalled();
    const world = new ClusterWorld({ kubeConfig: fake.kubeConfig(), logger: silentLogger, now: () => T0, kinds: [PROXY_POD_KIND], retry: FAST_RETRY });
    world.start();
    await fake.until(() => fake!.openWatches() === 1);
    await world.stop();
    const client = kubeReportClient(fake.kubeConfig());
    const reports = () => buildReports([], [patchPolicy('p', 'chat', 'team-a')], T0);
    expect(await writeReports(client, reports())).toEqual({ created: ['team-a'], updated: [], emptied: [] });
    expect(await writeReports(client, reports())).toEqual({ created: [], updated: ['team-a'], emptied: [] });
    expect(measured(fake, 0)).toEqual(declared('background-audit'));
  });

  it('--manage-certs (the Secret created, read and rotated; the caBundle put in) calls exactly what the registry lists for it', async () => {
    fake = await everyKindInstalled();
    fake.install('v1', 'secrets', 'Secret');
    let now = Date.parse('2026-03-01T00:00:00Z');
    const manager = new WebhookCertManager({
      client: kubeCertClient(fake.kubeConfig()),
      namespace: 'aigw-admission',
      service: 'aigw-admission',
      secretName: 'aigw-admission-tls',
      webhooks: [
        { kind: 'ValidatingWebhookConfiguration', name: 'aigw-admission' },
        { kind: 'MutatingWebhookConfiguration', name: 'aigw-admission' },
      ],
      now: () => new Date(now),
      logger: silentLogger,
      validityDays: 90,
      propagationDelayMs: 120_000,
    });
    await manager.start(() => undefined);
    manager.stop();
    now += 61 * 24 * 3600_000; // past 2/3 of the lifetime: the next CA goes into the Secret
    await manager.reconcile();
    expect(fake.count('update', 'aigw-admission-tls')).toBeGreaterThan(0);
    expect(measured(fake, 0)).toEqual(declared('manage-certs'));
  });
});
