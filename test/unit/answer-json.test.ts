import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { ANSWER_FIELDS, admissionReviewJson } from '../../src/review/answer-json.js';
import { buildResponse, review } from '../../src/review/review.js';
import { parseAdmissionReview } from '../../src/review/parse.js';
import type { Verdict } from '../../src/review/review.js';
import type { AdmissionReviewResponse, Finding } from '../../src/kube/types.js';
import { HAS_SHARED, ROOT, SHARED, deps, fallingOverWorld, listFiles, readJson } from '../helpers.js';

const about = { apiVersion: 'aigateway.envoyproxy.io/v1beta1', kind: 'AIGatewayRoute', namespace: 'team-a', name: 'chat' };

function verdict(findings: Partial<Finding>[], extra: Partial<Verdict> = {}): Verdict {
  return {
    allowed: !findings.some((f) => f.mode === 'deny'),
    findings: findings.map((f) => ({ policy: 'p', mode: 'warn', resource: about, path: 'spec.rules[0]', message: 'm', ...f }) as Finding),
    notices: [],
    patch: [],
    fired: [],
    observations: [],
    events: [],
    ...extra,
  };
}

const same = (r: AdmissionReviewResponse) => expect(admissionReviewJson(r)).toBe(JSON.stringify(r));

describe('admissionReviewJson: the answer text, without the general serializer', () => {
  it('is JSON.stringify of the plain answer most reviews get', () => {
    const r = buildResponse('7d1c2a90-0001-4f6e-9a51-3b2f1c0d0001', verdict([]), 'validate', about);
    expect(admissionReviewJson(r)).toBe(
      '{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","response":{"uid":"7d1c2a90-0001-4f6e-9a51-3b2f1c0d0001","allowed":true}}',
    );
  });

  it('is JSON.stringify of a denial with warnings, whatever the text holds', () => {
    const r = buildResponse(
      'uid "quoted" \\ é \u2028',
      verdict([
        { mode: 'deny', message: 'line one\nline two "quoted" \\ tab\t \u0001 é 🚀 \ud800 lone' },
        { mode: 'warn', message: 'a warning with "quotes" and é' },
      ]),
      'validate',
      about,
    );
    expect(r.response.status?.code).toBe(403);
    expect(r.response.warnings).toHaveLength(1);
    same(r);
  });

  it('is JSON.stringify of a patched mutate answer, and writes the fields in the order buildResponse sets them', () => {
    const r = buildResponse('u-1', verdict([{ mode: 'warn', message: 'wrote it' }], { patch: [{ op: 'add', path: '/spec/x', value: 1 }] }), 'mutate', about);
    expect(r.response.patch).toBe(Buffer.from('[{"op":"add","path":"/spec/x","value":1}]').toString('base64'));
    same(r);
    const denied = buildResponse('u-2', verdict([{ mode: 'deny' }, { mode: 'warn' }]), 'validate', about);
    expect([...new Set([...Object.keys(denied.response), ...Object.keys(r.response)])]).toEqual(ANSWER_FIELDS.filter((f) => f in denied.response || f in r.response));
    expect(Object.keys(r.response)).toEqual(['uid', 'allowed', 'warnings', 'patchType', 'patch']);
    expect(Object.keys(denied.response)).toEqual(['uid', 'allowed', 'status', 'warnings']);
  });

  it('is JSON.stringify of the answer to every project fixture, on both endpoints', () => {
    const files = listFiles(join(ROOT, 'test/fixtures/admission-reviews'), '.json');
    expect(files.length).toBeGreaterThan(2);
    for (const file of files) {
      for (const endpoint of ['validate', 'mutate'] as const) same(review(parseAdmissionReview(readJson(file)), endpoint, deps({ world: fallingOverWorld() })).review);
    }
  });
});

describe.runIf(HAS_SHARED)('admissionReviewJson on the real kube-apiserver bodies (../shared/fixtures/admission-reviews)', () => {
  it('is JSON.stringify of the answer to each, on both endpoints', () => {
    const files = HAS_SHARED ? listFiles(join(SHARED, 'fixtures/admission-reviews'), '.json') : [];
    expect(files.length).toBeGreaterThan(10);
    let withWarnings = 0;
    for (const file of files) {
      for (const endpoint of ['validate', 'mutate'] as const) {
        const r = review(parseAdmissionReview(readJson(file)), endpoint, deps({ world: fallingOverWorld() })).review;
        if (r.response.warnings) withWarnings++;
        same(r);
      }
    }
    expect(withWarnings).toBeGreaterThan(0);
  });
});
