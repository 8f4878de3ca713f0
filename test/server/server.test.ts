import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { startServer, type RunningServer } from '../../src/server/serve.js';
import { silentLogger } from '../../src/review/deps.js';
import { certificateSans, createCertBundle } from '../../src/tls/certs.js';
import { ApiServerClient } from './apiserver-client.js';
import { ROOT, admissionReview, fallingOverWorld, readJson, yamlObjects } from '../helpers.js';
import { MemoryWorld } from '../../src/world/world.js';
import type { AdmissionReviewRequest } from '../../src/kube/types.js';

let server: RunningServer;
let client: ApiServerClient;
let tlsDir: string;

beforeAll(async () => {
  tlsDir = mkdtempSync(join(tmpdir(), 'aigw-tls-'));
  server = await startServer({ host: '127.0.0.1', port: 0, tlsDir, standalone: true, logger: silentLogger, world: fallingOverWorld() });
  client = new ApiServerClient(server.port, readFileSync(join(tlsDir, 'ca.crt'), 'utf8'));
});
afterAll(async () => {
  client.close();
  await server.close();
});

const fixture = (name: string) => readJson<AdmissionReviewRequest>(join(ROOT, 'test/fixtures/admission-reviews', `${name}.json`));

describe('served webhook, called like the API server', () => {
  it('creates a serving certificate for the service names, localhost and 127.0.0.1', () => {
    expect(certificateSans(readFileSync(join(tlsDir, 'tls.crt'), 'utf8'))).toEqual([
      'aigw-admission',
      'aigw-admission.aigw-admission',
      'aigw-admission.aigw-admission.svc',
      'aigw-admission.aigw-admission.svc.cluster.local',
      'localhost',
      '127.0.0.1',
    ]);
  });

  it('denies a stream idle timeout that can never fire, with 403 and the uid', async () => {
    const input = fixture('aigatewayroute-stream-idle-too-long');
    const { review } = await client.admit('/validate', input);
    expect(review.response.allowed).toBe(false);
    expect(review.response.uid).toBe('7d1c2a90-0001-4f6e-9a51-3b2f1c0d0001');
    expect(review.response.status!.code).toBe(403);
    expect(review.response.status!.message).toMatch(/^\[stream-idle-within-request\] spec\.rules\[0\]\.streamIdleTimeout: /);
  });

  it('allows a healthy route on /validate; /mutate writes only modelsCreatedAt, which the client applies', async () => {
    const input = fixture('aigatewayroute-healthy');
    expect((await client.admit('/validate', input)).review.response).toEqual({ uid: input.request.uid, allowed: true });
    const { patched } = await client.admit('/mutate', input);
    const rule = (patched!.spec as { rules: Array<Record<string, unknown>> }).rules[0]!;
    expect(rule.timeouts).toEqual({ request: '30s' });
    expect(rule.modelsCreatedAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    const { patch, ...rest } = structuredClone(rule);
    expect(patch).toBeUndefined();
    delete rest.modelsCreatedAt;
    expect(rest).toEqual((input.request.object!.spec as { rules: unknown[] }).rules[0]);
  });

  it('refuses TLS 1.1 at the handshake', async () => {
    const err = await new Promise<Error>((resolve) => {
      const s = tls.connect({ port: server.port, host: '127.0.0.1', maxVersion: 'TLSv1.1', minVersion: 'TLSv1', rejectUnauthorized: false });
      s.on('error', resolve);
      s.on('secureConnect', () => resolve(new Error('connected')));
    });
    expect(err.message).not.toBe('connected');
  });

  it.each([
    ['wrong content type → 415', 'POST', '/validate', '{}', { 'content-type': 'text/plain' }, 415, 'UNSUPPORTED_MEDIA_TYPE', 'unsupported content type: content-type is "text/plain"; send application/json'],
    ['unparseable JSON → 400', 'POST', '/validate', '{"kind":', {}, 400, 'INVALID_JSON', 'request body is not valid JSON: unexpected end of input; send the AdmissionReview as JSON'],
    ['v1beta1 review → 400', 'POST', '/mutate', JSON.stringify({ apiVersion: 'admission.k8s.io/v1beta1', kind: 'AdmissionReview', request: {} }), {}, 400, 'NOT_ADMISSION_REVIEW',
      'not an admission.k8s.io/v1 AdmissionReview: apiVersion is "admission.k8s.io/v1beta1", expected "admission.k8s.io/v1"; only v1 is served: set admissionReviewVersions: ["v1"] in the webhook configuration'],
    ['not a review → 400', 'POST', '/validate', '[]', {}, 400, 'NOT_ADMISSION_REVIEW', 'not an admission.k8s.io/v1 AdmissionReview: the body is an array, expected an AdmissionReview object'],
    ['missing uid → 400', 'POST', '/validate', JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { kind: { group: '', version: 'v1', kind: 'Pod' }, operation: 'CREATE', object: {} } }), {}, 400, 'INVALID_REQUEST_FIELD',
      'invalid AdmissionReview request field: request.uid is missing, expected a non-empty string'],
    ['bad operation → 400', 'POST', '/validate', JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { uid: 'u', kind: { group: '', version: 'v1', kind: 'Pod' }, operation: 'PATCH', object: {} } }), {}, 400, 'INVALID_REQUEST_FIELD',
      'invalid AdmissionReview request field: request.operation is "PATCH", expected one of CREATE, UPDATE, DELETE, CONNECT'],
    ['GET on /validate → 405', 'GET', '/validate', undefined, {}, 405, 'METHOD_NOT_ALLOWED', 'method not allowed: GET /validate: send the AdmissionReview with POST'],
    ['unknown path → 404', 'POST', '/nope', '{}', {}, 404, 'NOT_FOUND', 'no such endpoint: POST /nope: the endpoints are POST /validate, POST /mutate, GET /healthz, GET /readyz, GET /metrics'],
  ] as const)('%s', async (_name, method, path, body, headers, status, reason, message) => {
    const res = await client.raw(method, path, body, headers as Record<string, string>);
    expect(res.status).toBe(status);
    expect(JSON.parse(res.body)).toEqual({ apiVersion: 'v1', kind: 'Status', status: 'Failure', code: status, reason, message });
  });

  it('refuses a body over the limit with 413 before reading it', async () => {
    const limit = server.config.config.server.maxBodyBytes;
    const res = await client.raw('POST', '/validate', Buffer.alloc(limit + 1, 0x20));
    expect(res.status).toBe(413);
    expect(res.headers.connection).toBe('close');
    expect(JSON.parse(res.body).message).toBe(`request body too large: the body is ${limit + 1} bytes, over the ${limit}-byte limit (server.maxBodyBytes in the config)`);
  });

  it('serves /healthz, /readyz and /metrics with the request counter', async () => {
    expect((await client.raw('GET', '/healthz')).body).toBe('ok\n');
    expect(JSON.parse((await client.raw('GET', '/readyz')).body)).toEqual({ ready: true, reasons: [] });
    const metrics = (await client.raw('GET', '/metrics')).body;
    expect(metrics).toContain('aigw_admission_requests_total{endpoint="validate",kind="AIGatewayRoute",operation="CREATE",allowed="false",dry_run="false"} 1');
    expect(metrics).toContain('aigw_admission_http_errors_total{endpoint="validate",code="415"} 1');
    expect(metrics).toMatch(/aigw_admission_review_duration_seconds_count\{endpoint="validate"\} \d+/);
    expect(metrics).toContain(`aigw_admission_build_info{version="${JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version}"} 1\n`);
    // The certificates made at start are valid for a year (CA: ten); the gauge counts down to their notAfter.
    const expiry = (certificate: string) => Number(new RegExp(`^aigw_admission_certificate_expiry_seconds\\{certificate="${certificate}"\\} (-?\\d+)$`, 'm').exec(metrics)?.[1]);
    const notAfter = (file: string) => Math.round((new Date(new X509Certificate(readFileSync(join(tlsDir, file))).validTo).getTime() - Date.now()) / 1000);
    expect(Math.abs(expiry('serving') - notAfter('tls.crt'))).toBeLessThan(600);
    expect(Math.abs(expiry('ca') - notAfter('ca.crt'))).toBeLessThan(600);
    // Process and Node metrics under prom-client's standard names, which the usual dashboards match.
    expect(metrics).toMatch(/^process_cpu_seconds_total \d/m);
    expect(metrics).not.toContain('aigw_admission_process_');
  });
});

