import { judgedElsewhere } from './judged-elsewhere.js';

/** Judged by `audit` on running Envoy proxy pods: the ext_proc sidecar is missing or built from an old template. */
export default judgedElsewhere('sidecar-drift', 'An Envoy proxy pod lacks the ext_proc sidecar or runs an outdated one.', 'warn', { missing: 'cross-object', why: 'compares running proxy pods with the sidecar template, in the audit only; a VAP sees one object at admission' });
