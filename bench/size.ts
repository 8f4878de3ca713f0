/** Section 3: what one review costs as the object grows, in process (no network, no TLS). */
import { parseAdmissionReview } from '../src/review/parse.js';
import { review } from '../src/review/review.js';
import type { ReviewDeps } from '../src/review/deps.js';
import type { AdmissionReviewRequest, Endpoint } from '../src/review/types.js';
import { largeRoute, proxyPod, proxyPodWithEnv } from './bodies.js';
import { spread, type Spread } from './stats.js';

export interface SizePoint {
  label: string;
  /** Bytes of the AdmissionReview body, and of the object's spec. */
  bodyBytes: number;
  specBytes: number;
  /** Microseconds per review(): the parsed body in, the AdmissionReview response out. */
  reviewUs: Spread;
  /** Microseconds for the whole in-process path: JSON.parse, review(), JSON.stringify of the response. */
  fullUs: Spread;
  allowed: boolean;
  patchOps: number;
  fired: string[];
}

export interface SizeSeries {
  title: string;
  endpoint: Endpoint;
  points: SizePoint[];
}

/** Runs `fn` in samples of about `sampleMs` each; returns microseconds per call for each sample. */
function timeIt(fn: () => void, samples: number, sampleMs: number): Spread {
  // Calibrate: how many calls fill one sample (also warms the JIT up).
  let calls = 1;
  for (;;) {
    const t0 = performance.now();
    for (let i = 0; i < calls; i++) fn();
    const ms = performance.now() - t0;
    if (ms >= sampleMs / 4) {
      calls = Math.max(1, Math.round((calls * sampleMs) / Math.max(ms, 0.001)));
      break;
    }
    calls *= 4;
  }
  const perCall: number[] = [];
  for (let s = 0; s < samples; s++) {
    const t0 = performance.now();
    for (let i = 0; i < calls; i++) fn();
    perCall.push(((performance.now() - t0) * 1000) / calls);
  }
  return spread(perCall);
}

function measure(label: string, input: AdmissionReviewRequest, endpoint: Endpoint, deps: ReviewDeps, samples: number, sampleMs: number): SizePoint {
  const text = JSON.stringify(input);
  const parsed = parseAdmissionReview(text);
  const { verdict } = review(parsed, endpoint, deps);
  let sink = 0;
  const reviewUs = timeIt(() => {
    sink += review(parsed, endpoint, deps).verdict.patch.length;
  }, samples, sampleMs);
  const fullUs = timeIt(() => {
    sink += JSON.stringify(review(parseAdmissionReview(text), endpoint, deps).review).length;
  }, samples, sampleMs);
  if (sink < 0) throw new Error('unreachable');
  return {
    label,
    bodyBytes: Buffer.byteLength(text),
    specBytes: Buffer.byteLength(JSON.stringify((input.request.object as { spec?: unknown }).spec)),
    reviewUs,
    fullUs,
    allowed: verdict.allowed,
    patchOps: verdict.patch.length,
    fired: verdict.fired,
  };
}

export function sizeSeries(deps: ReviewDeps, samples: number, sampleMs: number): SizeSeries[] {
  const pod = proxyPod();
  return [
    {
      title: 'Envoy proxy Pod CREATE, env vars on the envoy container',
      endpoint: 'mutate',
      points: [10, 100, 250, 500, 1000, 1500].map((n) => measure(`${n} env vars`, proxyPodWithEnv(pod, n), 'mutate', deps, samples, sampleMs)),
    },
    {
      title: 'AIGatewayRoute CREATE, 15 rules, backendRefs per rule',
      endpoint: 'validate',
      points: [1, 4, 16, 64, 128].map((b) => measure(`15 × ${b}`, largeRoute(15, b, 'validate'), 'validate', deps, samples, sampleMs)),
    },
    {
      title: 'AIGatewayRoute CREATE, rules of 16 backendRefs',
      endpoint: 'validate',
      points: [1, 2, 4, 8, 15].map((r) => measure(`${r} × 16`, largeRoute(r, 16, 'validate'), 'validate', deps, samples, sampleMs)),
    },
  ];
}
