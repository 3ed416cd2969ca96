// The ways a RedisStore's session can go corrupt, for the conformance suite's `corruptions`: `call`
// runs one command through any client of that server (or cluster); `keyOf` names the session's key.
// Each works on either layout (scripts.ts): the packed one's meta is inside `_r`.
import type { ConformanceOptions } from '../../testing/index.js'

export function redisCorruptions (call: (...args: string[]) => Promise<unknown>, keyOf = (prefix: string, id: string) => prefix + id): NonNullable<ConformanceOptions['corruptions']> {
  return {
    'a string where the hash is': async ({ prefix, id }) => {
      const key = keyOf(prefix, id)
      await call('DEL', key)
      await call('SET', key, 'not a hash')
    },
    'an owner field that is not JSON': async ({ prefix, id }) => {
      const key = keyOf(prefix, id)
      const raw = await call('HGET', key, '_r') as string | null
      if (raw === null) {
        await call('HSET', key, 'm:owner', '{"unterminated')
        return
      }
      const record = JSON.parse(raw) as [string, string, string, Record<string, string>]
      record[3].owner = '{"unterminated'
      await call('HSET', key, '_r', JSON.stringify(record))
    },
    'a packed record (_r) that is not JSON': async ({ prefix, id }) => { await call('HSET', keyOf(prefix, id), '_h', '0 0  ', '_r', '["1","p"') },
    'a packed record whose version (_h) is not a count': async ({ prefix, id }) => {
      const key = keyOf(prefix, id)
      const hot = await call('HGET', key, '_h') as string | null
      await call('HSET', key, '_h', (hot ?? '0 0  ').replace(/^\d+/, '1x'), '_r', await call('HGET', key, '_r') as string | null ?? '["1","p","{}",{}]')
    }
  }
}
