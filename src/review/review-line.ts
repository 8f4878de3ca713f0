import { FIELDS_JSON } from './deps.js';
import { jsonString } from './text.js';
import type { Verdict } from './review.js';
import type { AdmissionRequest, Endpoint, Finding, ResourceRef } from '../kube/types.js';

/**
 * Characters of finding text a review's log line carries: a line is at most 16 KiB, and the rest of a review line
 * (uid, names, policy ids, notices) stays well under the other 4 KiB. Findings past it are counted, not written:
 * writing them all and then cutting the line down cost a review with hundreds of findings a third of its time, and
 * the cut kept only 20 of them anyway. `check` and `explain` give every finding in full.
 */
export const LOGGED_FINDINGS_CHARS = 12 * 1024;

/** A finding as the review line carries it: no resource (the line names it once), no note. */
export type LoggedFinding = Pick<Finding, 'policy' | 'mode' | 'result' | 'path' | 'message'>;

/**
 * The record of the one log line every review writes (`event: review`). Its fields are plain own properties, so any
 * logger sees an ordinary record; a JSON logger takes the text from FIELDS_JSON, written field by field in this order.
 * The generic walk over the record (for-in, a key lookup and a regex per field, an array of pieces, a fraction
 * formatted) was about 4 µs a review: a third of what a small review costs on its own.
 */
export class ReviewLine {
  readonly event = 'review';
  readonly endpoint: Endpoint;
  readonly uid: string;
  readonly kind: string;
  readonly namespace: string;
  readonly name: string;
  readonly operation: string;
  readonly dryRun: boolean;
  readonly allowed: boolean;
  /** Ids of the policies that reported a finding or wrote a patch. */
  readonly policies: string[];
  /** Messages carry field paths and values the policies chose to quote, never object contents. */
  readonly findings: LoggedFinding[] | undefined;
  readonly findingsOmitted: number | undefined;
  readonly findingsOmittedByPolicy: Record<string, number> | undefined;
  readonly patchOps: number | undefined;
  readonly notices: string[] | undefined;
  /** The review's time in ms, to the microsecond. */
  readonly ms: number;
  readonly #micros: number;

  /** `micros`: the review's time in whole microseconds. */
  constructor(endpoint: Endpoint, request: AdmissionRequest, resource: ResourceRef, verdict: Verdict, micros: number) {
    const { logged, omitted, omittedByPolicy } = loggedFindings(verdict.findings);
    this.endpoint = endpoint;
    this.uid = request.uid;
    this.kind = request.kind.kind;
    this.namespace = resource.namespace;
    this.name = resource.name;
    this.operation = request.operation;
    this.dryRun = request.dryRun === true;
    this.allowed = verdict.allowed;
    this.policies = verdict.fired;
    this.findings = logged;
    this.findingsOmitted = omitted || undefined;
    this.findingsOmittedByPolicy = omittedByPolicy;
    this.patchOps = verdict.patch.length || undefined;
    this.notices = verdict.notices.length ? verdict.notices : undefined;
    this.ms = micros / 1000;
    this.#micros = micros;
  }

  /** What `JSON.stringify(this)` writes between its braces, led by a comma. */
  [FIELDS_JSON](): string {
    let text = `,"event":"review","endpoint":${jsonString(this.endpoint)},"uid":${jsonString(this.uid)},"kind":${jsonString(this.kind)},"namespace":${jsonString(this.namespace)},"name":${jsonString(this.name)},"operation":${jsonString(this.operation)},"dryRun":${this.dryRun},"allowed":${this.allowed},"policies":${this.policies.length === 0 ? '[]' : JSON.stringify(this.policies)}`;
    if (this.findings !== undefined) text += `,"findings":${JSON.stringify(this.findings)}`;
    if (this.findingsOmitted !== undefined) text += `,"findingsOmitted":${this.findingsOmitted}`;
    if (this.findingsOmittedByPolicy !== undefined) text += `,"findingsOmittedByPolicy":${JSON.stringify(this.findingsOmittedByPolicy)}`;
    if (this.patchOps !== undefined) text += `,"patchOps":${this.patchOps}`;
    if (this.notices !== undefined) text += `,"notices":${JSON.stringify(this.notices)}`;
    return `${text},"ms":${millisText(this.#micros)}`;
  }
}

/**
 * The findings a review line carries within LOGGED_FINDINGS_CHARS, and how many are left out, by policy: all of them
 * in order when they fit (nearly always); over the budget the denials first, so the line always says why a request
 * was refused, then the rest in order.
 */
export function loggedFindings(findings: readonly Finding[]): { logged: LoggedFinding[] | undefined; omitted: number; omittedByPolicy: Record<string, number> | undefined } {
  if (findings.length === 0) return NO_LOGGED_FINDINGS;
  let total = 0;
  for (const f of findings) total += loggedChars(f);
  const ordered = total <= LOGGED_FINDINGS_CHARS ? findings : [...findings.filter(isDenial), ...findings.filter((f) => !isDenial(f))];
  const logged: LoggedFinding[] = [];
  let chars = 0;
  let omittedByPolicy: Record<string, number> | undefined;
  for (const f of ordered) {
    chars += loggedChars(f);
    // The first finding is always written, however long (the logger then cuts its message).
    if (omittedByPolicy === undefined && (chars <= LOGGED_FINDINGS_CHARS || logged.length === 0)) {
      logged.push(f.result ? { policy: f.policy, mode: f.mode, result: f.result, path: f.path, message: f.message } : { policy: f.policy, mode: f.mode, path: f.path, message: f.message });
      continue;
    }
    omittedByPolicy ??= {};
    omittedByPolicy[f.policy] = (omittedByPolicy[f.policy] ?? 0) + 1;
  }
  return { logged, omitted: findings.length - logged.length, omittedByPolicy };
}

/** About what a finding's JSON takes on the line: its text and the keys around it (escapes aside; the logger bounds the line). */
const loggedChars = (f: Finding): number => f.policy.length + f.path.length + f.message.length + 64;
const isDenial = (f: Finding): boolean => f.mode === 'deny' && f.result !== 'skip';

const NO_LOGGED_FINDINGS = Object.freeze({ logged: undefined, omitted: 0, omittedByPolicy: undefined });

/**
 * `String(micros / 1000)` for a whole, non-negative count of microseconds, written from integers: formatting the
 * fraction cost a tenth of the line. Below 10^15 a decimal with three places is exactly what JS prints for the double
 * nearest it (trailing zeros dropped); anything else is formatted as the number it is.
 */
export function millisText(micros: number): string {
  if (!Number.isSafeInteger(micros) || micros < 0 || micros >= 1e15) return String(micros / 1000);
  const whole = Math.floor(micros / 1000);
  const frac = micros - whole * 1000;
  if (frac === 0) return String(whole);
  if (frac % 100 === 0) return `${whole}.${frac / 100}`;
  if (frac % 10 === 0) return `${whole}.${frac < 100 ? '0' : ''}${frac / 10}`;
  return `${whole}.${frac < 10 ? '00' : frac < 100 ? '0' : ''}${frac}`;
}
