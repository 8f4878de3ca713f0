/**
 * The one error catalogue. User errors (4xx / CLI exit 2) say what is wrong and how to fix it; internal errors (5xx)
 * never leak details to the caller and are logged with their cause.
 */
export const ERRORS = {
  BODY_TOO_LARGE: { status: 413, title: 'request body too large' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, title: 'unsupported content type' },
  INVALID_JSON: { status: 400, title: 'request body is not valid JSON' },
  NOT_ADMISSION_REVIEW: { status: 400, title: 'not an admission.k8s.io/v1 AdmissionReview' },
  INVALID_REQUEST_FIELD: { status: 400, title: 'invalid AdmissionReview request field' },
  METHOD_NOT_ALLOWED: { status: 405, title: 'method not allowed' },
  NOT_FOUND: { status: 404, title: 'no such endpoint' },
  INVALID_CONFIG: { status: 400, title: 'invalid configuration' },
  INVALID_INPUT_FILE: { status: 400, title: 'invalid input file' },
  /** A command-line flag with a bad value or a bad combination of flags (CLI exit 2), apart from the files it reads. */
  INVALID_FLAG: { status: 400, title: 'invalid flag' },
  NO_CLUSTER: { status: 400, title: 'no cluster' },
  CLUSTER_REQUEST_FAILED: { status: 400, title: 'cluster request failed' },
  INTERNAL: { status: 500, title: 'internal error' },
} as const;

export type ErrorCode = keyof typeof ERRORS;

export class AdmissionError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  constructor(code: ErrorCode, detail: string, options?: { cause?: unknown }) {
    super(`${ERRORS[code].title}: ${detail}`, options);
    this.name = 'AdmissionError';
    this.code = code;
    this.status = ERRORS[code].status;
  }
  get isUserError(): boolean {
    return this.status < 500;
  }
}

export function asAdmissionError(err: unknown): AdmissionError {
  if (err instanceof AdmissionError) return err;
  return new AdmissionError('INTERNAL', 'the webhook failed while handling the request; see its log', { cause: err });
}
