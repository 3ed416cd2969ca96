// memcached's key rules: MemcachedStore checks its prefix with them, and so does a memcached:// URL
// when it is parsed (an option error at registration), without loading the store.
import { prefixProblem } from './text.js'

/** What is wrong with a key prefix memcached could not carry (whitespace, control characters, too long), or undefined. */
export function memcachedPrefixProblem (prefix: unknown): string | undefined {
  const shared = prefixProblem(prefix) // every UTF-8 backend's rule: a string, no lone surrogate
  if (shared !== undefined || typeof prefix !== 'string') return shared
  // eslint-disable-next-line no-control-regex
  if (/[\s\x00-\x1f\x7f]/.test(prefix)) return `${JSON.stringify(prefix)} has whitespace or control characters, which memcached keys cannot hold`
  if (Buffer.byteLength(prefix) > 200) return 'must be at most 200 bytes in UTF-8 (memcached keys are at most 250 bytes)'
  return undefined
}
