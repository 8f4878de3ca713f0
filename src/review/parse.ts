import { AdmissionError } from './errors.js';
import { OPERATIONS, type AdmissionReviewRequest, type Operation } from '../kube/types.js';
import { describeValue } from '../model/duration.js';
import { jsonErrorPosition, lineAndColumn } from './json-position.js';

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

const KIND_FIELDS = ['group', 'version', 'kind'] as const;
const OBJECT_FIELDS = ['object', 'oldObject'] as const;
const NAME_FIELDS = ['name', 'namespace'] as const;

function field(name: string, detail: string): never {
  throw new AdmissionError('INVALID_REQUEST_FIELD', `request.${name} ${detail}`);
}

/** JSON text (or an already parsed value) → a checked AdmissionReview v1 request, or a 400 that names the field. */
export function parseAdmissionReview(input: string | Buffer | unknown): AdmissionReviewRequest {
  let body: unknown = input;
  if (typeof input === 'string' || Buffer.isBuffer(input)) {
    const text = typeof input === 'string' ? input : input.toString('utf8');
    try {
      body = JSON.parse(text);
    } catch {
      // V8's messages quote the input (a token, or a stretch of it), which may hold secret data: give only a position.
      const position = jsonErrorPosition(text);
      const at = position < 0 || position >= text.length ? 'unexpected end of input' : (() => {
        const { line, column } = lineAndColumn(text, position);
        return `unexpected character at position ${position} (line ${line}, column ${column})`;
      })();
      throw new AdmissionError('INVALID_JSON', `${at}; send the AdmissionReview as JSON`);
    }
  }
  if (!isObject(body)) {
    throw new AdmissionError('NOT_ADMISSION_REVIEW', `the body is ${describeValue(body)}, expected an AdmissionReview object`);
  }
  if (body.kind !== 'AdmissionReview') {
    throw new AdmissionError('NOT_ADMISSION_REVIEW', `kind is ${describeValue(body.kind)}, expected "AdmissionReview"`);
  }
  if (body.apiVersion !== 'admission.k8s.io/v1') {
    const hint =
      body.apiVersion === 'admission.k8s.io/v1beta1'
        ? '; only v1 is served: set admissionReviewVersions: ["v1"] in the webhook configuration'
        : '';
    throw new AdmissionError(
      'NOT_ADMISSION_REVIEW',
      `apiVersion is ${describeValue(body.apiVersion)}, expected "admission.k8s.io/v1"${hint}`,
    );
  }
  const request = body.request;
  if (!isObject(request)) {
    throw new AdmissionError('INVALID_REQUEST_FIELD', `request is ${describeValue(request)}, expected an object`);
  }
  if (typeof request.uid !== 'string' || request.uid === '') field('uid', `is ${describeValue(request.uid)}, expected a non-empty string`);
  const kind = request.kind;
  if (!isObject(kind)) field('kind', `is ${describeValue(kind)}, expected {group, version, kind}`);
  for (const k of KIND_FIELDS) {
    if (typeof (kind as Record<string, unknown>)[k] !== 'string') {
      field(`kind.${k}`, `is ${describeValue((kind as Record<string, unknown>)[k])}, expected a string`);
    }
  }
  if (!OPERATIONS.includes(request.operation as Operation)) {
    field('operation', `is ${describeValue(request.operation)}, expected one of ${OPERATIONS.join(', ')}`);
  }
  for (const k of OBJECT_FIELDS) {
    const v = request[k];
    if (v !== undefined && v !== null && !isObject(v)) field(k, `is ${describeValue(v)}, expected an object or null`);
  }
  for (const k of NAME_FIELDS) {
    const v = request[k];
    if (v !== undefined && typeof v !== 'string') field(k, `is ${describeValue(v)}, expected a string`);
  }
  if (request.dryRun !== undefined && typeof request.dryRun !== 'boolean') {
    field('dryRun', `is ${describeValue(request.dryRun)}, expected true or false`);
  }
  if (request.object == null && request.oldObject == null && request.operation !== 'CONNECT') {
    field('object', 'and request.oldObject are both missing: a CREATE/UPDATE carries object, a DELETE carries oldObject');
  }
  return body as unknown as AdmissionReviewRequest;
}
