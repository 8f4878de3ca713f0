import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { answerReview } from '../../src/server/answer.js';
import { boundedDenial, boundedWarnings, cutToBytes, fitLines, fullTextPointer, notesDigest, shortFinding, utf8Bytes, WARNING_MAX_BYTES, WARNINGS_PER_REQUEST_BYTES } from '../../src/review/bounded-answer.js';
import type { AdmissionReviewResponse, Finding } from '../../src/kube/types.js';
import { review } from '../../src/review/review.js';
import { admissionReview, deps, modelMatch, route } from '../helpers.js';

const LAST_DENIAL_LINE = '…and 490 more (duration-syntax ×490); full text: aigw-admission explain --route team-a/chat';
const LAST_WARNING_LINE = '…and 1489 more (stream-idle-zero ×490, fallover-retry-missing ×999); full text: aigw-admission explain --route team-a/chat';

const twoLevels = [
  { name: 'openai', priority: 0 },
  { name: 'anthropic', priority: 1 },
];

/** The largest real combination: 15 rules (the CRD's maximum), each with two priority levels, and no retry anywhere. */
const fifteenRules = () => route(Array.from({ length: 15 }, (_, i) => ({ name: `model-${i}`, matches: modelMatch(`model-${i}`), backendRefs: twoLevels })));

function answer(body: unknown, endpoint: 'mutate' | 'validate'): AdmissionReviewResponse['response'] {
  const out = answerReview(JSON.stringify(body), endpoint, deps());
  return (JSON.parse(out.body) as AdmissionReviewResponse).response;
}

describe('the warnings budget, shared by /mutate and /validate', () => {
  it('keeps a 15-rule route with two priority levels and no retry under 4 KiB in all, every warning under 256, every policy id', () => {
    const input = admissionReview(fifteenRules());
    const mutated = answer(input, 'mutate');
    const validated = answer(input, 'validate');
    const all = [...(mutated.warnings ?? []), ...(validated.warnings ?? [])];
    expect(all.reduce((sum, w) => sum + utf8Bytes(w), 0)).toBeLessThanOrEqual(WARNINGS_PER_REQUEST_BYTES);
    for (const w of all) expect(utf8Bytes(w)).toBeLessThanOrEqual(WARNING_MAX_BYTES);
    expect(mutated.warnings).toEqual(['[defaults] wrote timeouts.request: 60s on 15 rules, modelsCreatedAt on 15 rules']);
    const { verdict } = review(input, 'validate', deps());
    const ids = [...new Set(verdict.findings.filter((f) => f.mode === 'warn').map((f) => f.policy))];
    expect(ids.length).toBeGreaterThan(0);
    for (const id of ids) expect(validated.warnings!.some((w) => w.startsWith(`[${id}] `))).toBe(true);
    expect(validated.warnings).toHaveLength(12);
    expect(validated.warnings![0]).toBe(
      '[fallover-retry-missing] spec.rules[0]: spec.rules[0] ("model-0"): it has 2 priority levels (priority 0 (openai), priority 1 (anthropic)), but no BackendTrafficPolicy retry applies to it: none targ… (full text: aigw-admission explain --route team-a/chat)',
    );
    expect(validated.warnings![11]).toBe('…and 4 more (fallover-retry-missing ×4); full text: aigw-admission explain --route team-a/chat');
  });
});

describe('bounded answers for an object with thousands of findings', () => {
  const rules = [
    ...Array.from({ length: 500 }, (_, i) => ({ name: `bad-${i}`, streamIdleTimeout: 'x'.repeat(500), backendRefs: twoLevels })),
    ...Array.from({ length: 500 }, (_, i) => ({ name: `zero-${i}`, streamIdleTimeout: '0s', timeouts: { request: '30s' }, backendRefs: twoLevels })),
  ];
  const input = admissionReview(route(rules));

  it('denies with a bounded status.message: the first denials, then "…and N more" naming the policies', () => {
    const validated = answer(input, 'validate');
    expect(validated.allowed).toBe(false);
    const lines = validated.status!.message.split('\n');
    expect(utf8Bytes(validated.status!.message)).toBeLessThanOrEqual(4096);
    for (const l of lines) expect(utf8Bytes(l)).toBeLessThanOrEqual(512);
    expect(lines.at(-1)).toBe(LAST_DENIAL_LINE);
    expect(utf8Bytes(validated.warnings!.join(''))).toBeLessThanOrEqual(3072);
    expect(validated.warnings!.at(-1)).toBe(LAST_WARNING_LINE);
  });
});

