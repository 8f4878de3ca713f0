import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FakeApiServer } from './fake-apiserver.js';
import { AIGW, fakeCluster } from './support.js';
import { eventBody } from '../../src/world/kube-events.js';

/**
 * The fake must refuse what kube-apiserver refuses (each rule here was checked against the real v1.32 server in
 * `npm run e2e`), so a write the real one rejects cannot pass `npm test`.
 */
let fake: FakeApiServer;
beforeEach(async () => {
  fake = fakeCluster();
  await fake.start();
});
afterEach(async () => {
  await fake.cut();
});

async function send(method: string, path: string, body: unknown): Promise<{ status: number; body: { message?: string; reason?: string; metadata?: { name?: string } } }> {
  const res = await fetch(`http://127.0.0.1:${fake.port}${path}`, {
    method,
    headers: { authorization: 'Bearer test-token', 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as { message?: string; reason?: string } };
}

const T = new Date('2026-11-23T12:00:00Z');
const regarding = { apiVersion: 'gateway.envoyproxy.io/v1alpha1', kind: 'EnvoyPatchPolicy', namespace: 'team-a', name: 'p' };
const draft = { type: 'Warning' as const, reason: 'RouteLookupMiss', message: 'no route' };
const event = (patch: Record<string, unknown> = {}) => ({ ...JSON.parse(JSON.stringify(eventBody(regarding, draft, T, 'pod-0'))), ...patch });
const EVENTS = '/apis/events.k8s.io/v1/namespaces/team-a/events';
const ROUTES = '/apis/aigateway.envoyproxy.io/v1beta1/namespaces/team-a/aigatewayroutes';
const SUBDOMAIN =
  "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";

describe('fake API server: Events (events.k8s.io/v1 ValidateEventCreate)', () => {
  it('accepts the body the Event writer sends', async () => {
    const res = await send('POST', EVENTS, event());
    expect([res.status, res.body.metadata?.name]).toEqual([201, 'p.18eaaacd413b8000']);
  });

  it('refuses a generateName ending in "." (the Event name a real server refused)', async () => {
    const res = await send('POST', EVENTS, event({ metadata: { generateName: 'epp-rule-out-of-range.' } }));
    expect(res.status).toBe(422);
    expect(res.body.message).toMatch(/^Event "epp-rule-out-of-range\.[a-z0-9]{5}" is invalid: metadata\.generateName: Invalid value: "epp-rule-out-of-range\.": /);
    expect(res.body.message).toContain(SUBDOMAIN);
  });

  it('accepts a generateName ending in "-" and appends 5 characters', async () => {
    const res = await send('POST', EVENTS, event({ metadata: { generateName: 'p-' } }));
    expect(res.status).toBe(201);
    expect(res.body.metadata?.name).toMatch(/^p-[bcdfghjklmnpqrstvwxz2456789]{5}$/);
  });

  it('refuses a name that is not an RFC 1123 subdomain', async () => {
    const res = await send('POST', EVENTS, event({ metadata: { name: 'P.Upper' } }));
    expect([res.status, res.body.message]).toEqual([422, `Event "P.Upper" is invalid: metadata.name: Invalid value: "P.Upper": ${SUBDOMAIN}`]);
  });

  it('refuses a name over 253 characters', async () => {
    const name = 'a'.repeat(254);
    const res = await send('POST', EVENTS, event({ metadata: { name } }));
    expect([res.status, res.body.message]).toEqual([422, `Event "${name}" is invalid: metadata.name: Invalid value: "${name}": must be no more than 253 characters`]);
  });

  it('refuses an Event with neither name nor generateName', async () => {
    const res = await send('POST', EVENTS, event({ metadata: {} }));
    expect([res.status, res.body.message]).toEqual([422, 'Event "" is invalid: metadata.name: Required value: name or generateName is required']);
  });

  it('refuses missing required fields: eventTime, reportingController, reportingInstance, action, reason', async () => {
    const { eventTime: _t, reportingController: _c, reportingInstance: _i, action: _a, reason: _r, ...rest } = event();
    const res = await send('POST', EVENTS, rest);
    expect([res.status, res.body.message]).toEqual([
      422,
      'Event "p.18eaaacd413b8000" is invalid: eventTime: Required value, reportingController: Required value, reportingInstance: Required value, action: Required value, reason: Required value',
    ]);
  });

  it('refuses a type other than Normal or Warning, and fields over their length limits', async () => {
    const res = await send('POST', EVENTS, event({ type: 'Error', reason: 'r'.repeat(129), note: 'n'.repeat(1025) }));
    expect([res.status, res.body.message]).toEqual([
      422,
      'Event "p.18eaaacd413b8000" is invalid: type: Invalid value: "": has invalid value: Error, reason: Invalid value: "": can have at most 128 characters, message: Invalid value: "": can have at most 1024 characters',
    ]);
  });

  it('refuses an Event about a cluster-scoped object outside default and kube-system', async () => {
    const res = await send('POST', EVENTS, event({ regarding: { apiVersion: 'v1', kind: 'Node', name: 'n1' } }));
    expect([res.status, res.body.message]).toEqual([422, 'Event "p.18eaaacd413b8000" is invalid: involvedObject.namespace: Invalid value: "": does not match event.namespace']);
  });

  it('refuses a second Event of the same name (409 AlreadyExists)', async () => {
    expect((await send('POST', EVENTS, event())).status).toBe(201);
    const res = await send('POST', EVENTS, event());
    expect([res.status, res.body.reason, res.body.message]).toEqual([409, 'AlreadyExists', 'events.events.k8s.io "p.18eaaacd413b8000" already exists']);
  });

  it('refuses a write into a namespace that does not exist (NamespaceLifecycle, 404)', async () => {
    const res = await send('POST', '/apis/events.k8s.io/v1/namespaces/nowhere/events', event({ metadata: { name: 'p.1', namespace: 'nowhere' } }));
    expect([res.status, res.body.message]).toEqual([404, 'namespaces "nowhere" not found']);
  });
});

describe('fake API server: objects (ObjectMeta, resourceVersion)', () => {
  const route = (metadata: Record<string, unknown>) => ({ apiVersion: AIGW, kind: 'AIGatewayRoute', metadata, spec: {} });

  it('refuses a body whose namespace differs from the URL (400)', async () => {
    const res = await send('POST', ROUTES, route({ name: 'r', namespace: 'team-b' }));
    expect([res.status, res.body.message]).toEqual([400, 'the namespace of the provided object does not match the namespace sent on the request']);
  });

  it('refuses an invalid name and a trailing-dot generateName on create (422)', async () => {
    expect((await send('POST', ROUTES, route({ name: 'r_1' }))).body.message).toBe(`AIGatewayRoute "r_1" is invalid: metadata.name: Invalid value: "r_1": ${SUBDOMAIN}`);
    expect((await send('POST', ROUTES, route({ generateName: 'r.' }))).status).toBe(422);
  });

  it('refuses a create that carries a resourceVersion', async () => {
    const res = await send('POST', ROUTES, route({ name: 'r', resourceVersion: '5' }));
    expect([res.status, res.body.message]).toEqual([500, 'resourceVersion should not be set on objects to be created']);
  });

  it('refuses a stale resourceVersion (409) and, for a custom resource, an update without one (422)', async () => {
    const created = await send('POST', ROUTES, route({ name: 'r' }));
    expect(created.status).toBe(201);
    const stale = await send('PUT', `${ROUTES}/r`, route({ name: 'r', resourceVersion: '1' }));
    expect([stale.status, stale.body.message]).toEqual([
      409,
      'Operation cannot be fulfilled on aigatewayroutes "r": the object has been modified; please apply your changes to the latest version and try again',
    ]);
    const unconditional = await send('PUT', `${ROUTES}/r`, route({ name: 'r' }));
    expect([unconditional.status, unconditional.body.message]).toEqual([
      422,
      'AIGatewayRoute "r" is invalid: metadata.resourceVersion: Invalid value: 0x0: must be specified for an update',
    ]);
  });

  it('refuses an update whose body names another object (400)', async () => {
    await send('POST', ROUTES, route({ name: 'r' }));
    const res = await send('PUT', `${ROUTES}/r`, route({ name: 'other', resourceVersion: '1' }));
    expect([res.status, res.body.message]).toEqual([400, 'the name of the object (other) does not match the name on the URL (r)']);
  });
});
