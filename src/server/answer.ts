import { AdmissionError, asAdmissionError } from '../review/errors.js';
import { parseAdmissionReview } from '../review/parse.js';
import { review, reviewSliced } from '../review/review.js';
import type { ReviewDeps } from '../review/deps.js';
import type { AdmissionReviewResponse, Endpoint } from '../kube/types.js';
import { admissionReviewJson } from '../review/answer-json.js';

/** What the review path answers for one body, before any socket is involved (the server writes it; the fuzzer checks it). */
export interface Answer {
  status: number;
  body: string;
  /** Set when the body is a Status (4xx, 5xx) instead of an AdmissionReview. */
  error?: AdmissionError;
}

/** A Kubernetes `Status` naming the problem; internal errors never leak their detail to the caller. */
export function statusBody(err: AdmissionError): string {
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'Status',
    status: 'Failure',
    code: err.status,
    reason: err.code,
    message: err.isUserError ? err.message : 'internal error: the webhook failed while handling the request; see its log',
  });
}

export function answerReview(body: Buffer | string, endpoint: Endpoint, deps: ReviewDeps): Answer {
  try {
    const input = parseAdmissionReview(body);
    return answered(review(input, endpoint, deps));
  } catch (err) {
    return failed(err);
  }
}

/**
 * `answerReview` for the server: the review runs in slices, giving the event loop back between policies; the answer
 * comes at once (no promise) when the review fits one slice.
 */
export function answerReviewSliced(body: Buffer | string, endpoint: Endpoint, deps: ReviewDeps): Answer | Promise<Answer> {
  try {
    const input = parseAdmissionReview(body);
    const reviewed = reviewSliced(input, endpoint, deps);
    return reviewed instanceof Promise ? reviewed.then(answered, failed) : answered(reviewed);
  } catch (err) {
    return failed(err);
  }
}

function answered(r: { review: AdmissionReviewResponse }): Answer {
  return { status: 200, body: admissionReviewJson(r.review) };
}

function failed(err: unknown): Answer {
  const error = asAdmissionError(err);
  return { status: error.status, body: statusBody(error), error };
}
