/** The review's log line: every finding up to a text budget, in full; the rest counted by policy, never cut mid-line. */
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { review, type Verdict } from '../../src/review/review.js';
import { LOGGED_FINDINGS_CHARS, ReviewLine, loggedFindings, millisText } from '../../src/review/review-line.js';
import { FIELDS_JSON } from '../../src/review/deps.js';
import { MAX_LOG_LINE_BYTES, createLogger } from '../../src/observe/logger.js';
import { admissionReview, deps, route } from '../helpers.js';
import type { AdmissionRequest, Finding } from '../../src/kube/types.js';

const capture = () => {
  const written: string[] = [];
  const stream = new Writable({ write: (chunk, _enc, done) => (written.push(String(chunk)), done()) });
  return { written, logger: createLogger({ stream }) };
};

const finding = (policy: string, message: string, path = 'spec.rules[0]'): Finding => ({
  policy,
  mode: 'warn',
  resource: { apiVersion: 'v1', kind: 'K', namespace: 'n', name: 'x' },
  path,
  message,
});

describe('the review log line', () => {
  it('a route with many findings: the first ones in full, the rest counted by policy, and the line under 16 KiB without cutting', () => {
    // 15 rules (the CRD maximum), each idle timeout longer than its request timeout and on a single priority.
    const rules = Array.from({ length: 15 }, (_, i) => ({
      name: `rule-with-a-long-name-to-make-long-messages-${i}`,
      streamIdleTimeout: '30s',
      timeouts: { request: '10s' },
      backendRefs: [{ name: `backend-${i}`, priority: 0 }],
    }));
    const { written, logger } = capture();
    const { verdict } = review(admissionReview(route(rules, 'many')), 'validate', deps({ logger }));
    const lines = written.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.event === 'review');
    expect(lines).toHaveLength(1);
    const line = lines[0]!;
    const logged = line.findings as Array<Record<string, unknown>>;
    expect(Buffer.byteLength(written.find((l) => l.includes('"event":"review"'))!)).toBeLessThanOrEqual(MAX_LOG_LINE_BYTES);
    expect(line.truncated).toBeUndefined();
    expect(verdict.findings.length).toBeGreaterThan(logged.length);
    // Over the budget: the denials first (all 15 fit), then the warnings in order.
    const ordered = [...verdict.findings.filter((f) => f.mode === 'deny'), ...verdict.findings.filter((f) => f.mode !== 'deny')];
    expect(verdict.findings.filter((f) => f.mode === 'deny')).toHaveLength(15);
    expect(logged).toEqual(ordered.slice(0, logged.length).map((f) => ({ policy: f.policy, mode: f.mode, path: f.path, message: f.message })));
    expect(line.findingsOmitted).toBe(verdict.findings.length - logged.length);
    const byPolicy: Record<string, number> = {};
    for (const f of ordered.slice(logged.length)) byPolicy[f.policy] = (byPolicy[f.policy] ?? 0) + 1;
    expect(line.findingsOmittedByPolicy).toEqual(byPolicy);
  });

  it('a review with a few findings logs them all and no omission fields', () => {
    const { written, logger } = capture();
    const { verdict } = review(
      admissionReview(route([{ name: 'chat', streamIdleTimeout: '30s', timeouts: { request: '10s' }, backendRefs: [{ name: 'a' }] }])),
      'validate',
      deps({ logger }),
    );
    const line = JSON.parse(written.find((l) => l.includes('"event":"review"'))!) as Record<string, unknown>;
    expect(verdict.findings.length).toBeGreaterThan(0);
    expect(line.findings).toEqual(verdict.findings.map((f) => ({ policy: f.policy, mode: f.mode, path: f.path, message: f.message })));
    expect('findingsOmitted' in line).toBe(false);
    expect('findingsOmittedByPolicy' in line).toBe(false);
  });
});

describe('loggedFindings', () => {
  // Each finding counts its policy, path and message length, plus 64 for the keys around them.
  const sized = (policy: string, chars: number) => finding(policy, 'm'.repeat(chars - policy.length - 'spec.rules[0]'.length - 64));

  it('keeps findings in order while their text fits, then counts every later one by policy', () => {
    const half = LOGGED_FINDINGS_CHARS / 2;
    const out = loggedFindings([sized('a', half), sized('b', half), sized('a', 1000), sized('c', 100), sized('a', 100)]);
    expect(out.logged?.map((f) => f.policy)).toEqual(['a', 'b']);
    // Once one is left out, so are the ones after it, even those that would fit: the logged ones are always the first.
    expect(out.omitted).toBe(3);
    expect(out.omittedByPolicy).toEqual({ a: 2, c: 1 });
  });

  it('over the budget the denials come first, so the line says why a request was refused; within it the order is kept', () => {
    const half = LOGGED_FINDINGS_CHARS / 2;
    const deny = (policy: string, chars: number) => ({ ...sized(policy, chars), mode: 'deny' as const });
    const over = loggedFindings([sized('w1', half), sized('w2', half), deny('d1', 100), sized('w3', 100), deny('d2', 100)]);
    expect(over.logged?.map((f) => f.policy)).toEqual(['d1', 'd2', 'w1']);
    expect(over).toMatchObject({ omitted: 2, omittedByPolicy: { w2: 1, w3: 1 } });
    const within = loggedFindings([sized('w1', 100), deny('d1', 100), sized('w2', 100)]);
    expect(within.logged?.map((f) => f.policy)).toEqual(['w1', 'd1', 'w2']);
    // A denial the object is exempted from (reported as skip) denies nothing: it keeps its place.
    const skipped = { ...deny('d3', 100), result: 'skip' as const };
    expect(loggedFindings([sized('w1', half), sized('w2', half), skipped]).logged?.map((f) => f.policy)).toEqual(['w1', 'w2']);
  });

  it('writes the first finding however long (the logger then bounds the line), and nothing for no findings', () => {
    const out = loggedFindings([sized('a', LOGGED_FINDINGS_CHARS * 2), sized('b', 100)]);
    expect(out.logged?.map((f) => f.policy)).toEqual(['a']);
    expect(out).toMatchObject({ omitted: 1, omittedByPolicy: { b: 1 } });
    expect(loggedFindings([])).toEqual({ logged: undefined, omitted: 0, omittedByPolicy: undefined });
  });

  it('keeps the result of a skipped or failed policy', () => {
    const skipped = { ...finding('a', 'text'), result: 'skip' as const, exemption: 'annotation' };
    expect(loggedFindings([skipped]).logged).toEqual([{ policy: 'a', mode: 'warn', result: 'skip', path: 'spec.rules[0]', message: 'text' }]);
  });
});

