/** Issue 9 part 6: object contents, env values, tokens and userInfo.extra never reach a log line, at any level. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { startServer, type RunningServer } from '../../src/server/serve.js';
import { createLogger } from '../../src/observe/logger.js';
import { MemoryWorld } from '../../src/world/world.js';
import { ApiServerClient } from './apiserver-client.js';
import { ROOT, admissionReview, route, yamlObjects } from '../helpers.js';
import type { AdmissionReviewRequest, KubeObject } from '../../src/kube/types.js';

const MARK = 'S3CR3T-MARKER-7f3a';

let server: RunningServer;
let client: ApiServerClient;
const lines: string[] = [];

beforeAll(async () => {
  const stream = new Writable({
    write(chunk, _enc, done) {
      lines.push(...String(chunk).split('\n').filter(Boolean));
      done();
    },
  });
  const tlsDir = mkdtempSync(join(tmpdir(), 'aigw-secrets-'));
  const world = new MemoryWorld(yamlObjects(join(ROOT, 'test/fixtures/pods/ai-gateway-route.yaml')), { kubernetesMinor: 33 });
  server = await startServer({ host: '127.0.0.1', port: 0, tlsDir, standalone: true, logger: createLogger({ level: 'trace', stream }), world });
  client = new ApiServerClient(server.port, readFileSync(join(tlsDir, 'ca.crt'), 'utf8'));
});
afterAll(async () => {
  client.close();
  await server.close();
});

function withUserInfo(input: AdmissionReviewRequest): AdmissionReviewRequest {
  input.request.userInfo = { username: 'alice', groups: ['dev'], extra: { 'authentication.kubernetes.io/credential-id': [`JTI=${MARK}`] } };
  return input;
}

describe('no secrets in logs', () => {
  it('reviews objects carrying marker values on every path, and no log line contains them', async () => {
    const secret: KubeObject = { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'openai', namespace: 'team-a' }, type: 'Opaque', data: { apiKey: Buffer.from(MARK).toString('base64') }, stringData: { token: MARK } };
    const [pod] = yamlObjects(join(ROOT, 'test/fixtures/pods/envoy-proxy-pod.yaml'));
    const podWithEnv = structuredClone(pod!) as { spec: { containers: Array<{ env: unknown[] }> } } & KubeObject;
    podWithEnv.spec.containers[0]!.env.push({ name: 'API_KEY', value: MARK });
    const badRoute = route([{ backendRefs: [{ name: 'openai' }], timeouts: { request: '10s' }, streamIdleTimeout: '30s' }]);
    badRoute.metadata!.annotations = { 'example.com/token': MARK };

    const reviews: Array<['/validate' | '/mutate', AdmissionReviewRequest]> = [
      ['/validate', withUserInfo(admissionReview(secret))],
      ['/mutate', withUserInfo(admissionReview(secret))],
      ['/mutate', withUserInfo({ ...admissionReview(podWithEnv), request: { ...admissionReview(podWithEnv).request, namespace: 'envoy-gateway-system' } })],
      ['/validate', withUserInfo(admissionReview(badRoute))],
      ['/mutate', withUserInfo(admissionReview(badRoute, 'UPDATE', badRoute))],
    ];
    const answers = [];
    for (const [path, input] of reviews) answers.push((await client.admit(path, input)).review.response.allowed);
    expect(answers).toEqual([true, true, true, false, true]);

    // Malformed bodies that quote the marker: parse errors are logged, the body is not.
    for (const body of [`{"token":"${MARK}" oops}`, `${MARK}`, `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"${MARK}"}}`]) {
      const res = await client.raw('POST', '/validate', body, { 'content-type': 'application/json' });
      expect(res.status).toBe(400);
    }

    const events = lines.map((l) => JSON.parse(l).event);
    expect(events.filter((e) => e === 'review').length).toBe(5);
    expect(events.filter((e) => e === 'bad_request').length).toBe(3);
    expect(events).toContain('sidecar_injected');
    expect(lines.filter((l) => l.includes(MARK))).toEqual([]);
    expect(lines.filter((l) => l.includes(Buffer.from(MARK).toString('base64')))).toEqual([]);
  });
});
