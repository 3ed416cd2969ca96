// RedisStore's `layout` option, checked by the store and by a redis:// URL when it is parsed (an option
// error at registration), without loading the store.

/** how set() and create() write a session's hash (stores/redis/scripts.ts describes both) */
export type RedisLayout = 'packed' | 'fields'

/** what is wrong with a `layout` value, or undefined */
export function redisLayoutProblem (layout: unknown): string | undefined {
  return layout === 'packed' || layout === 'fields' ? undefined : `must be 'packed' or 'fields', not ${JSON.stringify(layout)}`
}
