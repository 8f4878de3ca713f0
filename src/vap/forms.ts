/**
 * The CEL forms of the single-object checks, as the API server runs them in a ValidatingAdmissionPolicy
 * (admissionregistration.k8s.io/v1, Kubernetes 1.30+). `object` is the AIGatewayRoute (or BackendTrafficPolicy) after
 * schema validation, so every duration matches the GEP-2257 pattern and `duration()` (Go time.ParseDuration) reads it
 * exactly as src/model/duration.ts does.
 *
 * Only CEL that both the API server and @marcbachmann/cel-js (the equivalence tests) run the same way is used:
 * has(), size(), duration() and its comparisons, string(int), all/exists/filter/map, `?:`. Not used: optional fields
 * (`.?x`, cel-js does not parse them), list.sum() (cel-js lacks it), string(duration) (cel-js lacks it; cel-go would
 * print `90s` for `1m30s` anyway), has() on an indexed operand (`has(l[i].x)`, which cel-js refuses): a rule picked by
 * index is bound to a name with `[l[i]].map(r, …)` instead.
 */
import type { VapForm, VapValidation } from '../review/policy.js';
import { HTTPROUTE_LIMITS as L } from '../model/httproute.js';
import { IMPLIED_REQUEST_TIMEOUT_MS } from '../model/timeouts.js';
import { formatDuration } from '../model/duration.js';

/** `maxItems` of `spec.rules` in the AIGatewayRoute CRD (v1alpha1 and v1beta1); a test reads the CRD to keep it true. */
export const AIGR_RULES_MAX_ITEMS = 15;
/** `maxItems` of `spec.rules[].backendRefs` and `spec.rules[].matches` in the AIGatewayRoute CRD. */
export const AIGR_RULE_LIST_MAX_ITEMS = 128;

/** A CEL string literal (double-quoted; the texts are ASCII, so JSON escaping is CEL escaping). */
export const lit = (s: string): string => JSON.stringify(s);

const RULES = 'object.spec.rules';
const HAS_RULES = 'has(object.spec) && has(object.spec.rules)';
const ZERO = "duration('0s')";
const IMPLIED = formatDuration(IMPLIED_REQUEST_TIMEOUT_MS);
const IMPLIED_DURATION = `duration('${IMPLIED_REQUEST_TIMEOUT_MS / 1000}s')`;

/** `has(r.a) && has(r.a.b)`: a field of a rule, present at every level. */
function has(r: string, path: string): string {
  const parts = path.split('.');
  return parts.map((_, i) => `has(${r}.${parts.slice(0, i + 1).join('.')})`).join(' && ');
}

const hasBackendRequest = (r: string) => has(r, 'timeouts.backendRequest');
const hasRequest = (r: string) => has(r, 'timeouts.request');
const hasIdle = (r: string) => has(r, 'streamIdleTimeout');

/** The bound on one attempt (src/model/timeouts.ts attemptBound): backendRequest, else request, else the implied 60s. */
function attemptBound(r: string): string {
  return `(${hasBackendRequest(r)} ? duration(${r}.timeouts.backendRequest) : ${hasRequest(r)} ? duration(${r}.timeouts.request) : ${IMPLIED_DURATION})`;
}
/** The same bound as the object spells it, or the implied one as the webhook prints it. */
function attemptBoundText(r: string): string {
  return `(${hasBackendRequest(r)} ? ${r}.timeouts.backendRequest : ${hasRequest(r)} ? ${r}.timeouts.request : ${lit(IMPLIED)})`;
}
/** Why that bound applies, in attemptBound()'s words. */
function attemptBoundReason(r: string): string {
  return (
    `(${hasBackendRequest(r)} ? ${lit('timeouts.backendRequest ')} + ${r}.timeouts.backendRequest + ${lit(', which Envoy Gateway programs as the route timeout when set')}` +
    ` : ${hasRequest(r)} ? ${lit('timeouts.request ')} + ${r}.timeouts.request + ${lit('; no timeouts.backendRequest')}` +
    ` : ${lit(`timeouts.request unset: the controller's implied ${IMPLIED}; no timeouts.backendRequest`)})`
  );
}
const ruleLabel = (r: string, i: string) => `'spec.rules[' + string(${i}) + '] ' + (has(${r}.name) ? '("' + ${r}.name + '")' : '(unnamed)')`;

