// memcached's key rules: MemcachedStore checks its prefix with them, and so does a memcached:// URL
// when it is parsed (an option error at registration), without loading the store.

/** What is wrong with a key prefix memcached could not carry (whitespace, control characters, too long), or undefined. */
export function memcachedPrefixProblem (prefix: unknown): string | undefined {
  if (typeof prefix !== 'string') return 'must be a string'
  // eslint-disable-next-line no-control-regex
  if (/[\s\x00-\x1f\x7f]/.test(prefix)) return `${JSON.stringify(prefix)} has whitespace or control characters, which memcached keys cannot hold`
  if (Buffer.byteLength(prefix) > 200) return 'must be at most 200 bytes in UTF-8 (memcached keys are at most 250 bytes)'
  return undefined
}
