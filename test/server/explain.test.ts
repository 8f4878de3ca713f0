import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, type RunningServer } from '../../src/server/serve.js';
import { silentLogger } from '../../src/review/deps.js';
import { MemoryWorld } from '../../src/world/world.js';
import { ApiServerClient } from './apiserver-client.js';
import { HAS_SHARED, ROOT, SHARED, admissionReview, modelMatch, retryPolicy, route } from '../helpers.js';
import { runCli } from '../cli-run.js';

const run = (args: string[], env?: NodeJS.ProcessEnv) => runCli(args, { env });

const chat = route([{ name: 'chat', matches: modelMatch('gpt-5'), streamIdleTimeout: '5s', timeouts: { request: '30s' }, backendRefs: [{ name: 'openai', priority: 0 }, { name: 'anthropic', priority: 1 }] }]);

const TRIGGERS_WARNING =
  '[fallover-retry-triggers] spec.retry: AIGatewayRoute team-a/chat spec.rules[0] ("chat"): the retry of BackendTrafficPolicy team-a/chat-retry (route-level, HTTPRoute team-a/chat) has retry_on ' +
  '"connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes" (Envoy Gateway\'s default, because spec.retry.retryOn has no triggers), with none of reset, 5xx, gateway-error, ' +
  'so when the 5s idle timer fires Envoy aborts the request with a 504 and never retries it; only connection failures, refused streams, HTTP 503, gRPC status unavailable, cancelled are retried. ' +
  'Fix: in BackendTrafficPolicy team-a/chat-retry set spec.retry.retryOn.triggers: [reset, connect-failure, retriable-status-codes] and httpStatusCodes: [502, 503, 504] (reset is what retries a timeout).';
const PRIORITY_WARNING =
  '[fallover-priority-unreachable] spec.retry.numAttemptsPerPriority: AIGatewayRoute team-a/chat spec.rules[0] ("chat"): the retry of BackendTrafficPolicy team-a/chat-retry (route-level, HTTPRoute team-a/chat) ' +
  'has numAttemptsPerPriority unset, so Envoy Gateway adds no previous_priorities retry plugin and all 2 retries go to priority 0 (openai) while it counts as healthy; ' +
  'priority 1 (anthropic) is reached only after health checks eject priority 0. Fix: in BackendTrafficPolicy team-a/chat-retry set spec.retry.numAttemptsPerPriority: 1 (then the first retry goes to priority 1).';

describe('BackendTrafficPolicy admission through the served webhook', () => {
  const servers: RunningServer[] = [];
  const start = async (config?: string) => {
    const tlsDir = mkdtempSync(join(tmpdir(), 'aigw-fo-'));
    const server = await startServer({ host: '127.0.0.1', port: 0, tlsDir, standalone: true, logger: silentLogger, configPath: config, world: new MemoryWorld([chat]) });
    servers.push(server);
    return new ApiServerClient(server.port, readFileSync(join(tlsDir, 'ca.crt'), 'utf8'));
  };
  let warnClient: ApiServerClient;
  beforeAll(async () => {
    warnClient = await start();
  });
  afterAll(async () => {
    for (const s of servers) await s.close();
  });

  it('retry: {} for a route with a streamIdleTimeout is admitted with the warnings kubectl prints', async () => {
    const input = admissionReview(retryPolicy({ retry: {} }));
    const { review } = await warnClient.admit('/validate', input);
    expect(review.response).toEqual({ uid: input.request.uid, allowed: true, warnings: [TRIGGERS_WARNING, PRIORITY_WARNING] });
  });

  it('with fallover-retry-triggers at mode deny the same policy is refused, the fix in the message', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'aigw-fo-cfg-'));
    const config = join(dir, 'config.yaml');
    writeFileSync(config, 'policies:\n  fallover-retry-triggers:\n    mode: deny\n');
    const client = await start(config);
    const input = admissionReview(retryPolicy({ retry: {} }));
    const { review } = await client.admit('/validate', input);
    expect(review.response).toEqual({
      uid: input.request.uid,
      allowed: false,
      status: { code: 403, reason: 'Forbidden', message: TRIGGERS_WARNING },
      warnings: [PRIORITY_WARNING],
    });
    client.close();
  });

  it('the working retry is admitted with no warning', async () => {
    const input = admissionReview(retryPolicy());
    expect((await warnClient.admit('/validate', input)).review.response).toEqual({ uid: input.request.uid, allowed: true });
  });
});

