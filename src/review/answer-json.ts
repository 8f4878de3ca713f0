import { jsonString } from './text.js';
import type { AdmissionResponse, AdmissionReviewResponse } from '../kube/types.js';

/**
 * Every field of an answer, in the order `buildResponse` sets them and `admissionReviewJson` writes them. Typed so that
 * a field added to `AdmissionResponse` and not written here fails to compile.
 */
export const ANSWER_FIELDS = ['uid', 'allowed', 'status', 'warnings', 'patchType', 'patch'] as const satisfies readonly (keyof AdmissionResponse)[];
type Unwritten = Exclude<keyof AdmissionResponse, (typeof ANSWER_FIELDS)[number]>;
const EVERY_FIELD_WRITTEN: Unwritten extends never ? true : never = true;
void EVERY_FIELD_WRITTEN;

const ANSWER_PREFIX = '{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","response":{"uid":';

/**
 * `JSON.stringify` of an answer built by `buildResponse`, written from its known fields: the general serializer took
 * about 0.8 µs for the two-field answer most reviews get, on every request.
 */
export function admissionReviewJson(review: AdmissionReviewResponse): string {
  const r = review.response;
  let text = `${ANSWER_PREFIX}${jsonString(r.uid)},"allowed":${r.allowed ? 'true' : 'false'}`;
  if (r.status !== undefined) text += `,"status":{"code":${r.status.code},"reason":${jsonString(r.status.reason)},"message":${jsonString(r.status.message)}}`;
  if (r.warnings !== undefined) text += `,"warnings":${JSON.stringify(r.warnings)}`;
  if (r.patchType !== undefined) text += `,"patchType":${jsonString(r.patchType)}`;
  if (r.patch !== undefined) text += `,"patch":${jsonString(r.patch)}`;
  return `${text}}}`;
}
