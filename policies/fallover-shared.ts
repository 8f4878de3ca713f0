/**
 * What the fall-over policies share: they judge AIGatewayRoute writes (looking up BackendTrafficPolicies) and
 * BackendTrafficPolicy writes (looking up the routes it reaches and the other policies), on one model
 * (src/model/fallover.ts), and word values the same way.
 */
import { NO_FINDINGS, definePolicy, type AnyPolicy, type KindMatch, type PolicyContext, type PolicyResult } from '../src/review/policy.js';
import type { FindingDraft, KubeObject, Operation } from '../src/kube/types.js';
import { AIGATEWAYROUTE, BACKENDTRAFFICPOLICY, WORLD_KEYS } from '../src/model/kinds.js';
import { btpNamespacesOf, btpRef, btpsWith as btpsAfter, refLabel, routeNamespaceOf, routesReachedBy, sameRef, type BtpRef } from '../src/model/btp.js';
import { routeFallover, type AttachedBtp, type EffectiveRetry, type PriorityLevel, type RouteFallover, type RuleFallover } from '../src/model/fallover.js';
import { formatDuration } from '../src/model/duration.js';
import type { World } from '../src/kube/types.js';
import { NO_PARAMS } from './helpers.js';
import { providersOf } from './provider-shared.js';

export const ON_ROUTE_AND_BTP_WRITES = {
  match: { kinds: [AIGATEWAYROUTE, BACKENDTRAFFICPOLICY] as KindMatch[], operations: ['CREATE', 'UPDATE'] as Operation[] },
  onError: 'allow-with-warning' as const,
  paramsSchema: NO_PARAMS,
  defaultParams: {},
};

/** One problem of one rule, worded without the rule's name (the runner adds it). */
export interface FalloverIssue {
  text: string;
  /** Where the fix goes in the BTP, for findings on a BackendTrafficPolicy write. */
  btpPath: string;
  /** Appended to `spec.rules[i]` for findings on an AIGatewayRoute write. */
  rulePath?: string;
  /** The BTPs this problem is about; a BTP write reports only the problems that name it. */
  btps: BtpRef[];
  mayResolveLater?: boolean;
}

export type RuleCheck = (rule: RuleFallover, route: RouteFallover) => FalloverIssue | undefined;

export const isRoute = (o: KubeObject | null): boolean => o?.kind === 'AIGatewayRoute';

/** The BTPs that can attach to `route` (its namespace and its Gateways'), as they will be once `incoming` is stored. */
export function btpsWith(world: World, incoming: KubeObject | null, route: KubeObject): KubeObject[] {
  const namespaces = btpNamespacesOf(route);
  // Nearly always one namespace (the route's, its Gateways' too): its list as it is, no flatMap.
  const listed = namespaces.length === 1 ? world.list(WORLD_KEYS.backendTrafficPolicy, namespaces[0]) : namespaces.flatMap((ns) => world.list(WORLD_KEYS.backendTrafficPolicy, ns));
  return btpsAfter(listed, incoming);
}

/** The AIGatewayRoutes a BTP write can reach, listed only where they can live (see `routeNamespaceOf`). */
export function routesOfBtp(world: World, btp: KubeObject): KubeObject[] {
  return routesReachedBy(btp, world.list(WORLD_KEYS.aiGatewayRoute, routeNamespaceOf(btp)));
}

/**
 * The fall-over model of a route against the world as it will be once the reviewed object is stored. The policies
 * read the same model of each route in one review: built once per route object (the world does not change within a
 * review).
 */
export function falloverOf(ctx: PolicyContext<unknown>, route: KubeObject): RouteFallover {
  return ctx.memo ? ctx.memo('routeFallover', route, buildFallover) : buildFallover(route, ctx);
}

const buildFallover = (route: KubeObject, ctx: PolicyContext<unknown>): RouteFallover =>
  routeFallover(route, btpsWith(ctx.world, ctx.object, route), providersOf(ctx, route));