/**
 * A form built on first read: building the CEL text of every form cost 30–40 ms at import, on every CLI start, while
 * only `vap` and its tests read them.
 */
function lazyForm(build: () => VapForm): VapForm {
  let form: VapForm | undefined;
  const get = () => (form ??= build());
  return {
    get variables() {
      return get().variables;
    },
    get validations() {
      return get().validations;
    },
  };
}

/** `[0, 1, …, n-1]`: indexes to pick offending rules by (CEL of Kubernetes 1.30 has no range()). */
const indexes = (n: number) => `[${Array.from({ length: n }, (_, i) => i).join(', ')}]`;

export interface RuleCheck {
  /** Variable name holding the indexes of the offending rules (for the message). */
  name: string;
  /** CEL, true when rule `r` is wrong. */
  bad: (r: string) => string;
  /** The field the finding points at, after `spec.rules[i]`. */
  field: string;
  /** CEL string: the message after the rule label, for rule `r`. */
  text: (r: string) => string;
}

/**
 * A check of each rule: the expression holds when no rule is wrong; the message names the first wrong rule like the
 * webhook does (`[policy] spec.rules[i].field: spec.rules[i] ("name"): …`) and counts the others.
 */
export function ruleChecks(policyId: string, checks: RuleCheck[], staticMessages: string[]): VapForm {
  const variables = checks.map((c) => ({
    name: c.name,
    expression: `${HAS_RULES} ? ${indexes(AIGR_RULES_MAX_ITEMS)}.filter(i, i < size(${RULES}) && [${RULES}[i]].exists(r, ${c.bad('r')})) : []`,
  }));
  const validations: VapValidation[] = checks.map((c, k) => {
    const v = `variables.${c.name}`;
    return {
      expression: `!(${HAS_RULES}) || ${RULES}.all(r, !(${c.bad('r')}))`,
      message: `[${policyId}] ${staticMessages[k]}`,
      messageExpression:
        `[${RULES}[${v}[0]]].map(r, '[${policyId}] spec.rules[' + string(${v}[0]) + ']${c.field}: ' + ${ruleLabel('r', `${v}[0]`)} + ': ' + ${c.text('r')}` +
        ` + (size(${v}) > 1 ? ' (and ' + string(size(${v}) - 1) + ' more rules)' : ''))[0]`,
    };
  });
  return { variables, validations };
}

export const STREAM_IDLE_WITHIN_REQUEST_VAP: VapForm = lazyForm(() => ruleChecks(
  'stream-idle-within-request',
  [
    {
      name: 'idleNotBelowBound',
      field: '.streamIdleTimeout',
      bad: (r) =>
        `${hasIdle(r)} && duration(${r}.streamIdleTimeout) != ${ZERO} && ${attemptBound(r)} != ${ZERO} && duration(${r}.streamIdleTimeout) >= ${attemptBound(r)}`,
      text: (r) =>
        `'streamIdleTimeout ' + ${r}.streamIdleTimeout + ' is not shorter than the ' + ${attemptBoundText(r)} + ' bound on one attempt (' + ${attemptBoundReason(r)} + ` +
        `'), so the idle timer can never fire first and a silent model is never failed over. Fix: set streamIdleTimeout below ' + ${attemptBoundText(r)} + ', or ' + ` +
        `(${hasBackendRequest(r)} ? 'raise timeouts.backendRequest' : ${hasRequest(r)} ? 'raise timeouts.request' : 'set timeouts.request') + ' above ' + ${r}.streamIdleTimeout + '.'`,
    },
  ],
  ['a rule has a streamIdleTimeout not shorter than the bound on one attempt (timeouts.backendRequest, else timeouts.request, else the implied 60s), so the idle timer can never fire first.'],
));

export const STREAM_IDLE_ZERO_VAP: VapForm = lazyForm(() => ruleChecks(
  'stream-idle-zero',
  [
    {
      name: 'idleZero',
      field: '.streamIdleTimeout',
      bad: (r) => `${hasIdle(r)} && duration(${r}.streamIdleTimeout) == ${ZERO}`,
      text: (r) =>
        `'streamIdleTimeout 0s disables the idle timeout, so a model that stops sending is cut by ' + ` +
        `(${attemptBound(r)} == ${ZERO} ? 'nothing (the request timeout is 0s too)' : 'only the ' + ${attemptBoundText(r)} + ' request bound') + ` +
        `' and never failed over. Fix: set a positive streamIdleTimeout' + (${attemptBound(r)} == ${ZERO} ? '' : ' below ' + ${attemptBoundText(r)}) + ` +
        `' (e.g. 30s for a first-token budget), or remove the field.'`,
    },
  ],
  ['a rule sets streamIdleTimeout 0s, which disables the idle timeout.'],
));

