/**
 * What an AdmissionReview answer may carry. The API server keeps 4 KiB of warnings per request, summed over every
 * webhook that answers it, cuts each warning to 256 characters and drops the rest; so the mutating and the validating
 * webhook each get a share, findings come before notes, and every finding's policy id survives. The full text stays in
 * the verdict: `check`, the log and the Event have it.
 */
import type { Endpoint, Finding, ResourceRef } from '../kube/types.js';

/** The API server's limits (k8s.io/apiserver/pkg/warning): per request, and per warning. */
export const WARNINGS_PER_REQUEST_BYTES = 4096;
export const WARNING_MAX_BYTES = 256;

/** Each endpoint's share of the 4 KiB: notes about defaults are one line, findings need the room. */
export const WARNING_SHARE_BYTES: Readonly<Record<Endpoint, number>> = Object.freeze({ validate: 3072, mutate: 1024 });

/** A denial's `status.message`: kubectl prints it whole, so it is bounded too, with longer lines than warnings. */
export const DENIAL_MESSAGE_MAX_BYTES = 4096;
export const DENIAL_LINE_MAX_BYTES = 512;

const ELLIPSIS = '…';
const NON_ASCII = /[^\x00-\x7f]/;

/** UTF-8 bytes of a string. */
export function utf8Bytes(text: string): number {
  return Buffer.byteLength(text, 'utf8');
}

/**
 * Whether text fits `maxBytes` of UTF-8. Every UTF-16 unit is 1 to 3 bytes: short text fits and text longer in units
 * than the budget does not, neither measured.
 */
function fitsBytes(text: string, maxBytes: number): boolean {
  return text.length * 3 <= maxBytes || (text.length <= maxBytes && utf8Bytes(text) <= maxBytes);
}

/** Text cut to at most `maxBytes` of UTF-8, on a character boundary, ending in "…" when cut. */
export function cutToBytes(text: string, maxBytes: number): string {
  if (fitsBytes(text, maxBytes)) return text;
  const room = maxBytes - utf8Bytes(ELLIPSIS);
  if (room <= 0) return '';
  // Most text is ASCII, one byte a unit: the cut is at `room` units, found without walking them one by one.
  if (!NON_ASCII.test(text.slice(0, room))) return text.slice(0, room) + ELLIPSIS;
  // UTF-8 length per code point from its UTF-16 units, as Buffer encodes them (a lone surrogate is U+FFFD, 3 bytes).
  let bytes = 0;
  let end = 0;
  while (end < text.length) {
    const unit = text.charCodeAt(end);
    let size = 3;
    let units = 1;
    if (unit < 0x80) size = 1;
    else if (unit < 0x800) size = 2;
    else if (unit >= 0xd800 && unit <= 0xdbff && end + 1 < text.length) {
      const next = text.charCodeAt(end + 1);
      if (next >= 0xdc00 && next <= 0xdfff) (size = 4), (units = 2);
    }
    if (bytes + size > room) break;
    bytes += size;
    end += units;
  }
  return text.slice(0, end) + ELLIPSIS;
}

/** Where the whole story of a finding is: `explain` for a route in the cluster, `check` for anything else. */
export function fullTextPointer(resource: ResourceRef): string {
  if (resource.kind === 'AIGatewayRoute' && resource.name) {
    return `full text: aigw-admission explain --route ${resource.namespace ? `${resource.namespace}/` : ''}${resource.name}`;
  }
  return 'full text: aigw-admission check -f FILE';
}

/** `[policy] path: message`, cut to `maxBytes` with a pointer to the full text when cut. */
export function shortFinding(f: Pick<Finding, 'policy' | 'path' | 'message' | 'resource'>, maxBytes: number): string {
  const head = f.path ? `[${f.policy}] ${f.path}: ` : `[${f.policy}] `;
  const whole = head + f.message;
  if (fitsBytes(whole, maxBytes)) return whole;
  const tail = ` (${fullTextPointer(f.resource)})`;
  const room = maxBytes - utf8Bytes(tail);
  // Too little room for the pointer: keep the policy id and the field, which say most.
  const headBytes = utf8Bytes(head);
  if (room < headBytes + 16) return cutToBytes(whole, maxBytes);
  // The message cut after the head, not the joined text: cutting copies the whole text it cuts into one string, and
  // the message is copied so anyway when it is logged; the joined one was a second copy of every long message.
  return head + cutToBytes(f.message, room - headBytes) + tail;
}