/** Runs one rule check over the routes the reviewed object touches and turns its issues into findings. */
export function runRuleCheck(ctx: PolicyContext<unknown>, check: RuleCheck): readonly FindingDraft[] {
  const { object, world } = ctx;
  if (!object) return NO_FINDINGS;
  if (isRoute(object)) {
    // Made on the first issue: most rules of most routes have none.
    let findings: FindingDraft[] | undefined;
    const model = falloverOf(ctx, object);
    for (const rule of model.rules) {
      const issue = check(rule, model);
      if (!issue) continue;
      (findings ??= []).push({
        path: `spec.rules[${rule.index}]${issue.rulePath ?? ''}`,
        message: `${rule.label}: ${issue.text}`,
        ...(issue.mayResolveLater ? { atMost: 'warn' as const } : {}),
      });
    }
    return findings ?? NO_FINDINGS;
  }
  const findings: FindingDraft[] = [];
  const self = btpRef(object);
  for (const route of routesOfBtp(world, object)) {
    const model = falloverOf(ctx, route);
    for (const rule of model.rules) {
      const issue = check(rule, model);
      if (!issue || !issue.btps.some((b) => sameRef(b, self))) continue;
      findings.push({
        path: issue.btpPath,
        message: `AIGatewayRoute ${model.namespace}/${model.name} ${rule.label}: ${issue.text}`,
        ...(issue.mayResolveLater ? { atMost: 'warn' as const } : {}),
      });
    }
  }
  return findings;
}

export function falloverPolicy(def: { id: string; description: string; check: RuleCheck }): AnyPolicy {
  return definePolicy({
    id: def.id,
    description: def.description,
    endpoint: 'validate',
    ...ON_ROUTE_AND_BTP_WRITES,
    defaultMode: 'warn',
    evaluate: (ctx) => {
      const findings = runRuleCheck(ctx, def.check);
      return findings.length === 0 ? NOTHING_FOUND : { findings: findings as FindingDraft[] };
    },
    vap: { missing: 'fall-over', why: FALLOVER_VAP_MISSING },
  });
}

/** The result of a rule check that found nothing (nearly every one): shared, never changed. */
const NOTHING_FOUND: PolicyResult = Object.freeze({});

/** Why no fall-over policy has a ValidatingAdmissionPolicy form. */
export const FALLOVER_VAP_MISSING =
  "judges the route together with the BackendTrafficPolicies attached to it (and their merging), which a ValidatingAdmissionPolicy cannot see";

// ---- wording shared by the messages ----

export const fmt = formatDuration;

export function levelText(l: PriorityLevel): string {
  return `priority ${l.priority} (${l.backends.join(', ')})`;
}

export function btpText(a: AttachedBtp): string {
  const where =
    a.level === 'rule' ? `rule-level, ${a.target}` : a.level === 'route' ? `route-level, ${a.target}` : `Gateway-level, ${a.target}`;
  return `BackendTrafficPolicy ${refLabel(a)} (${where})`;
}

/** Where the retry came from; a merged retry names both policies. */
export function retryFromText(r: EffectiveRetry): string {
  if (r.from.length === 1) return btpText(r.from[0]!);
  return `${btpText(r.from[1]!)} merged (mergeType ${r.from[1]!.mergeType}) with ${btpText(r.from[0]!)}`;
}

/** The policy a fix goes to: the most specific one that supplied the retry. */
export function fixTarget(r: EffectiveRetry): AttachedBtp {
  return r.from[r.from.length - 1]!;
}

export function routeTimeoutText(m: RuleFallover): string {
  return `the route timeout ${fmt(m.routeTimeout.ms)} (${m.routeTimeout.reason})`;
}

export const RECOMMENDED_TRIGGERS = 'spec.retry.retryOn.triggers: [reset, connect-failure, retriable-status-codes] and httpStatusCodes: [502, 503, 504]';

export function recommendedRetry(m: RuleFallover): string {
  const napp = m.levels.length >= 2 ? 'numAttemptsPerPriority: 1, ' : '';
  return `retry: {numRetries: 2, ${napp}retryOn: {triggers: [reset, connect-failure, retriable-status-codes], httpStatusCodes: [502, 503, 504]}}`;
}

export const hasIdle = (m: RuleFallover): boolean => m.streamIdleMs !== undefined && m.streamIdleMs > 0;

/** What a retry policy retries at all, in words. */
export function retriedText(r: EffectiveRetry): string {
  const out: string[] = [];
  if (r.retryOn.includes('connect-failure')) out.push('connection failures');
  if (r.retryOn.includes('refused-stream')) out.push('refused streams');
  if (r.retryOn.includes('reset-before-request')) out.push('resets before the request was sent');
  if (r.statusCodesRetried.length) out.push(`HTTP ${r.statusCodesRetried.join(', ')}`);
  const grpc = r.retryOn.filter((t) => ['cancelled', 'deadline-exceeded', 'internal', 'resource-exhausted', 'unavailable'].includes(t));
  if (grpc.length) out.push(`gRPC status ${grpc.join(', ')}`);
  return out.length ? out.join(', ') : 'nothing';
}
