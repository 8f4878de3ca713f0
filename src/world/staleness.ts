import { formatDuration } from '../model/duration.js';
import type { World } from './world.js';

export const CACHE_NOTICE_SOURCE = 'cluster-cache';
export const DEFAULT_STALE_AFTER_SECONDS = 300;

/**
 * What a review that looked objects up in the world must tell the user about that world: nothing while the view is
 * fresh; a warning before the first sync, or when the last confirmed complete view is older than `staleAfterSeconds`.
 * `now` is called only for a world that has a sync time.
 */
export function cacheNotice(world: World, now: () => Date, staleAfterSeconds: number = DEFAULT_STALE_AFTER_SECONDS): string | undefined {
  if (!world.ready()) {
    return `[${CACHE_NOTICE_SOURCE}] the cluster cache has not finished its first sync: lookups of other objects saw only part of the cluster`;
  }
  const at = world.syncedAt();
  if (!at) return undefined;
  const ageMs = now().getTime() - at.getTime();
  if (ageMs <= staleAfterSeconds * 1000) return undefined;
  return (
    `[${CACHE_NOTICE_SOURCE}] lookups of other objects used the cluster state as last synced ${formatDuration(Math.floor(ageMs / 1000) * 1000)} ago ` +
    `(${at.toISOString()}), older than cache.staleAfterSeconds ${staleAfterSeconds}: the webhook has lost its watch on the API server`
  );
}