describe('the pieces', () => {
  it('cuts on a character boundary, counting UTF-8 bytes', () => {
    expect(cutToBytes('abcdef', 6)).toBe('abcdef');
    expect(cutToBytes('abcdef', 5)).toBe('ab…');
    expect(cutToBytes('ééééé', 7)).toBe('éé…');
    expect(cutToBytes('a😀b', 7)).toBe('a😀b');
    expect(cutToBytes('a😀bcd', 7)).toBe('a…');
    expect(cutToBytes('ab\ud800cdefgh', 9)).toBe('ab\ud800c…');
  });

  it('cuts exactly where cutting code point by code point with Buffer would, on any text', () => {
    const reference = (text: string, maxBytes: number): string => {
      if (Buffer.byteLength(text) <= maxBytes) return text;
      const room = maxBytes - Buffer.byteLength('…');
      if (room <= 0) return '';
      let bytes = 0;
      let end = 0;
      for (const ch of text) {
        const b = Buffer.byteLength(ch);
        if (bytes + b > room) break;
        bytes += b;
        end += ch.length;
      }
      return text.slice(0, end) + '…';
    };
    const text = fc.oneof(fc.string({ unit: 'grapheme' }), fc.string({ unit: 'binary' }), fc.string({ unit: fc.constantFrom('a', 'é', '€', '\ud83d', '\ude00', '😀') }));
    fc.assert(fc.property(text, fc.integer({ min: 0, max: 64 }), (t, max) => cutToBytes(t, max) === reference(t, max)), { numRuns: 2000 });
    // An ASCII stretch (cut without walking it) followed by anything, so the cut falls before, on and after the change.
    const asciiThen = fc.tuple(fc.string({ unit: fc.constantFrom('a', 'z', ' ', '"'), maxLength: 80 }), text).map(([ascii, rest]) => ascii + rest);
    fc.assert(fc.property(asciiThen, fc.integer({ min: 0, max: 96 }), (t, max) => cutToBytes(t, max) === reference(t, max)), { numRuns: 2000 });
  });

  it('cuts a long finding after its head: the same line as cutting the whole text, with the pointer to the full text', () => {
    const resource = { apiVersion: 'aigateway.envoyproxy.io/v1beta1', kind: 'AIGatewayRoute', namespace: 'team-a', name: 'chat' };
    const whole = (path: string, message: string, max: number): string => {
      const head = path ? `[fallover-retry-missing] ${path}: ` : '[fallover-retry-missing] ';
      const text = head + message;
      if (Buffer.byteLength(text) <= max) return text;
      const tail = ` (${fullTextPointer(resource)})`;
      const room = max - Buffer.byteLength(tail);
      return room < Buffer.byteLength(head) + 16 ? cutToBytes(text, max) : cutToBytes(text, room) + tail;
    };
    expect(shortFinding({ policy: 'fallover-retry-missing', path: 'spec.rules[0]', message: 'x'.repeat(300), resource }, 256)).toBe(
      `[fallover-retry-missing] spec.rules[0]: ${'x'.repeat(157)}… (full text: aigw-admission explain --route team-a/chat)`,
    );
    const text = fc.oneof(fc.string({ unit: 'grapheme', maxLength: 400 }), fc.string({ unit: fc.constantFrom('a', 'é', '€', '\ud83d', '\ude00', '😀'), maxLength: 400 }));
    const path = fc.constantFrom('', 'spec.rules[0]', 'spec.rules[12].backendRefs[3]');
    fc.assert(
      fc.property(path, text, fc.integer({ min: 40, max: 300 }), (p, m, max) => shortFinding({ policy: 'fallover-retry-missing', path: p, message: m, resource }, max) === whole(p, m, max)),
      { numRuns: 2000 },
    );
  });

  it('counts notes per rule, saying a shared verb once', () => {
    const note = (policy: string, path: string, phrase: string) => ({ policy, path, note: phrase, message: 'long', mode: 'warn', resource: { apiVersion: '', kind: '', namespace: '', name: '' } }) as Finding;
    expect(
      notesDigest([note('default-request-timeout', 'spec.rules[0].timeouts.request', 'wrote timeouts.request: 60s'), note('default-request-timeout', 'spec.rules[3].timeouts.request', 'wrote timeouts.request: 60s'), note('default-models-created-at', 'spec.rules[0].modelsCreatedAt', 'wrote modelsCreatedAt')]),
    ).toBe('[defaults] wrote timeouts.request: 60s on 2 rules, modelsCreatedAt on 1 rule');
  });
});