describe('aigw-admission explain', () => {
  it('prints the plan of a rule that falls over', async () => {
    const r = await run(['explain', '-f', 'test/fixtures/fallover/working.yaml']);
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(WORKING);
  });

  it('prints where and why a broken rule stops, from a kind: List', async () => {
    const r = await run(['explain', '-f', 'test/fixtures/fallover/broken.yaml']);
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(BROKEN);
  });

  it('-o json gives the model', async () => {
    const out = JSON.parse((await run(['explain', '-f', 'test/fixtures/fallover/working.yaml', '-o', 'json'])).stdout);
    const rule = out.routes[0].rules[0];
    expect(rule.falls_over).toBe(true);
    expect(rule.retry.previousPriorities).toEqual({ updateFrequency: 1 });
    expect(rule.attempts.map((a: { priority: number; startMs: number }) => [a.priority, a.startMs])).toEqual([[0, 0], [1, 5100], [0, 10400]]);
    expect(out.unattached).toEqual([]);
  });

  it('--route without a cluster says it needs one and exits 2', async () => {
    const env: NodeJS.ProcessEnv = { ...process.env, HOME: mkdtempSync(join(tmpdir(), 'aigw-home-')) };
    delete env.KUBECONFIG;
    const r = await run(['explain', '--route', 'team-a/chat'], env);
    expect(r.status).toBe(2);
    expect(r.stderr).toBe(
      'aigw-admission: no cluster: --route requires a cluster, and none was found (no --kubeconfig, no KUBECONFIG, no ~/.kube/config, not in a pod). Without a cluster, explain the manifests instead: aigw-admission explain -f FILE_OR_DIR\n',
    );
  });

  it('bad input exits 2 naming the file', async () => {
    expect((await run(['explain', '-f', 'no-such.yaml'])).stderr).toBe('aigw-admission: invalid input file: no-such.yaml: no such file or directory\n');
    expect((await run(['explain'])).stderr).toBe('aigw-admission: invalid flag: give either -f FILE_OR_DIR... or --route NAMESPACE/NAME\n');
  });

  it.runIf(HAS_SHARED)('the upstream stream_idle_timeout example falls over on both rules with no finding', async () => {
    const out = JSON.parse((await run(['explain', '-f', join(SHARED, 'fixtures/examples/ai-gateway/examples__stream_idle_timeout__base.yaml'), '-o', 'json'])).stdout);
    expect(out.routes[0].rules.map((r: { falls_over: boolean; findings: unknown[] }) => [r.falls_over, r.findings])).toEqual([[true, []], [true, []]]);
    expect(out.routes[0].findings).toEqual([]);
  });
});

const WORKING = "AIGatewayRoute team-a/chat\n  spec.rules[0] (\"chat\"): falls over: priority 1 is tried at 5.1s (attempt 2) when priority 0 stays silent\n    priorities: 0 (openai), 1 (anthropic)\n    timeouts: route 30s (timeouts.request 30s; no timeouts.backendRequest), idle 5s\n    retry: BackendTrafficPolicy team-a/chat-retry (route-level): numRetries 2, numAttemptsPerPriority 1 (previous_priorities), retry_on reset,connect-failure,retriable-status-codes, status codes 502,503,504, back-off jittered, base 100ms, max 1s\n    retried on: resets and idle/per-try timeouts before the response starts (reset), connection failures, HTTP 502, 503, 504\n    reach: priority 0 on attempt 1; priority 1 on attempt 2\n    note: a model that sends response headers and then stalls is cut mid-stream when the idle timer fires: never retried, never failed over\n    if every model stays silent:\n      attempt 1 → priority 0 (openai), idle timeout 5s → reset → retried (trigger reset), back-off up to 100ms (jittered)\n      → attempt 2 at 5.1s → priority 1 (anthropic), idle timeout 5s → reset → retried (trigger reset), back-off up to 300ms (jittered)\n      → attempt 3 at 10.4s → priority 0 (openai), idle timeout 5s → reset → stops: numRetries 2 used up: 504\n      … route timeout 30s\n";

const BROKEN = "AIGatewayRoute team-a/chat\n  spec.rules[0] (\"chat\"): does NOT fall over: an idle timeout is never retried: retry_on connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes has none of reset, 5xx, gateway-error\n    priorities: 0 (openai), 1 (anthropic)\n    timeouts: route 30s (timeouts.request 30s; no timeouts.backendRequest), idle 5s\n    retry: BackendTrafficPolicy team-a/chat-retry (route-level): numRetries 2, numAttemptsPerPriority unset (no previous_priorities: retries stay on the first priority), retry_on connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes (Envoy Gateway's default), status codes 503, back-off jittered, base 25ms, max 250ms (Envoy's default)\n    retried on: connection failures, refused streams, HTTP 503\n    reach: priority 0 on attempt 1; priority 1 never (numAttemptsPerPriority unset: no previous_priorities, retries stay on priority 0)\n    note: a model that sends response headers and then stalls is cut mid-stream when the idle timer fires: never retried, never failed over\n    if every model stays silent:\n      attempt 1 → priority 0 (openai), idle timeout 5s → reset → stops: retry_on has none of reset, 5xx, gateway-error, so a timeout is not retried: 504\n      … route timeout 30s\n    warn: [fallover-retry-triggers] spec.rules[0]: spec.rules[0] (\"chat\"): the retry of BackendTrafficPolicy team-a/chat-retry (route-level, HTTPRoute team-a/chat) has retry_on \"connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes\" (Envoy Gateway's default, because spec.retry.retryOn has no triggers), with none of reset, 5xx, gateway-error, so when the 5s idle timer fires Envoy aborts the request with a 504 and never retries it; only connection failures, refused streams, HTTP 503, gRPC status unavailable, cancelled are retried. Fix: in BackendTrafficPolicy team-a/chat-retry set spec.retry.retryOn.triggers: [reset, connect-failure, retriable-status-codes] and httpStatusCodes: [502, 503, 504] (reset is what retries a timeout).\n    warn: [fallover-priority-unreachable] spec.rules[0]: spec.rules[0] (\"chat\"): the retry of BackendTrafficPolicy team-a/chat-retry (route-level, HTTPRoute team-a/chat) has numAttemptsPerPriority unset, so Envoy Gateway adds no previous_priorities retry plugin and all 2 retries go to priority 0 (openai) while it counts as healthy; priority 1 (anthropic) is reached only after health checks eject priority 0. Fix: in BackendTrafficPolicy team-a/chat-retry set spec.retry.numAttemptsPerPriority: 1 (then the first retry goes to priority 1).\n";
