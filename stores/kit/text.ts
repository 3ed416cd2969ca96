// What a string must not hold to be stored as it is: shared by the plugin's value checks
// (lib/json-value.ts) and the stores' own option checks (their `prefix`).

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/

/** whether `text` holds half of a UTF-16 pair without the other (UTF-8 backends write it as U+FFFD) */
export function hasLoneSurrogate (text: string): boolean {
  return LONE_SURROGATE.test(text)
}

/**
 * Why `prefix` cannot name a store's keys on its backend, or undefined. Every backend but process memory
 * holds UTF-8, which writes a lone surrogate as U+FFFD: two such prefixes would name the same keys (and
 * RedisStore's own records would not match it). `nul`: the backend cannot hold U+0000 (PostgreSQL
 * fails every query carrying it); `maxLength`: what a key column leaves beside the longest session id.
 */
export function prefixProblem (prefix: unknown, { nul = false, maxLength = Infinity } = {}): string | undefined {
  if (typeof prefix !== 'string') return 'must be a string'
  if (hasLoneSurrogate(prefix)) return `${JSON.stringify(prefix)} holds a lone surrogate (half of a UTF-16 pair), which the backend writes as U+FFFD`
  if (nul && prefix.includes('\0')) return `${JSON.stringify(prefix)} holds a NUL character (U+0000), which the backend cannot store`
  if (prefix.length > maxLength) return `is longer than ${maxLength} characters, which leaves no room for a session id in the key column`
  return undefined
}