describe('served /mutate injects the sidecar into an Envoy proxy pod', () => {
  it('with the route in the world, the API-server-like client applies the patch and gets the golden 1.33 pod', async () => {
    const [pod] = yamlObjects(join(ROOT, 'test/fixtures/pods/envoy-proxy-pod.yaml'));
    const world = new MemoryWorld(yamlObjects(join(ROOT, 'test/fixtures/pods/ai-gateway-route.yaml')), { kubernetesMinor: 33 });
    const dir = mkdtempSync(join(tmpdir(), 'aigw-tls-'));
    const served = await startServer({ host: '127.0.0.1', port: 0, tlsDir: dir, standalone: true, logger: silentLogger, world });
    const apiServer = new ApiServerClient(served.port, readFileSync(join(dir, 'ca.crt'), 'utf8'));
    try {
      const input = admissionReview(pod!);
      input.request.namespace = 'envoy-gateway-system';
      const { review, patched } = await apiServer.admit('/mutate', input);
      expect(review.response.allowed).toBe(true);
      expect(patched).toEqual(readJson(join(ROOT, 'test/golden/pods/envoy-proxy-pod.k8s-1.33.pod.json')));
      const metrics = await served.metrics.registry.metrics();
      expect(metrics).toContain('aigw_admission_sidecar_injections_total{reason="native-sidecar"} 1\n');
    } finally {
      apiServer.close();
      await served.close();
    }
  });
});

