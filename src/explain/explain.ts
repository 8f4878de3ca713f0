/**
 * `aigw-admission explain`: the fall-over plan of each AIGatewayRoute rule, as a timeline a person reads in seconds,
 * with the findings of the policies that explain where the chain breaks. The world is the given files or the cluster.
 */
import { evaluate, formatFinding } from '../review/review.js';
import type { PolicySet } from '../review/policy-set.js';
import type { Finding, KubeObject } from '../kube/types.js';
import { requestFor } from '../kube/request.js';
import { MemoryWorld, groupKindKey, type World } from '../world/world.js';
import { WORLD_KEYS } from '../model/kinds.js';
import { routeFallover, type Attempt, type RuleFallover } from '../model/fallover.js';
import { formatDuration as fmt } from '../model/duration.js';
import { refLabel, routesReachedBy } from '../model/btp.js';
import { silentLogger } from '../review/deps.js';
import { providerData } from '../../policies/provider-shared.js';
import { endpointText, repeatsProvider, routeProviders, type RuleProviders } from '../model/providers.js';

/** The provider endpoints one priority level reaches, when the world says. */
export interface LevelProvider {
  priority: number;
  /** Endpoints (`api.openai.com:443`) when every ref of the level resolved; else undefined. */
  endpoints: string[] | undefined;
  /** Why `endpoints` is missing: a ref that does not resolve, or the world holds no AIServiceBackend/Backend. */
  unresolved: 'unresolved' | 'unknown' | undefined;
  /** The priority of the level before, when every endpoint of this one is one that level already reaches. */
  repeats_priority: number | undefined;
}

export interface RuleExplanation extends Omit<RuleFallover, 'fallsOver'> {
  falls_over: boolean;
  providers: LevelProvider[];
  findings: Finding[];
}

export interface Explanation {
  routes: Array<{ namespace: string; name: string; rules: RuleExplanation[]; findings: Finding[] }>;
  /** BackendTrafficPolicies that reach no AIGatewayRoute, with their findings. */
  unattached: Array<{ namespace: string; name: string; findings: Finding[] }>;
}

function levelViews(rule: RuleProviders | undefined): LevelProvider[] {
  if (!rule) return [];
  return rule.levels.map((level, k) => ({
    priority: level.priority,
    endpoints: level.complete ? level.endpoints.map(endpointText) : undefined,
    unresolved: level.complete ? undefined : level.refs.some((r) => r.resolution.state === 'unresolved') ? 'unresolved' : 'unknown',
    repeats_priority: k > 0 && repeatsProvider(level, rule.levels[k - 1]!) ? rule.levels[k - 1]!.priority : undefined,
  }));
}

function review(obj: KubeObject, policies: PolicySet, world: World, now: Date): Finding[] {
  const verdict = evaluate(
    requestFor(obj, 'CREATE', { uid: 'explain' }),
    'validate',
    { policies, world, now: () => now, logger: silentLogger },
  );
  return verdict.findings;
}

/** Prints the model of each route and the policies' own findings; it judges nothing itself. */
export function explain(world: World, routes: KubeObject[], policies: PolicySet, now: Date): Explanation {
  const btps = world.list(WORLD_KEYS.backendTrafficPolicy);
  const data = providerData(world);
  const out: Explanation = { routes: [], unattached: [] };
  for (const route of routes) {
    const providers = routeProviders(route, data);
    const model = routeFallover(route, btps, providers);
    const findings = review(route, policies, world, now);
    const forRule = (i: number) => findings.filter((f) => f.path === `spec.rules[${i}]` || f.path.startsWith(`spec.rules[${i}].`));
    out.routes.push({
      namespace: model.namespace,
      name: model.name,
      rules: model.rules.map(({ fallsOver, ...m }) => ({ ...m, falls_over: fallsOver, providers: levelViews(providers[m.index]), findings: forRule(m.index) })),
      findings: findings.filter((f) => !/^spec\.rules\[\d+\]/.test(f.path)),
    });
  }
  const allRoutes = world.list(WORLD_KEYS.aiGatewayRoute);
  for (const btp of btps) {
    if (routesReachedBy(btp, allRoutes).length > 0) continue;
    out.unattached.push({ namespace: btp.metadata?.namespace ?? '', name: btp.metadata?.name ?? '', findings: review(btp, policies, world, now) });
  }
  return out;
}

/** The world of `explain -f`: exactly the objects in the files. */
export function worldOf(given: KubeObject[]): { world: MemoryWorld; routes: KubeObject[] } {
  // Every kind explain reads is namespaced: one without metadata.namespace goes to `default`, as kubectl (and check) send it.
  const known = new Set<string>(Object.values(WORLD_KEYS));
  const objects = given.map((o) =>
    o.metadata?.namespace || !known.has(groupKindKey(o.apiVersion ?? '', o.kind ?? '')) ? o : { ...o, metadata: { ...o.metadata, namespace: 'default' } },
  );
  const world = new MemoryWorld(objects);
  const routes = objects.filter((o) => groupKindKey(o.apiVersion!, o.kind!) === WORLD_KEYS.aiGatewayRoute);
  return { world, routes };
}

/** ` → api.openai.com:443`, marked when it is the provider the level before already reached. */
function providerText(p: LevelProvider | undefined): string {
  if (!p) return '';
  if (p.unresolved === 'unresolved') return ' → unresolved backend';
  if (!p.endpoints) return '';
  return ` → ${p.endpoints.join(', ')}${p.repeats_priority !== undefined ? ` (SAME provider as priority ${p.repeats_priority})` : ''}`;
}

