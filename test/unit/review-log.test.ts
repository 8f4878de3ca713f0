/** The review's log line: every finding up to a text budget, in full; the rest counted by policy, never cut mid-line. */
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { LOGGED_FINDINGS_CHARS, loggedFindings, review } from '../../src/review/review.js';
import { MAX_LOG_LINE_BYTES, createLogger } from '../../src/observe/logger.js';
import { admissionReview, deps, route } from '../helpers.js';
import type { Finding } from '../../src/kube/types.js';

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
