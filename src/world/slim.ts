import type { KubeObject } from '../kube/types.js';
import { INJECTED_ANNOTATION, INJECT_ANNOTATION } from '../model/sidecar.js';
import { SKIP_ANNOTATION, SKIP_REASON_ANNOTATION } from '../review/exemptions.js';

/**
 * The annotations anything reading the cache looks at: the sidecar audit's opt-out and injection digest, and the
 * exemption pair the background audit honours (without them an exempted object would be reported there). Every other
 * annotation, kubectl's last-applied copy of the whole object above all, is dropped on the way in.
 */
const READ_ANNOTATIONS: readonly string[] = [INJECT_ANNOTATION, INJECTED_ANNOTATION, SKIP_ANNOTATION, SKIP_REASON_ANNOTATION];

/**
 * What the informer cache keeps of an object: everything but `metadata.managedFields`, `status` and the annotations
 * nothing reads. No policy and no audit reads those from the world (they read spec, labels, owners, creationTimestamp
 * and the two annotations above), and on real objects they are most of the bytes: managedFields alone is often larger
 * than the spec. Changes the
 * object in place: the cache owns what it has just parsed from a list page or a watch event.
 */
export function slimForCache(obj: KubeObject): KubeObject {
  const meta = obj.metadata;
  if (meta) {
    delete meta.managedFields;
    const annotations = meta.annotations;
    if (annotations) {
      let kept: Record<string, string> | undefined;
      for (const key of READ_ANNOTATIONS) {
        if (annotations[key] !== undefined) (kept ??= {})[key] = annotations[key];
      }
      if (kept) meta.annotations = kept;
      else delete meta.annotations;
    }
  }
  delete (obj as { status?: unknown }).status;
  return obj;
}
