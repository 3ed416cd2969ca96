import t from 'tap'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Redis as Redis6 } from 'ioredis6'
import { Redis } from 'ioredis'
import { RedisStore } from '../../stores/redis.js'
import { conformance } from './conformance.js'
import { startRedis, startServer } from '../helpers/servers.js'

const server = await startRedis()
t.teardown(() => server.stop())

t.test('conformance with ioredis 6', async t => {
  const client = new Redis6(server.url, { maxRetriesPerRequest: 1 })
  t.teardown(() => client.quit())
  conformance(t, { create: async ({ prefix }) => new RedisStore({ client: client as never, prefix }) })
})

t.test('through Redis Sentinel', async t => {
  const sentinel = await startServer('redis-server', 'redis-server', (port, dir) => {
    const config = join(dir, 'sentinel.conf')
    writeFileSync(config, `port ${port}\nbind 127.0.0.1\nsentinel monitor fzs 127.0.0.1 ${server.port} 1\n`)
    return [config, '--sentinel']
  }, 'redis')
  t.teardown(() => sentinel.stop())
  const client = new Redis({ sentinels: [{ host: '127.0.0.1', port: sentinel.port }], name: 'fzs', maxRetriesPerRequest: 1 })
  t.teardown(() => client.quit())
  const store = new RedisStore({ client, prefix: 'sentinel:' })
  await store.set('a', { data: { via: 'sentinel' }, createdAt: 1, expiresAt: Date.now() + 60_000, version: 0, auth: { current: ['h'], replaced: [] }, meta: {} })
  t.same((await store.get('a'))?.data, { via: 'sentinel' })
  const direct = new Redis(server.url)
  t.teardown(() => direct.quit())
  t.equal(await direct.hget('sentinel:a', 'd:via'), '"sentinel"', 'the master behind the sentinel holds it')
})