describe('ReviewLine', () => {
  const request = (over: Partial<AdmissionRequest> = {}): AdmissionRequest => ({
    oldObject: null,
    uid: 'e491b020-abf2-4c5a-9d4e-2f7e1a6b0c11',
    kind: { group: 'aigateway.envoyproxy.io', version: 'v1alpha1', kind: 'AIGatewayRoute' },
    resource: { group: 'aigateway.envoyproxy.io', version: 'v1alpha1', resource: 'aigatewayroutes' },
    operation: 'CREATE',
    namespace: 'default',
    name: 'chat',
    object: null,
    ...over,
  }) as AdmissionRequest;
  const resource = { apiVersion: 'aigateway.envoyproxy.io/v1alpha1', kind: 'AIGatewayRoute', namespace: 'default', name: 'chat' };
  const verdict = (over: Partial<Verdict> = {}): Verdict => ({ allowed: true, findings: [], patch: [], events: [], fired: [], notices: [], observations: [], ...over });
  /** What the logger writes between the record's braces when it walks the record as JSON.stringify would. */
  const walked = (line: ReviewLine) => `,${JSON.stringify(line).slice(1, -1)}`;

  it('writes exactly the JSON of its own fields, in their order, for every shape of review', () => {
    const lines = [
      new ReviewLine('validate', request(), resource, verdict(), 35),
      new ReviewLine('mutate', request({ operation: 'UPDATE', dryRun: true }), resource, verdict({ patch: [{ op: 'add', path: '/a', value: 1 }], fired: ['p'] }), 1_500_000),
      new ReviewLine(
        'validate',
        // Strings JSON has to escape: quotes, backslashes, control characters, non-ASCII, a lone surrogate.
        request({ uid: 'u"1\\2', name: 'tab\there', namespace: 'ns-é', kind: { group: 'g', version: 'v1', kind: 'K\u2028' } }),
        { ...resource, name: 'tab\there', namespace: 'ns-é' },
        verdict({ allowed: false, fired: ['a', 'b'], findings: [{ ...finding('a', 'say "x"\n\ud800'), mode: 'deny' }], notices: ['the cluster cache is 400 s old'] }),
        0,
      ),
    ];
    for (const line of lines) expect(line[FIELDS_JSON]()).toBe(walked(line));
    expect(JSON.parse(`{${lines[0]![FIELDS_JSON]().slice(1)}}`)).toEqual({
      event: 'review',
      endpoint: 'validate',
      uid: 'e491b020-abf2-4c5a-9d4e-2f7e1a6b0c11',
      kind: 'AIGatewayRoute',
      namespace: 'default',
      name: 'chat',
      operation: 'CREATE',
      dryRun: false,
      allowed: true,
      policies: [],
      ms: 0.035,
    });
  });

  it('with findings over the budget, writes the omission counts as the record holds them', () => {
    const many = Array.from({ length: 40 }, (_, i) => finding(`p${i % 3}`, 'm'.repeat(600)));
    const line = new ReviewLine('validate', request(), resource, verdict({ findings: many, fired: ['p0', 'p1', 'p2'] }), 12_345);
    expect(line.findingsOmitted).toBeGreaterThan(0);
    expect(line[FIELDS_JSON]()).toBe(walked(line));
  });

  it('the JSON logger writes the record from its own text: the same line a walk of its fields gives', () => {
    const written: string[] = [];
    const logger = createLogger({ stream: new Writable({ write: (chunk, _enc, done) => (written.push(String(chunk)), done()) }) });
    const line = new ReviewLine('validate', request({ name: 'a"b' }), { ...resource, name: 'a"b' }, verdict(), 2_000);
    logger.info(line, 'review');
    logger.info({ ...line }, 'review');
    expect(written).toHaveLength(2);
    // The time differs at most; everything after it is the same text.
    const afterTime = (l: string) => l.slice(l.indexOf('"service"'));
    expect(afterTime(written[0]!)).toBe(afterTime(written[1]!));
    expect(afterTime(written[0]!)).toBe(`"service":"aigw-admission",${JSON.stringify({ ...line }).slice(1, -1)},"msg":"review"}\n`);
  });
});

describe('millisText', () => {
  it('is what JS prints for micros / 1000, for every count below a second and a spread of larger ones', () => {
    for (let micros = 0; micros < 1_000_000; micros++) if (millisText(micros) !== String(micros / 1000)) expect(millisText(micros)).toBe(String(micros / 1000));
    for (const micros of [1_000_000, 1_000_001, 86_400_000_000, 123_456_789_012, 999_999_999_999_999, 1e15, 1e15 + 1, 2 ** 53, -5, 0.5, Number.NaN]) {
      expect(millisText(micros)).toBe(String(micros / 1000));
    }
  });
});
