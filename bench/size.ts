/** Section 3: what one review costs as the object grows, in process (no network, no TLS). */
import { parseAdmissionReview } from '../src/review/parse.js';
import { review } from '../src/review/review.js';
import type { ReviewDeps } from '../src/review/deps.js';
import type { AdmissionReviewRequest, Endpoint } from '../src/kube/types.js';
import { MemoryWorld } from '../src/world/world.js';
import { largeRoute, proxyPod, proxyPodWithEnv, routeForPodGateway } from './bodies.js';
import { spread, type Spread } from './stats.js';

export interface SizePoint {
  label: string;
  /** Bytes of the AdmissionReview body, and of the object's spec. */
  bodyBytes: number;
  specBytes: number;
  /** CPU µs per review(): the parsed body in, the AdmissionReview response out. */
  reviewUs: Spread;
  /** CPU µs for the whole in-process path: JSON.parse, review(), JSON.stringify of the response. */
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

/**
 * Microseconds of this process's CPU time (user + system) per call of `fn`, one figure per sample of about `sampleMs`.
 * CPU time rather than wall time: on a shared machine the wall clock also counts the time other processes ran.
 */
function timeIt(fn: () => void, samples: number, sampleMs: number): Spread {
  // Warm up (the JIT compiles the hot path) and learn how many calls fill one sample.
  let calls = 0;
  const warmUntil = performance.now() + Math.max(2 * sampleMs, 50);
  const c0 = process.cpuUsage();
  while (performance.now() < warmUntil) {
    fn();
    calls++;
  }
  const warm = process.cpuUsage(c0);
  const perCallUs = Math.max((warm.user + warm.system) / calls, 0.01);
  const callsPerSample = Math.max(1, Math.round((sampleMs * 1000) / perCallUs));
  const perCall: number[] = [];
  for (let s = 0; s < samples; s++) {
    const start = process.cpuUsage();
    for (let i = 0; i < callsPerSample; i++) fn();
    const used = process.cpuUsage(start);
    perCall.push((used.user + used.system) / callsPerSample);
  }
  return spread(perCall);
}

interface Case {
  label: string;
  input: AdmissionReviewRequest;
  endpoint: Endpoint;
}

function measure(c: Case, deps: ReviewDeps, samples: number, sampleMs: number): SizePoint {
  const text = JSON.stringify(c.input);
  const parsed = parseAdmissionReview(text);
  const { verdict } = review(parsed, c.endpoint, deps);
  let sink = 0;
  const reviewUs = timeIt(() => {
    sink += review(parsed, c.endpoint, deps).verdict.patch.length;
  }, samples, sampleMs);
  const fullUs = timeIt(() => {
    sink += JSON.stringify(review(parseAdmissionReview(text), c.endpoint, deps).review).length;
  }, samples, sampleMs);
  if (sink < 0) throw new Error('unreachable');
  return {
    label: c.label,
    bodyBytes: Buffer.byteLength(text),
    specBytes: Buffer.byteLength(JSON.stringify((c.input.request.object as { spec?: unknown }).spec)),
    reviewUs,
    fullUs,
    allowed: verdict.allowed,
    patchOps: verdict.patch.length,
    fired: verdict.fired,
  };
}

export function sizeSeries(deps: ReviewDeps, samples: number, sampleMs: number): SizeSeries[] {
  const pod = proxyPod();
  // The pods are reviewed in a world where an AIGatewayRoute uses their Gateway, so the sidecar is injected.
  const podDeps: ReviewDeps = { ...deps, world: new MemoryWorld([routeForPodGateway(pod)], { kubernetesMinor: deps.world.kubernetesMinor() }) };
  const series = [
    {
      title: 'Envoy proxy Pod CREATE, env vars on the envoy container (an AIGatewayRoute uses its Gateway)',
      endpoint: 'mutate' as const,
      deps: podDeps,
      cases: [10, 100, 250, 500, 1000, 1500].map((n) => ({ label: `${n} env vars`, input: proxyPodWithEnv(pod, n), endpoint: 'mutate' as const })),
    },
    {
      title: 'AIGatewayRoute CREATE, 15 rules, backendRefs per rule',
      endpoint: 'validate' as const,
      deps,
      cases: [1, 4, 16, 64, 128].map((b) => ({ label: `15 × ${b}`, input: largeRoute(15, b, 'validate'), endpoint: 'validate' as const })),
    },
    {
      title: 'AIGatewayRoute CREATE, rules of 16 backendRefs',
      endpoint: 'validate' as const,
      deps,
      cases: [1, 2, 4, 8, 15].map((r) => ({ label: `${r} × 16`, input: largeRoute(r, 16, 'validate'), endpoint: 'validate' as const })),
    },
  ];
  // Every shape through the code once before any sample, so no point pays for the JIT learning the next shape.
  for (const s of series) {
    for (const c of s.cases) {
      const text = JSON.stringify(c.input);
      const until = performance.now() + sampleMs;
      while (performance.now() < until) JSON.stringify(review(parseAdmissionReview(text), c.endpoint, s.deps).review);
    }
  }
  return series.map((s) => ({ title: s.title, endpoint: s.endpoint, points: s.cases.map((c) => measure(c, s.deps, samples, sampleMs)) }));
}