describe('/mutate and objects the schema refuses', () => {
  it('writes no patch for a route over the CRD list limits, and says why in one line', () => {
    const huge = route(Array.from({ length: 3000 }, (_, i) => ({ name: `r-${i}`, backendRefs: twoLevels })));
    const out = answerReview(JSON.stringify(admissionReview(huge)), 'mutate', deps());
    expect(JSON.parse(out.body).response).toEqual({
      uid: expect.any(String),
      allowed: true,
      warnings: ['not mutated: spec.rules: Too many: 3000: must have at most 15 items, so the API server refuses this object whatever the webhook writes'],
    });
    expect(out.body.length).toBeLessThan(512);
  });
});

/**
 * The previous wording of fitLines and notesDigest (array methods over arrays of mixed element kinds, which kept V8
 * recompiling the answer path): the rewrite must give the same text for every input.
 */
function previousFitLines(items: ReadonlyArray<{ policy: string; line: (maxBytes: number) => string }>, budget: number, lineMax: number, pointer: string): string[] {
  const full = items.map((i) => i.line(lineMax));
  const fullBytes = full.map(utf8Bytes);
  if (fullBytes.reduce((sum, b) => sum + b, 0) <= budget) return full;
  const firstOfPolicy: number[] = [];
  const seen = new Set<string>();
  items.forEach((i, n) => {
    if (!seen.has(i.policy)) firstOfPolicy.push(n), seen.add(i.policy);
  });
  const reserve = Math.min(lineMax, 160);
  const room = budget - reserve;
  let headMax = lineMax;
  let heads = firstOfPolicy.map((n) => full[n]!);
  let headSizes = firstOfPolicy.map((n) => fullBytes[n]!);
  while (headMax > 48 && headSizes.reduce((sum, b) => sum + b, 0) > room) {
    headMax = Math.floor(headMax * 0.9);
    heads = firstOfPolicy.map((n) => items[n]!.line(headMax));
    headSizes = heads.map(utf8Bytes);
  }
  const chosen = new Map<number, string>();
  let used = 0;
  firstOfPolicy.forEach((n, k) => {
    chosen.set(n, heads[k]!);
    used += headSizes[k]!;
  });
  for (let n = 0; n < items.length; n++) {
    if (chosen.has(n)) continue;
    if (used + fullBytes[n]! > room) continue;
    chosen.set(n, full[n]!);
    used += fullBytes[n]!;
  }
  const lines = [...chosen].sort((a, b) => a[0] - b[0]).map(([, l]) => l);
  const left = items.filter((_, n) => !chosen.has(n));
  if (left.length > 0) {
    const counts = new Map<string, number>();
    for (const i of left) counts.set(i.policy, (counts.get(i.policy) ?? 0) + 1);
    const named = [...counts].map(([p, c]) => `${p} ×${c}`).join(', ');
    lines.push(cutToBytes(`…and ${left.length} more (${named}); ${pointer}`, Math.min(reserve, budget - used)));
  }
  return lines;
}

function previousNotesDigest(notes: readonly Finding[]): string | undefined {
  if (notes.length === 0) return undefined;
  const groups = new Map<string, { count: number; perRule: boolean }>();
  for (const n of notes) {
    const phrase = n.note ?? n.message;
    const g = groups.get(phrase) ?? { count: 0, perRule: true };
    g.count++;
    g.perRule &&= /^spec\.rules\[\d+\]/.test(n.path);
    groups.set(phrase, g);
  }
  const ids = [...new Set(notes.map((n) => n.policy))];
  const tag = ids.length === 1 ? ids[0] : ids.every((id) => id.startsWith('default-')) ? 'defaults' : ids.join(',');
  let lastVerb = '';
  const parts = [...groups].map(([phrase, g]) => {
    const space = phrase.indexOf(' ');
    const verb = space > 0 ? phrase.slice(0, space) : '';
    const text = verb && verb === lastVerb ? phrase.slice(space + 1) : phrase;
    lastVerb = verb;
    if (g.count === 1 && !g.perRule) return text;
    return `${text} on ${g.count} ${g.perRule ? (g.count === 1 ? 'rule' : 'rules') : 'objects'}`;
  });
  return `[${tag}] ${parts.join(', ')}`;
}