/**
 * Mutation notes as one line per object: `[defaults] wrote timeouts.request on 15 rules, modelsCreatedAt on 15 rules`.
 * Notes with the same phrase are counted, per rule when they are under `spec.rules[N]`.
 */
export function notesDigest(notes: readonly Finding[]): string | undefined {
  if (notes.length === 0) return undefined;
  const phrases: string[] = [];
  const groups = new Map<string, { count: number; perRule: boolean }>();
  const ids: string[] = [];
  for (let i = 0; i < notes.length; i++) {
    const n = notes[i]!;
    const phrase = n.note ?? n.message;
    let g = groups.get(phrase);
    if (g === undefined) {
      g = { count: 0, perRule: true };
      groups.set(phrase, g);
      phrases.push(phrase);
    }
    g.count++;
    if (g.perRule && !RULE_PATH.test(n.path)) g.perRule = false;
    // A review's notes come from a few policies: a scan, not a Set.
    if (!ids.includes(n.policy)) ids.push(n.policy);
  }
  const tag = ids.length === 1 ? ids[0] : ids.every((id) => id.startsWith('default-')) ? 'defaults' : ids.join(',');
  let lastVerb = '';
  let text = '';
  for (let i = 0; i < phrases.length; i++) {
    const phrase = phrases[i]!;
    const g = groups.get(phrase)!;
    const space = phrase.indexOf(' ');
    const verb = space > 0 ? phrase.slice(0, space) : '';
    // "wrote a on 15 rules, b on 15 rules": a verb said once.
    const part = verb && verb === lastVerb ? phrase.slice(space + 1) : phrase;
    lastVerb = verb;
    if (i > 0) text += ', ';
    text += g.count === 1 && !g.perRule ? part : `${part} on ${g.count} ${g.perRule ? (g.count === 1 ? 'rule' : 'rules') : 'objects'}`;
  }
  return `[${tag}] ${text}`;
}

const RULE_PATH = /^spec\.rules\[\d+\]/;

/** One line to fit: its policy (each policy keeps one line at least) and the line cut to a length. */
interface FitItem {
  policy: string;
  line: (maxBytes: number) => string;
}

/** A finding as a line to fit, for warnings and denials alike. */
function findingItem(f: Finding): FitItem {
  return { policy: f.policy, line: (max: number) => shortFinding(f, max) };
}

/**
 * Lines that fit a byte budget, in order: each cut to `lineMax`; when they do not all fit, the first line of every
 * policy first (so each policy id survives), then as many of the rest as fit, then "…and N more" naming the policies
 * of those left out.
 *
 * Plain loops into arrays that only ever hold one kind of element. Answers alternate between reviews with warnings
 * and reviews with none, and an empty array made by `map` (an array of small integers, as V8 sees it) that a string
 * was then pushed onto sent the optimised code back to the interpreter again and again, each time for a recompile of
 * tens of milliseconds on V8's compiler thread: in a served run, compiling outweighed the warnings themselves.
 */
