/**
 * ValidatingAdmissionPolicies (admissionregistration.k8s.io/v1, Kubernetes 1.30+) from the policies' CEL forms: a pure
 * function of the policies in force (modes from the config) to Kubernetes objects. `aigw-admission vap` prints them and
 * deploy/overlays/vap ships them (npm run gen:deploy).
 */
import { stringify } from 'yaml';
import type { AnyPolicy, VapForm, VapMissingReason } from '../review/policy.js';
import type { PolicySet } from '../review/policy-set.js';
import type { KubeObject, Mode } from '../kube/types.js';
import { DEPLOY_NAMES } from '../deploy/webhook-rules.js';

export const VAP_API_VERSION = 'admissionregistration.k8s.io/v1';

/** The binding's action for each webhook mode: deny refuses the write, warn shows a kubectl warning, audit only records. */
export const VALIDATION_ACTION: Record<Mode, 'Deny' | 'Warn' | 'Audit'> = { deny: 'Deny', warn: 'Warn', audit: 'Audit' };

export const vapName = (policyId: string): string => `${DEPLOY_NAMES.webhookConfiguration}-${policyId}`;

export function vapForm(policy: AnyPolicy): VapForm | undefined {
  return policy.vap && 'form' in policy.vap ? policy.vap.form : undefined;
}

/** The policy and its binding for one webhook policy in force. */
export function vapObjects(policy: AnyPolicy, mode: Mode): [KubeObject, KubeObject] {
  const form = vapForm(policy);
  if (!form) throw new Error(`policy ${policy.id} has no CEL form`);
  const name = vapName(policy.id);
  const labels = { 'app.kubernetes.io/name': 'aigw-admission', 'aigw-admission.io/policy': policy.id };
  const operations = policy.match.operations.filter((o) => o === 'CREATE' || o === 'UPDATE');
  const vap: KubeObject = {
    apiVersion: VAP_API_VERSION,
    kind: 'ValidatingAdmissionPolicy',
    metadata: { name, labels, annotations: { 'aigw-admission.io/description': policy.description } },
    spec: {
      // The webhook's onError: an expression that cannot be evaluated fails closed only where the webhook does.
      failurePolicy: policy.onError === 'deny' ? 'Fail' : 'Ignore',
      matchConstraints: {
        resourceRules: policy.match.kinds.map((k) => ({
          apiGroups: [k.group],
          apiVersions: [...k.versions],
          operations,
          resources: [k.resource],
        })),
      },
      ...(form.variables?.length ? { variables: form.variables.map((v) => ({ ...v })) } : {}),
      validations: form.validations.map((v) => ({ expression: v.expression, message: v.message, messageExpression: v.messageExpression, reason: 'Invalid' })),
    },
  };
  const binding: KubeObject = {
    apiVersion: VAP_API_VERSION,
    kind: 'ValidatingAdmissionPolicyBinding',
    metadata: { name, labels },
    spec: { policyName: name, validationActions: [VALIDATION_ACTION[mode]] },
  };
  return [vap, binding];
}

/** Every policy in force that has a CEL form, in policy order: each ValidatingAdmissionPolicy, then its binding. */
export function generateVaps(policies: PolicySet): KubeObject[] {
  return policies.active.filter((a) => a.policy.endpoint === 'validate' && vapForm(a.policy)).flatMap((a) => vapObjects(a.policy, a.mode));
}

export interface MissingVap {
  policy: string;
  reason: VapMissingReason | 'undeclared';
  why: string;
}

/** Policies without a CEL form and why (`vap --explain-missing`). */
export function missingVaps(policies: readonly AnyPolicy[]): MissingVap[] {
  return policies.flatMap((p): MissingVap[] => {
    if (!p.vap) return [{ policy: p.id, reason: 'undeclared', why: 'the policy does not declare whether it has a CEL form (add `vap` to its declaration)' }];
    if ('missing' in p.vap) return [{ policy: p.id, reason: p.vap.missing, why: p.vap.why }];
    return [];
  });
}

export function renderMissing(missing: readonly MissingVap[]): string {
  const width = Math.max(...missing.map((m) => m.policy.length), 'POLICY'.length);
  const rwidth = Math.max(...missing.map((m) => m.reason.length), 'REASON'.length);
  const line = (a: string, b: string, c: string) => `${a.padEnd(width)}  ${b.padEnd(rwidth)}  ${c}`.trimEnd();
  return [line('POLICY', 'REASON', 'WHY'), ...missing.map((m) => line(m.policy, m.reason, m.why))].join('\n') + '\n';
}

/** Multi-document YAML, as kubectl apply -f takes it. */
export function renderVapYaml(objects: readonly KubeObject[], header = ''): string {
  return header + objects.map((o) => `---\n${stringify(o, { lineWidth: 0 })}`).join('');
}