describe('fitLines, boundedWarnings and notesDigest word exactly what they did before their rewrite into plain loops', () => {
  const resource = { apiVersion: 'aigateway.envoyproxy.io/v1alpha1', kind: 'AIGatewayRoute', namespace: 'team-a', name: 'chat' };
  const policy = fc.constantFrom('fallover-retry-missing', 'stream-idle-zero', 'duration-syntax', 'default-request-timeout', 'default-models-created-at', 'route-rule-index');
  const text = fc.oneof(fc.string({ maxLength: 700 }), fc.string({ unit: fc.constantFrom('a', ' ', 'é', '€', '😀', '"'), maxLength: 500 }));
  const finding = fc.record({
    policy,
    mode: fc.constantFrom('warn', 'deny', 'audit'),
    path: fc.constantFrom('', 'spec.rules[0]', 'spec.rules[12].timeouts.request', 'metadata.annotations', 'spec.rulesX[1]'),
    message: text,
    note: fc.option(fc.constantFrom('wrote timeouts.request: 60s', 'wrote modelsCreatedAt', 'set', ''), { nil: undefined }),
  });

  it('fitLines: the same lines for every list of items, budget and line length', () => {
    fc.assert(
      fc.property(fc.array(fc.record({ policy, message: text }), { maxLength: 40 }), fc.integer({ min: 0, max: 5000 }), fc.integer({ min: 40, max: 600 }), (raw, budget, lineMax) => {
        // An empty message gives an empty line: fitLines must not take it for one left out.
        const items = raw.map((r) => ({ policy: r.policy, line: (max: number) => (r.message === '' ? '' : cutToBytes(`[${r.policy}] ${r.message}`, max)) }));
        expect(fitLines(items, budget, lineMax, 'full text: aigw-admission check -f FILE')).toEqual(previousFitLines(items, budget, lineMax, 'full text: aigw-admission check -f FILE'));
      }),
      { numRuns: 1500 },
    );
  });

  it('boundedWarnings and boundedDenial: the same answer text for every set of findings and notices', () => {
    fc.assert(
      fc.property(fc.array(finding, { maxLength: 60 }), fc.array(text, { maxLength: 3 }), fc.constantFrom('mutate' as const, 'validate' as const), (raw, notices, endpoint) => {
        const findings = raw.map((f) => ({ ...f, resource }) as Finding);
        const warned = findings.filter((f) => f.mode === 'warn' && !f.note);
        const notes = findings.filter((f) => f.mode === 'warn' && f.note);
        const digest = previousNotesDigest(notes);
        const digestLine = digest === undefined ? undefined : cutToBytes(digest, WARNING_MAX_BYTES);
        const items = [
          ...warned.map((f) => ({ policy: f.policy, line: (max: number) => shortFinding(f, max) })),
          ...notices.map((t) => ({ policy: 'cache', line: (max: number) => cutToBytes(t, max) })),
        ];
        const room = (endpoint === 'validate' ? 3072 : 1024) - (digestLine ? utf8Bytes(digestLine) : 0);
        const expected = previousFitLines(items, room, WARNING_MAX_BYTES, fullTextPointer(resource));
        if (digestLine) expected.push(digestLine);
        expect(boundedWarnings(findings, notices, endpoint, resource)).toEqual(expected);
        const denials = findings.filter((f) => f.mode === 'deny');
        const denialItems = denials.map((f) => ({ policy: f.policy, line: (max: number) => shortFinding(f, max) }));
        expect(boundedDenial(denials, resource)).toBe(previousFitLines(denialItems, 4096 - denialItems.length, 512, fullTextPointer(resource)).join('\n'));
      }),
      { numRuns: 1500 },
    );
  });

  it('notesDigest: the same line for every list of notes', () => {
    fc.assert(
      fc.property(fc.array(finding, { maxLength: 40 }), (raw) => {
        const notes = raw.map((f) => ({ ...f, resource }) as Finding);
        expect(notesDigest(notes)).toBe(previousNotesDigest(notes));
      }),
      { numRuns: 2000 },
    );
  });
});
