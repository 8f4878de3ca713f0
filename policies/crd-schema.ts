import { judgedElsewhere } from './judged-elsewhere.js';

/** Judged by `check` (and `audit`) with the CRDs' openAPIV3Schema: what the API server itself would refuse. */
export default judgedElsewhere('crd-schema', 'The object does not fit its CRD schema, so the API server refuses it.', 'deny', { missing: 'not-expressible', why: 'the API server itself validates every object against its CRD schema; this policy lets check say so offline' });
