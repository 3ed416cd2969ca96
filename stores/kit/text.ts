// What a string must not hold to be stored as it is: shared by the plugin's value checks
// (lib/json-value.ts) and the stores' own option checks (their `prefix`).

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/

/** whether `text` holds half of a UTF-16 pair without the other (UTF-8 backends write it as U+FFFD) */
export function hasLoneSurrogate (text: string): boolean {
  return LONE_SURROGATE.test(text)
}

/** what a backend's keys cannot take from a prefix (see PREFIX_RULES) */
export interface PrefixRule {
  /** U+0000 fails the backend's queries */
  noNul?: boolean
  /** characters (code points) the key column leaves beside the longest session id (128) */
  maxCharacters?: number
  /** UTF-8 bytes the key's index leaves beside the longest session id */
  maxBytes?: number
  /** the key column compares 'app' and 'app ' as equal (MySQL's PAD SPACE collations) */
  noTrailingSpace?: boolean
}

/**
 * Each backend's rule, written once: the store checks its prefix with it when it is made, and a storage
 * URL's `prefix` when it is parsed (an option error at registration, without loading the store).
 * MongoDB: its `$regex` (owner scans, prune, stats) refuses a NUL. PostgreSQL: text cannot hold NUL,
 * and a btree index entry is at most 2,704 bytes. MySQL: `id` is VARCHAR(255) in utf8mb4_bin.
 */
export const PREFIX_RULES = {
  redis: {},
  mongodb: { noNul: true },
  postgres: { noNul: true, maxBytes: 2048 },
  mysql: { maxCharacters: 127, noTrailingSpace: true }
} as const satisfies Record<string, PrefixRule>

/**
 * Why `prefix` cannot name a store's keys on its backend, or undefined. Every backend but process memory
 * holds UTF-8, which writes a lone surrogate as U+FFFD: two such prefixes would name the same keys (and
 * RedisStore's own records would not match it).
 */
export function prefixProblem (prefix: unknown, rule: PrefixRule = {}): string | undefined {
  if (typeof prefix !== 'string') return 'must be a string'
  const shown = JSON.stringify(prefix.length > 40 ? prefix.slice(0, 40) + '…' : prefix)
  if (hasLoneSurrogate(prefix)) return `${shown} holds a lone surrogate (half of a UTF-16 pair), which the backend writes as U+FFFD`
  if (rule.noNul === true && prefix.includes('\0')) return `${shown} holds a NUL character (U+0000), which the backend cannot take`
  if (rule.noTrailingSpace === true && prefix.endsWith(' ')) return `${shown} ends with a space, which the backend's key column ignores (it would name the keys of the prefix without it)`
  if (rule.maxCharacters !== undefined && [...prefix].length > rule.maxCharacters) return `is longer than ${rule.maxCharacters} characters: the key column would have no room for a session id`
  if (rule.maxBytes !== undefined && Buffer.byteLength(prefix) > rule.maxBytes) return `is longer than ${rule.maxBytes} bytes (UTF-8): the key's index would have no room for a session id`
  return undefined
}
