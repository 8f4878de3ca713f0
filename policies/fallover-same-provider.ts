import { definePolicy } from '../src/review/policy.js';
import type { FindingDraft } from '../src/kube/types.js';
import { endpointKey, endpointText, repeatsProvider, type ProviderLevel } from '../src/model/providers.js';
import type { RuleFallover } from '../src/model/fallover.js';
import { ON_AIGATEWAYROUTE_WRITES } from './helpers.js';
import { FALLOVER_VAP_MISSING, falloverOf, fmt, isRoute } from './fallover-shared.js';
import { providerLevelText, providersOf } from './provider-shared.js';

/** What one level of fall-over costs when the provider is down and silent: the timer that ends each attempt there. */
function costPerLevel(m: RuleFallover | undefined): string {
  if (!m) return 'another attempt';
  const r = m.retry;
  const n = r?.previousPriorities?.updateFrequency ?? 1;
  const idle = m.streamIdleMs !== undefined && m.streamIdleMs > 0 ? m.streamIdleMs : undefined;
  const perTry = r && !r.perTryTimeoutDropped ? r.perTryTimeoutMs : undefined;
  const timers = [idle !== undefined ? { ms: idle, name: 'streamIdleTimeout' } : undefined, perTry !== undefined ? { ms: perTry, name: 'perRetry.timeout' } : undefined]
    .filter((t): t is { ms: number; name: string } => t !== undefined)
    .sort((a, b) => a.ms - b.ms);
  const t = timers[0];
  if (!t) return `the rest of the route timeout${m.routeTimeout.ms ? ` ${fmt(m.routeTimeout.ms)}` : ''} (no idle or per-try timer ends a silent attempt)`;
  return n > 1 ? `another ${fmt(n * t.ms)} (numAttemptsPerPriority ${n} × ${t.name} ${fmt(t.ms)})` : `another ${fmt(t.ms)} (${t.name} ${fmt(t.ms)})`;
}

/** `api.openai.com:443 (Backend team-a/openai)`: the endpoints the level shares with the one before, and whose they are. */
function sharedText(level: ProviderLevel, previous: ProviderLevel): string {
  const keys = new Set(level.endpoints.map(endpointKey));
  const backends = new Set<string>();
  for (const r of [...previous.refs, ...level.refs]) {
    if (r.resolution.state !== 'resolved' || !r.backend) continue;
    if (r.resolution.endpoints.some((e) => keys.has(endpointKey(e)))) backends.add(`${r.backend.namespace}/${r.backend.name}`);
  }
  const owners = backends.size === 1 ? `Backend ${[...backends][0]}` : backends.size > 1 ? `Backends ${[...backends].join(' and ')}` : '';
  return `${level.endpoints.map(endpointText).join(', ')}${owners ? ` (${owners})` : ''}`;
}

export default definePolicy({
  id: 'fallover-same-provider',
  description:
    'A priority level reaches only the provider endpoints of the level before (same Backend, or Backends with the same host and port): when that provider is down, the fall-over spends another timeout and fails again.',
  endpoint: 'validate',
  ...ON_AIGATEWAYROUTE_WRITES,
  defaultMode: 'warn',
  vap: { missing: 'fall-over', why: FALLOVER_VAP_MISSING },
  evaluate(ctx) {
    const { object } = ctx;
    if (!object || !isRoute(object)) return {};
    const findings: FindingDraft[] = [];
    // The same model the fall-over policies built in this review, when they did.
    const fallover = falloverOf(ctx, object);
    for (const rule of providersOf(ctx, object)) {
      for (let k = 1; k < rule.levels.length; k++) {
        const [previous, level] = [rule.levels[k - 1]!, rule.levels[k]!];
        if (!repeatsProvider(level, previous)) continue;
        const single = level.endpoints.length === 1;
        findings.push({
          path: level.refs[0]!.path,
          message:
            `${rule.label}: ${providerLevelText(level)} reaches the same provider endpoint${single ? '' : 's'} as ${providerLevelText(previous)}: ${sharedText(level, previous)}. ` +
            `When that provider hangs or is down, every model behind it fails alike, so falling over to priority ${level.priority} spends ${costPerLevel(fallover.rules[rule.index])} and still fails. ` +
            `Fix: put a different provider (a Backend with another host) at priority ${level.priority}. ` +
            `A second model on the same provider still helps when only the priority ${previous.priority} model is overloaded (429 or 503), so keep it as a later level if you want that.`,
        });
      }
    }
    return { findings };
  },
});