function attemptLine(a: Attempt, providers: LevelProvider[]): string {
  const at = `attempt ${a.number}${a.number > 1 ? ` at ${fmt(a.startMs)}` : ''}`;
  const where = a.pickedByWeight
    ? `${at} → ${a.number === 1 ? 'the backend picked by weight' : 'the same backend as attempt 1'} (of ${a.backends.join(', ')})`
    : `${at} → priority ${a.priority} (${a.backends.join(', ')})${providerText(providers.find((p) => p.priority === a.priority))}`;
  const end =
    a.end.kind === 'idle-timeout'
      ? `idle timeout ${fmt(a.end.ms)} → reset`
      : a.end.kind === 'per-try-timeout'
        ? `per-try timeout ${fmt(a.end.ms)} → reset`
        : a.end.kind === 'route-timeout'
          ? `still silent at the route timeout ${fmt(a.end.atMs)}`
          : 'no timer';
  const next = a.next.retried
    ? `retried (trigger ${a.next.trigger}), back-off up to ${fmt(a.next.backOffMs)} (jittered)`
    : `stops: ${a.next.why}`;
  return `${where}, ${end} → ${next}`;
}

function retryLine(m: RuleExplanation): string {
  const r = m.retry;
  if (!r) return m.winner ? `none: BackendTrafficPolicy ${refLabel(m.winner)} (${m.winner.level}-level) applies but has no retry` : 'none: no BackendTrafficPolicy applies';
  const from = r.from.map((a) => `BackendTrafficPolicy ${refLabel(a)} (${a.level}-level${a.mergeType ? `, mergeType ${a.mergeType}` : ''})`).join(' merged into ');
  const parts = [
    `numRetries ${r.numRetries}`,
    r.previousPriorities ? `numAttemptsPerPriority ${r.previousPriorities.updateFrequency} (previous_priorities)` : `numAttemptsPerPriority ${r.numAttemptsPerPriority ?? 'unset'} (no previous_priorities: retries stay on the first priority)`,
    `retry_on ${r.retryOn.join(',')}${r.retryOnDefaulted ? " (Envoy Gateway's default)" : ''}`,
    `status codes ${r.statusCodes.length ? r.statusCodes.join(',') : 'none'}`,
  ];
  if (r.perTryTimeoutMs !== undefined) parts.push(`per-try timeout ${fmt(r.perTryTimeoutMs)}${r.perTryTimeoutDropped ? ' (dropped: not below the route timeout)' : ''}`);
  parts.push(`back-off jittered, base ${fmt(r.backOff.baseMs)}, max ${fmt(r.backOff.maxMs)}${r.backOff.defaulted ? " (Envoy's default)" : ''}`);
  return `${from}: ${parts.join(', ')}`;
}

export function renderText(e: Explanation): string {
  const lines: string[] = [];
  for (const route of e.routes) {
    lines.push(`AIGatewayRoute ${route.namespace}/${route.name}`);
    for (const f of route.findings) lines.push(`  ${f.mode}: ${formatFinding(f)}`);
    for (const m of route.rules) {
      lines.push(`  ${m.label}: ${m.verdict}`);
      lines.push(`    priorities: ${m.levels.map((l) => `${l.priority} (${l.backends.join(', ')})`).join(', ') || 'none'}`);
      lines.push(
        `    timeouts: route ${m.routeTimeout.ms ? fmt(m.routeTimeout.ms) : 'off'} (${m.routeTimeout.reason}), idle ${m.streamIdleMs !== undefined ? fmt(m.streamIdleMs) : 'unset'}`,
      );
      lines.push(`    retry: ${retryLine(m)}`);
      if (m.retry) lines.push(`    retried on: ${retriedOn(m)}`);
      if (m.levels.length > 1) lines.push(`    reach: ${m.reach.map(reachText).join('; ')}`);
      for (const c of m.conflicts) lines.push(`    conflict: ${c.map((a) => refLabel(a)).join(', ')} target the same ${c[0]!.level}; Envoy Gateway attaches one and marks the others Conflicted (this plan assumes ${refLabel(c[0]!)})`);
      for (const n of m.notes) lines.push(`    note: ${n}`);
      if (m.attempts.length > 0) {
        lines.push('    if every model stays silent:');
        m.attempts.forEach((a, i) => lines.push(`      ${i === 0 ? '' : '→ '}${attemptLine(a, m.providers)}`));
        if (m.routeTimeout.ms > 0) lines.push(`      … route timeout ${fmt(m.routeTimeout.ms)}`);
      }
      for (const f of m.findings) lines.push(`    ${f.mode}: ${formatFinding(f)}`);
    }
  }
  for (const b of e.unattached) {
    lines.push(`BackendTrafficPolicy ${b.namespace}/${b.name}: reaches no AIGatewayRoute`);
    for (const f of b.findings) lines.push(`  ${f.mode}: ${formatFinding(f)}`);
  }
  return `${lines.join('\n')}\n`;
}

function reachText(r: RuleFallover['reach'][number]): string {
  return r.attempt !== undefined ? `priority ${r.priority} on attempt ${r.attempt}` : `priority ${r.priority} never (${r.why})`;
}

function retriedOn(m: RuleExplanation): string {
  const r = m.retry!;
  const out: string[] = [];
  if (r.timeoutTrigger) out.push(`resets and idle/per-try timeouts before the response starts (${r.timeoutTrigger})`);
  if (r.retryOn.includes('connect-failure')) out.push('connection failures');
  if (r.retryOn.includes('refused-stream')) out.push('refused streams');
  if (r.statusCodesRetried.length) out.push(`HTTP ${r.statusCodesRetried.join(', ')}`);
  return out.length ? out.join(', ') : 'nothing';
}
