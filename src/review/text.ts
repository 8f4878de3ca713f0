/** Longest user value a message quotes; the full value is in the object itself. */
export const QUOTE_MAX_CHARS = 60;

/**
 * A user value quoted for a message, cut to `max` characters with the full length said, so a finding never carries
 * megabytes of the object back to the API server, the log or an Event.
 */
export function quoteValue(value: string, max = QUOTE_MAX_CHARS): string {
  if (value.length <= max) return JSON.stringify(value);
  return `${JSON.stringify(value.slice(0, max))}… (${value.length} characters)`;
}

/** Text cut to at most `max` characters (UTF-16 units), ending in "…" when cut. */
export function truncate(text: string, max: number): string {
  if (text.length <= max) return text;
  if (max <= 1) return '…'.slice(0, max);
  let cut = text.slice(0, max - 1);
  // Never leave half a surrogate pair.
  const last = cut.charCodeAt(cut.length - 1);
  if (last >= 0xd800 && last <= 0xdbff) cut = cut.slice(0, -1);
  return `${cut}…`;
}

/** A string JSON.stringify writes as it is: printable ASCII without `"` and `\`. */
export const PLAIN_STRING = /^[ !#-[\]-~]*$/;

/** `JSON.stringify(value)` for a string, without the general escaper for the plain ones (nearly all names and uids). */
export function jsonString(value: string): string {
  return PLAIN_STRING.test(value) ? `"${value}"` : JSON.stringify(value);
}
