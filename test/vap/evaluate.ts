/**
 * Runs a policy's CEL form the way the API server runs a ValidatingAdmissionPolicy, with @marcbachmann/cel-js (the CEL
 * library the project uses): `object` as the API server hands it to CEL (JSON integers are CEL ints), the variables in
 * order, then each validation; a failed one yields its messageExpression. Only functions the API server has are used.
 */
import { Environment } from '@marcbachmann/cel-js';
import type { AnyPolicy, VapForm } from '../../src/review/policy.js';
import type { Finding, KubeObject } from '../../src/kube/types.js';
import { MemoryWorld } from '../../src/world/world.js';

/** JSON → CEL values as Kubernetes converts unstructured objects: integers are int64, other numbers double. */
export function toCel(value: unknown): unknown {
  if (typeof value === 'number') return Number.isInteger(value) ? BigInt(value) : value;
  if (Array.isArray(value)) return value.map(toCel);
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toCel(v)]));
  return value;
}

export interface CelVerdict {
  /** Messages of the validations that failed, in order. */
  failures: string[];
}

const env = new Environment().registerVariable('object', 'dyn').registerVariable('variables', 'dyn');

/** The output types the API server requires: expression bool, messageExpression string, checked with `object: dyn`. */
export function typeProblems(form: VapForm): string[] {
  const problems: string[] = [];
  const want = (expr: string, type: string, what: string) => {
    const checked = env.check(expr);
    if (!checked.valid) problems.push(`${what}: ${checked.error?.message.split('\n')[0]}`);
    else if (checked.type !== type) problems.push(`${what}: type ${checked.type}, the API server wants ${type}`);
  };
  for (const v of form.variables ?? []) {
    const checked = env.check(v.expression);
    if (!checked.valid) problems.push(`variables.${v.name}: ${checked.error?.message.split('\n')[0]}`);
  }
  form.validations.forEach((v, i) => {
    want(v.expression, 'bool', `validations[${i}].expression`);
    want(v.messageExpression, 'string', `validations[${i}].messageExpression`);
  });
  return problems;
}

export function evaluateForm(form: VapForm, object: KubeObject): CelVerdict {
  const activation = { object: toCel(object), variables: {} as Record<string, unknown> };
  for (const v of form.variables ?? []) activation.variables[v.name] = env.evaluate(v.expression, activation);
  const failures: string[] = [];
  for (const v of form.validations) {
    const ok = env.evaluate(v.expression, activation);
    if (typeof ok !== 'boolean') throw new Error(`${v.expression} gave ${String(ok)}, not a bool`);
    if (!ok) {
      const message = env.evaluate(v.messageExpression, activation);
      if (typeof message !== 'string') throw new Error(`messageExpression gave ${String(message)}, not a string`);
      failures.push(message);
    }
  }
  return { failures };
}

/** What the webhook's TypeScript policy finds on the same object (CREATE, default params). */
export function policyFindings(policy: AnyPolicy, object: KubeObject): Pick<Finding, 'path' | 'message'>[] {
  const result = policy.evaluate({
    request: { uid: 'vap-equivalence', operation: 'CREATE' } as never,
    operation: 'CREATE',
    object,
    oldObject: null,
    params: policy.defaultParams,
    mode: policy.defaultMode,
    world: new MemoryWorld(),
    now: new Date('2026-11-28T00:00:00Z'),
    dryRun: false,
    patch: undefined as never,
  });
  return (result.findings ?? []).map((f) => ({ path: f.path, message: f.message }));
}
