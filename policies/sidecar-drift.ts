import { judgedElsewhere } from './judged-elsewhere.js';

/** Judged by `audit` on running Envoy proxy pods: the ext_proc sidecar is missing or built from an old template. */
export default judgedElsewhere('sidecar-drift', 'An Envoy proxy pod lacks the ext_proc sidecar or runs an outdated one.', 'warn');
