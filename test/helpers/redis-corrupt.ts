// The ways a RedisStore's session can go corrupt, for the conformance suite's `corruptions`: `call`
// runs one command through any client of that server (or cluster); `keyOf` names the session's key.
import type { ConformanceOptions } from '../../testing/index.js'

export function redisCorruptions (call: (...args: string[]) => Promise<unknown>, keyOf = (prefix: string, id: string) => prefix + id): NonNullable<ConformanceOptions['corruptions']> {
  return {
    'a string where the hash is': async ({ prefix, id }) => {
      const key = keyOf(prefix, id)
      await call('DEL', key)
      await call('SET', key, 'not a hash')
    },
    'an owner field that is not JSON': async ({ prefix, id }) => { await call('HSET', keyOf(prefix, id), 'm:owner', '{"unterminated') }
  }
}
