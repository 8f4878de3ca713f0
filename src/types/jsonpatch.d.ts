declare module 'jsonpatch' {
  export function apply_patch<T = unknown>(doc: T, patch: unknown[]): T;
  export class InvalidPatch extends Error {}
  export class PatchApplyError extends Error {}
}