export function fitLines(items: readonly FitItem[], budget: number, lineMax: number, pointer: string): string[] {
  const full: string[] = [];
  const fullBytes: number[] = [];
  let total = 0;
  for (let n = 0; n < items.length; n++) {
    const line = items[n]!.line(lineMax);
    const bytes = utf8Bytes(line);
    full.push(line);
    fullBytes.push(bytes);
    total += bytes;
  }
  if (total <= budget) return full;

  const firstOfPolicy: number[] = [];
  const seen = new Set<string>();
  for (let n = 0; n < items.length; n++) {
    const policy = items[n]!.policy;
    if (!seen.has(policy)) {
      firstOfPolicy.push(n);
      seen.add(policy);
    }
  }
  // Room for the closing "…and N more" line, then shrink the headline lines until all of them fit (each length's
  // lines made and measured once).
  const reserve = Math.min(lineMax, 160);
  const room = budget - reserve;
  let headMax = lineMax;
  let heads: string[] = [];
  let headBytes = 0;
  for (let k = 0; k < firstOfPolicy.length; k++) {
    heads.push(full[firstOfPolicy[k]!]!);
    headBytes += fullBytes[firstOfPolicy[k]!]!;
  }
  while (headMax > 48 && headBytes > room) {
    headMax = Math.floor(headMax * 0.9);
    heads = [];
    headBytes = 0;
    for (let k = 0; k < firstOfPolicy.length; k++) {
      const line = items[firstOfPolicy[k]!]!.line(headMax);
      heads.push(line);
      headBytes += utf8Bytes(line);
    }
  }
  // The line chosen for each item, and whether it was chosen at all.
  const chosen: string[] = [];
  const picked: boolean[] = [];
  for (let n = 0; n < items.length; n++) {
    chosen.push('');
    picked.push(false);
  }
  for (let k = 0; k < firstOfPolicy.length; k++) {
    chosen[firstOfPolicy[k]!] = heads[k]!;
    picked[firstOfPolicy[k]!] = true;
  }
  let used = headBytes;
  for (let n = 0; n < items.length; n++) {
    if (picked[n] || used + fullBytes[n]! > room) continue;
    chosen[n] = full[n]!;
    picked[n] = true;
    used += fullBytes[n]!;
  }
  const lines: string[] = [];
  const leftOut = new Map<string, number>();
  let left = 0;
  for (let n = 0; n < items.length; n++) {
    if (picked[n]) {
      lines.push(chosen[n]!);
      continue;
    }
    left++;
    const policy = items[n]!.policy;
    leftOut.set(policy, (leftOut.get(policy) ?? 0) + 1);
  }
  if (left > 0) {
    let named = '';
    for (const [policy, count] of leftOut) named += `${named === '' ? '' : ', '}${policy} ×${count}`;
    lines.push(cutToBytes(`${ELLIPSIS}and ${left} more (${named}); ${pointer}`, Math.min(reserve, budget - used)));
  }
  return lines;
}

/** The warnings of one answer: warn findings, then review notices, then the one-line notes digest, within the share. */
export function boundedWarnings(
  findings: readonly Finding[],
  notices: readonly string[],
  endpoint: Endpoint,
  resource: ResourceRef,
  budget: number = WARNING_SHARE_BYTES[endpoint],
): string[] {
  const items: FitItem[] = [];
  const notes: Finding[] = [];
  for (let i = 0; i < findings.length; i++) {
    const f = findings[i]!;
    if (f.mode !== 'warn') continue;
    if (f.note) notes.push(f);
    else items.push(findingItem(f));
  }
  for (let i = 0; i < notices.length; i++) {
    const text = notices[i]!;
    items.push({ policy: 'cache', line: (max: number) => cutToBytes(text, max) });
  }
  const digest = notesDigest(notes);
  const digestLine = digest === undefined ? undefined : cutToBytes(digest, WARNING_MAX_BYTES);
  const room = budget - (digestLine ? utf8Bytes(digestLine) : 0);
  const lines = fitLines(items, room, WARNING_MAX_BYTES, fullTextPointer(resource));
  if (digestLine) lines.push(digestLine);
  return lines;
}

/** A denial's `status.message`: the deny findings, one per line, within its bound. */
export function boundedDenial(denials: readonly Finding[], resource: ResourceRef): string {
  const items: FitItem[] = [];
  for (let i = 0; i < denials.length; i++) items.push(findingItem(denials[i]!));
  // Lines are joined with "\n": one byte each, reserved from the budget.
  return fitLines(items, DENIAL_MESSAGE_MAX_BYTES - items.length, DENIAL_LINE_MAX_BYTES, fullTextPointer(resource)).join('\n');
}
