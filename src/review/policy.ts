import type { AdmissionRequest, Endpoint, EventDraft, FindingDraft, KubeObject, Mode, Observation, Operation } from '../kube/types.js';
import type { PatchBuilder } from './patch.js';
import type { World } from '../world/world.js';

export type { KindMatch } from '../kube/types.js';
import type { KindMatch } from '../kube/types.js';

export interface PolicyContext<P> {
  request: AdmissionRequest;
  operation: Operation;
  /** The object as admitted; on DELETE, null. */
  object: KubeObject | null;
  oldObject: KubeObject | null;
  params: P;
  /** The mode the policy runs in; in `audit` its patch is dropped, so what it reports should say so. */
  mode: Mode;
  world: World;
  now: Date;
  dryRun: boolean;
  /** For mutating policies: builds explicit JSON Patch operations against `object`. */
  patch: PatchBuilder;
  /**
   * A cache that lives for one review: `compute` runs once per (`scope`, `key` object) and every policy of the review
   * gets its result, so a model several policies derive from the same object is built once. Absent outside review().
   * `compute` gets the key and this context: a module-level function, not a closure made per call.
   */
  memo?: <K extends object, T>(scope: string, key: K, compute: (key: K, ctx: PolicyContext<unknown>) => T) => T;
  /** What `prepare` built from the params when the config was loaded; absent when the policy is called on its own. */
  prepared?: unknown;
}

/** No findings: what a policy that reported nothing (most, on most reviews) is read as. Shared and frozen. */
export const NO_FINDINGS: readonly FindingDraft[] = Object.freeze([]);

export interface PolicyResult {
  findings?: FindingDraft[];
  events?: EventDraft[];
  /** Things operators must be able to see that are not findings (a skipped injection, a missed lookup). */
  observations?: Observation[];
}

export interface Policy<P = Record<string, never>> {
  id: string;
  /** One line: what goes wrong in production when this fires. */
  description: string;
  endpoint: Endpoint;
  match: { kinds: KindMatch[]; operations: Operation[] };
  defaultMode: Mode;
  /** Modes this policy may be set to (mutating policies: warn applies and says so, audit only logs). */
  modes?: Mode[];
  /** Off unless the config turns it on (operator defaults). */
  defaultEnabled?: boolean;
  /** What an internal error inside the policy does to the review: fail closed (deny) or allow with a warning. */
  onError: 'deny' | 'allow-with-warning';
  /** JSON Schema (ajv) of `params` in the config; compiled once at load. */
  paramsSchema: Record<string, unknown>;
  defaultParams: P;
  /**
   * Built once per config load from the params and kept while that config is in force (compiled programs, caches), so
   * nothing that could be done once is done per review.
   */
  prepare?(params: P): unknown;
  evaluate(ctx: PolicyContext<P>): PolicyResult;
  /**
   * Whether the check has an exact CEL form the API server can run as a ValidatingAdmissionPolicy (`aigw-admission vap`,
   * deploy/overlays/vap), and if not, why. Every policy declares it; a test proves each form equivalent to `evaluate`.
   */
  vap?: VapDeclaration;
}

/** Why a policy has no ValidatingAdmissionPolicy form (`vap --explain-missing` prints these). */
export type VapMissingReason =
  /** Needs other objects (the cluster cache): a VAP sees only the object under review (and its params). */
  | 'cross-object'
  /** Judges a fall-over plan: cross-object and beyond what CEL can state exactly. */
  | 'fall-over'
  /** Writes a patch: a ValidatingAdmissionPolicy cannot mutate. */
  | 'mutation'
  /** Would need a loop or a parser CEL cannot afford within the API server's per-expression cost limit. */
  | 'cel-cost'
  /** The check itself is not expressible exactly in Kubernetes CEL (e.g. it compiles CEL, parses names). */
  | 'not-expressible';

export interface VapValidation {
  /** CEL over `object` (and `variables`), true when the object passes. */
  expression: string;
  /** Static message, which the API server shows when `messageExpression` fails. */
  message: string;
  /** CEL string naming the rule and the values, as close to the webhook's words as CEL allows. */
  messageExpression: string;
}

export interface VapForm {
  /** `spec.variables`, evaluated lazily by the API server, in order (later ones may use earlier ones). */
  variables?: { name: string; expression: string }[];
  validations: VapValidation[];
}

export type VapDeclaration = { form: VapForm } | { missing: VapMissingReason; why: string };

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyPolicy = Policy<any>;

export function definePolicy<P>(policy: Policy<P>): Policy<P> {
  return policy;
}
