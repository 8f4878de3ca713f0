/**
 * Schema checks for rendered manifests, in two layers:
 * - kubernetes-models / @kubernetes-models/cert-manager: the Kubernetes OpenAPI schemas (and cert-manager's CRD
 *   schemas) compiled by ajv: types, required fields, enums, formats. They accept unknown fields, as the OpenAPI
 *   schemas do.
 * - unknownFields(): the field lists of @kubernetes/client-node's generated models, so a misspelt field
 *   (`readinesProbe`), which the API server would drop or refuse, is caught too. Built-in kinds only.
 */
import * as k8s from '@kubernetes/client-node';
import { Namespace } from 'kubernetes-models/v1/Namespace';
import { ServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Service } from 'kubernetes-models/v1/Service';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { PriorityClass } from 'kubernetes-models/scheduling.k8s.io/v1/PriorityClass';
import { ClusterRole } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRole';
import { ClusterRoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRoleBinding';
import { Role } from 'kubernetes-models/rbac.authorization.k8s.io/v1/Role';
import { RoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1/RoleBinding';
import { ValidatingWebhookConfiguration } from 'kubernetes-models/admissionregistration.k8s.io/v1/ValidatingWebhookConfiguration';
import { MutatingWebhookConfiguration } from 'kubernetes-models/admissionregistration.k8s.io/v1/MutatingWebhookConfiguration';
import { Certificate } from '@kubernetes-models/cert-manager/cert-manager.io/v1/Certificate';
import { Issuer } from '@kubernetes-models/cert-manager/cert-manager.io/v1/Issuer';
import type { KubeObject } from '../../src/kube/types.js';

type Model = new (data: never) => { validate(): void };

/** apiVersion/kind → [schema model, client-node model name for the field check (built-in kinds only)]. */
export const SCHEMAS: Record<string, [Model, string | null]> = {
  'v1/Namespace': [Namespace, 'V1Namespace'],
  'v1/ServiceAccount': [ServiceAccount, 'V1ServiceAccount'],
  'v1/ConfigMap': [ConfigMap, 'V1ConfigMap'],
  'v1/Service': [Service, 'V1Service'],
  'apps/v1/Deployment': [Deployment, 'V1Deployment'],
  'policy/v1/PodDisruptionBudget': [PodDisruptionBudget, 'V1PodDisruptionBudget'],
  'scheduling.k8s.io/v1/PriorityClass': [PriorityClass, 'V1PriorityClass'],
  'rbac.authorization.k8s.io/v1/ClusterRole': [ClusterRole, 'V1ClusterRole'],
  'rbac.authorization.k8s.io/v1/ClusterRoleBinding': [ClusterRoleBinding, 'V1ClusterRoleBinding'],
  'rbac.authorization.k8s.io/v1/Role': [Role, 'V1Role'],
  'rbac.authorization.k8s.io/v1/RoleBinding': [RoleBinding, 'V1RoleBinding'],
  'admissionregistration.k8s.io/v1/ValidatingWebhookConfiguration': [ValidatingWebhookConfiguration, 'V1ValidatingWebhookConfiguration'],
  'admissionregistration.k8s.io/v1/MutatingWebhookConfiguration': [MutatingWebhookConfiguration, 'V1MutatingWebhookConfiguration'],
  'cert-manager.io/v1/Certificate': [Certificate, null],
  'cert-manager.io/v1/Issuer': [Issuer, null],
};

interface Attribute {
  baseName: string;
  type: string;
}

const SCALARS = new Set(['string', 'number', 'boolean', 'Date', 'any', 'object', 'IntOrString']);

function attributes(model: string): Attribute[] | undefined {
  const cls = (k8s as unknown as Record<string, { getAttributeTypeMap?: () => Attribute[] }>)[model];
  return cls?.getAttributeTypeMap?.();
}

/** Paths of fields the model does not define, e.g. `spec.template.spec.containers[0].readinesProbe`. */
export function unknownFields(value: unknown, type: string, path = ''): string[] {
  if (value === null || value === undefined || SCALARS.has(type)) return [];
  const arr = /^Array<(.+)>$/.exec(type);
  if (arr) return Array.isArray(value) ? value.flatMap((v, i) => unknownFields(v, arr[1]!, `${path}[${i}]`)) : [];
  const map = /^\{ \[key: string\]: (.+); \}$/.exec(type);
  if (map) return Object.entries(value as Record<string, unknown>).flatMap(([k, v]) => unknownFields(v, map[1]!, `${path}.${k}`));
  const attrs = attributes(type);
  if (!attrs) throw new Error(`${path || '(top)'}: no model ${type} in @kubernetes/client-node`);
  if (typeof value !== 'object' || Array.isArray(value)) return [];
  const known = new Map(attrs.map((a) => [a.baseName, a.type]));
  return Object.entries(value as Record<string, unknown>).flatMap(([k, v]) => {
    const child = path ? `${path}.${k}` : k;
    const t = known.get(k);
    return t === undefined ? [child] : unknownFields(v, t, child);
  });
}

/** Every problem with one object: no schema for its kind, schema violations, unknown fields. */
export function schemaProblems(obj: KubeObject): string[] {
  const key = `${obj.apiVersion}/${obj.kind}`;
  const entry = SCHEMAS[key];
  const name = `${obj.kind} ${obj.metadata?.name ?? '(no name)'}`;
  if (!entry) return [`${name}: no schema known for ${key}`];
  const [Model, fieldModel] = entry;
  const problems: string[] = [];
  try {
    new Model(structuredClone(obj) as never).validate();
  } catch (err) {
    problems.push(`${name}: ${(err as Error).message}`);
  }
  if (fieldModel) problems.push(...unknownFields(obj, fieldModel).map((p) => `${name}: unknown field ${p}`));
  return problems;
}
