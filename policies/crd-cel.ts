import { judgedElsewhere } from './judged-elsewhere.js';

/** Judged by `check` with the CRDs' x-kubernetes-validations rules: what the API server itself would refuse. */
export default judgedElsewhere('crd-cel', "The object fails a CEL rule of its CRD, so the API server refuses it.", 'deny', { missing: 'not-expressible', why: "the API server itself runs the CRD's x-kubernetes-validations rules; this policy lets check run them offline" });
