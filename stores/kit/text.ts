// What a string must not hold to be stored as it is: shared by the plugin's value checks
// (lib/json-value.ts) and the stores' own option checks (RedisStore's prefix).

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/

/** whether `text` holds half of a UTF-16 pair without the other (UTF-8 backends write it as U+FFFD) */
export function hasLoneSurrogate (text: string): boolean {
  return LONE_SURROGATE.test(text)
}
