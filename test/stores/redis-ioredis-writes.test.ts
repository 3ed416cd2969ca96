// How RedisStore sends its commands through an ioredis client (stores/redis/ioredis-link.ts): every
// command of an event-loop turn in one write, past the client's autopipeline, which stays the app's.
import t from 'tap'
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { once } from 'node:events'
import { Redis } from 'ioredis'
import { Redis as Redis6 } from 'ioredis6'
import { RedisStore } from '../../stores/redis.js'
import { startRedis } from '../helpers/servers.js'
import { record } from '../../testing/index.js'

const server = await startRedis()
t.teardown(() => server.stop())

/** the socket's writes from now on, each as the number of chunks it carried (net.Socket writes a corked batch by _writev) */
function writes (client: Redis): number[] {
  const socket = client.stream as unknown as { _write: (...args: unknown[]) => void, _writev: (chunks: unknown[], cb: unknown) => void }
  const seen: number[] = []
  const write = socket._write
  const writev = socket._writev
  socket._write = function (...args) { seen.push(1); write.apply(this, args) }
  socket._writev = function (chunks, cb) { seen.push(chunks.length); writev.call(this, chunks, cb) }
  return seen
}

const expiresAt = (): number => Date.now() + 60_000

for (const [name, Client] of [['ioredis 5', Redis], ['ioredis 6', Redis6 as unknown as typeof Redis]] as const) {
  for (const autoPipelining of [true, false]) {
    t.test(`${name}, enableAutoPipelining ${String(autoPipelining)}: the store's commands of one turn go out in one write`, async t => {
      const redis = new Client(server.url, { enableAutoPipelining: autoPipelining })
      t.teardown(() => redis.quit())
      await redis.ping()
      const store = new RedisStore({ client: redis, prefix: `batch${name.slice(-1)}${String(autoPipelining)}:` })
      await store.set('a', record({ n: 0 }, { expiresAt: expiresAt() }))
      await store.create('warm', record({}, { expiresAt: expiresAt() })) // the server has the script cached: no EVAL after a NOSCRIPT
      const seen = writes(redis)
      const results = await Promise.all([
        ...Array.from({ length: 10 }, async (_, i) => await store.create(`new${i}`, record({ i }, { expiresAt: expiresAt() }))),
        ...Array.from({ length: 10 }, async () => (await store.get('a'))?.data)
      ])
      t.same(results, [...Array.from({ length: 10 }, () => true), ...Array.from({ length: 10 }, () => ({ n: 0 }))])
      t.same(seen, [20], 'one write of 20 commands')
      t.equal(redis.options.enableAutoPipelining, autoPipelining, 'the client\'s option as it was')
    })
  }
}

t.test('the app\'s own commands keep the client\'s autopipeline, and keep their order with the store\'s', async t => {
  const redis = new Redis(server.url, { enableAutoPipelining: true })
  t.teardown(() => redis.quit())
  await redis.ping()
  const store = new RedisStore({ client: redis, prefix: 'mixed:' })
  const app = redis.set('mixed:app', 'x')
  const created = store.create('s', record({ n: 1 }, { expiresAt: expiresAt() }))
  const read = redis.get('mixed:app')
  t.equal(redis.autoPipelineQueueSize, 2, 'the app\'s two commands, not the store\'s, wait in the autopipeline')
  t.same(await Promise.all([app, created, read]), ['OK', true, 'x'])
  t.same((await store.get('s'))?.data, { n: 1 })
})

t.test('a connection lost while the store\'s commands wait corked: each call settles, and the next ones work', async t => {
  const redis = new Redis(server.url, { enableAutoPipelining: true, maxRetriesPerRequest: 1, retryStrategy: () => 10 })
  t.teardown(() => redis.quit())
  await redis.ping()
  const store = new RedisStore({ client: redis, prefix: 'lost:' })
  const calls = Array.from({ length: 10 }, async (_, i) => await store.create(`s${i}`, record({ i }, { expiresAt: expiresAt() })))
  redis.stream.destroy()
  const settled = await Promise.allSettled(calls)
  t.equal(settled.length, 10)
  for (const s of settled) if (s.status === 'fulfilled') t.equal(s.value, true, 'resent after the reconnect, and written')
  await new Promise<void>(resolve => { if (redis.status === 'ready') resolve(); else redis.once('ready', resolve) })
  t.equal(await store.create('after', record({ ok: 1 }, { expiresAt: expiresAt() })), true)
  t.same((await store.get('after'))?.data, { ok: 1 })
})

t.test('a client that cannot write (never connected, no offline queue): the store\'s calls fail at once, nothing is corked', async t => {
  const redis = new Redis(server.url, { lazyConnect: true, enableOfflineQueue: false, enableAutoPipelining: true })
  t.teardown(() => redis.disconnect())
  const store = new RedisStore({ client: redis, prefix: 'offline:' })
  await t.rejects(store.get('x'), /Stream isn't writeable/)
  t.equal(redis.options.enableAutoPipelining, true)
})

t.test('a process.exit() in the turn still sends what the corked connection holds (the app\'s command included)', async t => {
  const redis = new Redis(server.url)
  t.teardown(() => redis.quit())
  const fixture = join(import.meta.dirname, '..', 'fixtures', 'ioredis-exit.ts')
  for (const autoPipelining of ['off', 'on']) {
    const child = spawn(process.execPath, [...process.execArgv, fixture, server.url, autoPipelining, autoPipelining], { stdio: 'inherit' })
    const [code] = await once(child, 'exit') as [number]
    t.equal(code, 0)
    // with autopipelining on, the app's command waits in the client's pipeline (its setImmediate never runs): only the store's is sent
    t.same(await redis.exists(`exit${autoPipelining}:s`, `exit${autoPipelining}:app`), autoPipelining === 'off' ? 2 : 1, `autopipelining ${autoPipelining}`)
  }
})