export const BACKEND_REQUEST_WITHIN_IMPLIED_REQUEST_VAP: VapForm = lazyForm(() => ruleChecks(
  'backend-request-within-implied-request',
  [
    {
      name: 'backendRequestOverImplied',
      field: '.timeouts.backendRequest',
      bad: (r) => `${hasBackendRequest(r)} && !has(${r}.timeouts.request) && duration(${r}.timeouts.backendRequest) > ${IMPLIED_DURATION}`,
      text: (r) =>
        `'timeouts.backendRequest ' + ${r}.timeouts.backendRequest + ${lit(
          ` is longer than the ${IMPLIED} request timeout the controller writes when timeouts.request is unset, so the generated HTTPRoute is rejected (backendRequest must not exceed request) and this route is never programmed. Fix: set timeouts.request to `,
        )} + ${r}.timeouts.backendRequest + ${lit(` or more, or lower timeouts.backendRequest to ${IMPLIED} or less.`)}`,
    },
  ],
  [`a rule sets timeouts.backendRequest above the implied ${IMPLIED} request timeout with timeouts.request unset, so the generated HTTPRoute is rejected.`],
));

const WHY_HTTPROUTE = 'the generated HTTPRoute would be rejected by the API server and the route never programmed';
const overWeight = (b: string) => `has(${b}.weight) && ${b}.weight > ${L.weight}`;

const httprouteRuleChecks = (): VapForm => ruleChecks(
  'httproute-limits',
  [
    {
      name: 'tooManyBackendRefs',
      field: '.backendRefs',
      bad: (r) => `has(${r}.backendRefs) && size(${r}.backendRefs) > ${L.backendRefsPerRule}`,
      text: (r) =>
        `string(size(${r}.backendRefs)) + ${lit(
          ` backendRefs, but an HTTPRoute rule holds at most ${L.backendRefsPerRule}; ${WHY_HTTPROUTE}. Fix: split the models over several rules (matched by x-ai-eg-model) with at most ${L.backendRefsPerRule} backendRefs each.`,
        )}`,
    },
    {
      name: 'tooManyMatches',
      field: '.matches',
      bad: (r) => `has(${r}.matches) && size(${r}.matches) > ${L.matchesPerRule}`,
      text: (r) =>
        `string(size(${r}.matches)) + ${lit(
          ` matches, but an HTTPRoute rule holds at most ${L.matchesPerRule}; ${WHY_HTTPROUTE}. Fix: split the matches over several rules of at most ${L.matchesPerRule}.`,
        )}`,
    },
    {
      name: 'weightTooHigh',
      field: '.backendRefs',
      bad: (r) => `has(${r}.backendRefs) && ${r}.backendRefs.exists(b, ${overWeight('b')})`,
      // By index, not by name: backendRef names have no maxLength, and concatenating one would cost up to 3 MiB a time.
      text: (r) =>
        `${indexes(AIGR_RULE_LIST_MAX_ITEMS)}.filter(j, j < size(${r}.backendRefs) && [${r}.backendRefs[j]].exists(b, ${overWeight('b')})).map(j, 'backendRefs[' + string(j) + '] has weight ' + string(${r}.backendRefs[j].weight) + ${lit(
          `, above the HTTPRoute maximum of ${L.weight.toLocaleString('en-US')}; ${WHY_HTTPROUTE}. Fix: scale the weights of this rule down proportionally so each is at most ${L.weight}.`,
        )})[0]`,
    },
  ],
  [
    `a rule has more than ${L.backendRefsPerRule} backendRefs, more than an HTTPRoute rule holds.`,
    `a rule has more than ${L.matchesPerRule} matches, more than an HTTPRoute rule holds.`,
    `a backendRef has a weight above the HTTPRoute maximum of ${L.weight}.`,
  ],
);