describe('the probe port (issue 15 item 5)', () => {
  it('serves /healthz, /readyz and /metrics over plain HTTP while --client-ca locks the webhook port', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'aigw-tls-'));
    const clientCa = createCertBundle({ service: 'kube-apiserver', namespace: 'kube-system' }).caCert;
    const served = await startServer({ host: '127.0.0.1', port: 0, probe: { host: '127.0.0.1', port: 0 }, tlsDir: dir, standalone: true, logger: silentLogger, clientCa });
    const get = async (path: string) => {
      const res = await fetch(`${served.probeUrl}${path}`);
      return { status: res.status, connection: res.headers.get('connection'), body: await res.text() };
    };
    try {
      expect(served.probeUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(await get('/healthz')).toEqual({ status: 200, connection: 'keep-alive', body: 'ok\n' });
      expect(await get('/readyz')).toEqual({ status: 200, connection: 'keep-alive', body: '{"ready":true,"reasons":[]}' });
      expect((await get('/metrics')).body).toContain('# TYPE aigw_admission_connections_dropped_total counter');
      expect(await get('/validate')).toEqual({
        status: 404,
        connection: 'keep-alive',
        body: '{"apiVersion":"v1","kind":"Status","status":"Failure","code":404,"reason":"NOT_FOUND","message":"no such endpoint: GET /validate: the endpoints are GET /healthz, GET /readyz, GET /metrics (the webhook is on its HTTPS port)"}',
      });
      // The webhook port asks for the client certificate: a probe without one never reaches HTTP there.
      const refused = await new Promise<string>((resolve) => {
        const s = tls.connect({ port: served.port, host: '127.0.0.1', rejectUnauthorized: false });
        s.on('secureConnect', () => s.write('GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n'));
        s.on('data', () => resolve('answered'));
        s.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
        s.on('close', () => resolve('closed'));
      });
      expect(refused).not.toBe('answered');
    } finally {
      await served.close();
    }
  });
});
