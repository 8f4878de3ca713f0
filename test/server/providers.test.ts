/** Provider-aware fall-over end to end: the served webhook, `check` and `explain` over one world of files. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { startServer, type RunningServer } from '../../src/server/serve.js';
import { silentLogger } from '../../src/review/deps.js';
import { MemoryWorld } from '../../src/world/world.js';
import { ApiServerClient } from './apiserver-client.js';
import { HAS_SHARED, ROOT, SHARED, admissionReview, retryPolicy, yamlObjects } from '../helpers.js';
import { runCli } from '../cli-run.js';

const run = (args: string[]) => runCli(args);
const FIXTURE = 'test/fixtures/providers/providers.yaml';
const objects = yamlObjects(join(ROOT, FIXTURE));
const assistants = objects.find((o) => o.kind === 'AIGatewayRoute')!;

const SAME_PROVIDER =
  '[fallover-same-provider] spec.rules[0].backendRefs[1]: spec.rules[0] ("chat"): priority 1 (openai-mini, model gpt-5-mini) reaches the same provider endpoint as priority 0 (openai, model gpt-5): ' +
  'api.openai.com:443 (Backends team-a/openai and team-a/openai-mini). When that provider hangs or is down, every model behind it fails alike, so falling over to priority 1 spends another 5s (streamIdleTimeout 5s) and still fails. ' +
  'Fix: put a different provider (a Backend with another host) at priority 1. A second model on the same provider still helps when only the priority 0 model is overloaded (429 or 503), so keep it as a later level if you want that.';
const PRIORITIES_IGNORED =
  '[fallover-priorities-ignored] spec.rules[1].backendRefs: spec.rules[1] ("code"): its backends mix address types: anthropic (Backend team-a/anthropic, FQDN api.anthropic.com:443) next to local-vllm (Backend team-a/local-vllm, IP 10.0.0.7:8000). ' +
  "Envoy Gateway then builds one cluster per backend and splits the rule's traffic by weight, so local-vllm (after priority 0) gets about 50% of first attempts, and a failed request never falls over by priority: each cluster holds one backend. " +
  "Fix: give every backend of the rule the same address type, e.g. an fqdn endpoint in Backend team-a/local-vllm (a Service's DNS name such as NAME.NAMESPACE.svc.cluster.local).";

describe('provider findings through the served webhook, check and explain', () => {
  let server: RunningServer;
  let client: ApiServerClient;
  beforeAll(async () => {
    const tlsDir = mkdtempSync(join(tmpdir(), 'aigw-prov-'));
    // The cluster as the cache would hold it: everything in the file but the route being created.
    const world = new MemoryWorld(objects.filter((o) => o !== assistants));
    server = await startServer({ host: '127.0.0.1', port: 0, tlsDir, standalone: true, logger: silentLogger, world });
    client = new ApiServerClient(server.port, readFileSync(join(tlsDir, 'ca.crt'), 'utf8'));
  });
  afterAll(async () => {
    client.close();
    await server.close();
  });

  it('the AIGatewayRoute create is admitted with the warnings kubectl prints', async () => {
    const input = admissionReview(assistants);
    const { review } = await client.admit('/validate', input);
    expect(review.response).toEqual({ uid: input.request.uid, allowed: true, warnings: [SAME_PROVIDER, PRIORITIES_IGNORED] });
  });

  it('check reports the same findings from the files', async () => {
    const r = await run(['check', '-f', FIXTURE, '-o', 'json']);
    expect(r.status).toBe(0);
    const found = (JSON.parse(r.stdout) as Array<{ policy: string; mode: string; path: string; message: string }>).map((f) => `[${f.policy}] ${f.path}: ${f.message}`);
    expect(found).toEqual([SAME_PROVIDER, PRIORITIES_IGNORED]);
  });

  it('check of the route file alone is not an error: no AIServiceBackend in the files, no provider finding', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'aigw-prov-route-'));
    writeFileSync(join(dir, 'route.yaml'), stringify(assistants));
    writeFileSync(join(dir, 'retry.yaml'), stringify(objects.find((o) => o.kind === 'BackendTrafficPolicy')));
    const r = await run(['check', '-f', dir, '-o', 'json']);
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual([]);
  });

  it('explain shows the endpoint of each attempt and marks the level that repeats the provider', async () => {
    const r = await run(['explain', '-f', FIXTURE]);
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(readFileSync(join(ROOT, 'test/fixtures/providers/providers.explain.txt'), 'utf8'));
    const attempts = r.stdout.split('\n').filter((l) => l.includes('→ attempt 2'));
    expect(attempts.map((l) => l.slice(l.indexOf('5.1s → ') + 7, l.indexOf(', idle')))).toEqual([
      'priority 1 (openai-mini) → api.openai.com:443 (SAME provider as priority 0)',
      // FQDN next to IP: one cluster per backend, so the retry stays where the weighted pick sent the request.
      'the same backend as attempt 1 (of anthropic, local-vllm)',
      'priority 1 (anthropic) → api.anthropic.com:443',
    ]);
  });

  it('explain -o json gives each level its endpoints', async () => {
    const out = JSON.parse((await run(['explain', '-f', FIXTURE, '-o', 'json'])).stdout);
    expect(out.routes[0].rules.map((r: { providers: unknown; falls_over: boolean }) => [r.falls_over, r.providers])).toEqual([
      [true, [{ priority: 0, endpoints: ['api.openai.com:443'] }, { priority: 1, endpoints: ['api.openai.com:443'], repeats_priority: 0 }]],
      [false, [{ priority: 0, endpoints: ['api.anthropic.com:443'] }, { priority: 1, endpoints: ['10.0.0.7:8000'] }]],
      [true, [{ priority: 0, endpoints: ['api.openai.com:443'] }, { priority: 1, endpoints: ['api.anthropic.com:443'] }]],
    ]);
  });

  it.runIf(HAS_SHARED)('upstream provider_fallback with a working retry: two providers, no provider finding, each attempt on its own host', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'aigw-prov-up-'));
    // The example's own BackendTrafficPolicy (fallback.yaml) is not among the fixtures; ours stands in for it.
    writeFileSync(join(dir, 'retry.yaml'), stringify(retryPolicy({ route: 'provider-fallback', namespace: 'default' })));
    const base = join(SHARED, 'fixtures/examples/ai-gateway/examples__provider_fallback__base.yaml');
    const out = JSON.parse((await run(['explain', '-f', base, '-f', join(dir, 'retry.yaml'), '-o', 'json'])).stdout);
    const rule = out.routes[0].rules[0];
    expect(rule.findings).toEqual([]);
    expect(rule.providers).toEqual([
      { priority: 0, endpoints: ['provider-fallback-always-failing-upstream.default.svc.cluster.local:443'] },
      { priority: 1, endpoints: ['bedrock-runtime.us-east-1.amazonaws.com:443'] },
    ]);
  });
});