/** Matches of each generated HTTPRoute rule: a rule without matches gets one (src/model/httproute.ts). */
const MATCH_COUNTS = `${HAS_RULES} ? ${RULES}.map(r, has(r.matches) && size(r.matches) > 0 ? size(r.matches) : 1) : []`;
/** Their sum plus the catch-all rule's one, added term by term (list.sum() is not in cel-js). */
const GENERATED_MATCHES = `1 + ${Array.from({ length: AIGR_RULES_MAX_ITEMS }, (_, i) => `(size(variables.matchCounts) > ${i} ? variables.matchCounts[${i}] : 0)`).join(' + ')}`;

export const HTTPROUTE_LIMITS_VAP: VapForm = lazyForm(() => {
  const perRule = httprouteRuleChecks();
  return {
    variables: [
      ...perRule.variables!,
      { name: 'matchCounts', expression: MATCH_COUNTS },
      { name: 'generatedMatches', expression: GENERATED_MATCHES },
    ],
    validations: [
      ...perRule.validations,
      {
        expression: `variables.generatedMatches <= ${L.matchesTotal}`,
        message: `[httproute-limits] spec.rules: the generated HTTPRoute would hold more than ${L.matchesTotal} matches.`,
        messageExpression:
          `'[httproute-limits] spec.rules: the generated HTTPRoute would hold ' + string(variables.generatedMatches) + ${lit(
            ` matches (the rules' matches, one for each rule without matches, and one for the catch-all route-not-found rule), but an HTTPRoute holds at most ${L.matchesTotal}; ${WHY_HTTPROUTE}. Fix: remove `,
          )} + string(variables.generatedMatches - ${L.matchesTotal}) + ' matches or move some rules to a second AIGatewayRoute.'`,
      },
    ],
  };
});

/**
 * BackendTrafficPolicy `spec.retry.perRetry.backOff` values Envoy Gateway refuses (internal/gatewayapi/clustersettings.go:
 * `baseInterval cannot be set to 0s`, `maxInterval cannot be set to 0s`, `maxInterval cannot be less than baseInterval`),
 * after which the BackendTrafficPolicy is not applied at all. The webhook policy `btp-retry-refused` carries it.
 */
const BACKOFF = 'object.spec.retry.perRetry.backOff';
const hasBackOff = (field: string) => `has(object.spec) && ${has('object.spec', `retry.perRetry.backOff.${field}`)}`;
const BTP_WHY = ' Envoy Gateway refuses the whole BackendTrafficPolicy (its retry, timeouts and everything else are not applied).';
export const BTP_RETRY_BACKOFF_INVALID_VAP: VapForm = lazyForm(() => ({
  validations: [
    {
      expression: `!(${hasBackOff('baseInterval')}) || duration(${BACKOFF}.baseInterval) != ${ZERO}`,
      message: `[btp-retry-refused] spec.retry.perRetry.backOff.baseInterval: baseInterval cannot be 0s.`,
      messageExpression: `'[btp-retry-refused] spec.retry.perRetry.backOff.baseInterval: baseInterval ' + ${BACKOFF}.baseInterval + ${lit(
        ` is zero, which${BTP_WHY} Fix: set a positive baseInterval (e.g. 100ms), or remove it for Envoy's 25ms.`,
      )}`,
    },
    {
      expression: `!(${hasBackOff('maxInterval')}) || duration(${BACKOFF}.maxInterval) != ${ZERO}`,
      message: `[btp-retry-refused] spec.retry.perRetry.backOff.maxInterval: maxInterval cannot be 0s.`,
      messageExpression: `'[btp-retry-refused] spec.retry.perRetry.backOff.maxInterval: maxInterval ' + ${BACKOFF}.maxInterval + ${lit(
        ` is zero, which${BTP_WHY} Fix: set maxInterval at or above baseInterval, or remove it (10 times baseInterval).`,
      )}`,
    },
    {
      expression: `!(${hasBackOff('baseInterval')} && ${hasBackOff('maxInterval')}) || duration(${BACKOFF}.maxInterval) >= duration(${BACKOFF}.baseInterval)`,
      message: `[btp-retry-refused] spec.retry.perRetry.backOff.maxInterval: maxInterval cannot be less than baseInterval.`,
      messageExpression: `'[btp-retry-refused] spec.retry.perRetry.backOff.maxInterval: maxInterval ' + ${BACKOFF}.maxInterval + ' is less than baseInterval ' + ${BACKOFF}.baseInterval + ${lit(
        `, which${BTP_WHY} Fix: raise maxInterval to baseInterval or more, or remove it (10 times baseInterval).`,
      )}`,
    },
  ],
}));
