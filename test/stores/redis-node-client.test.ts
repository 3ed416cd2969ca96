// RedisStore with a node-redis client (the `redis` package, the client connect-redis uses): the whole
// contract on real servers with v4, v5 and v6, RESP3, and a 3-master Cluster; the layout is the one
// ioredis writes, so switching clients keeps every session.
import t, { type Test } from 'tap'
import { createClient, createCluster } from 'redis'
import { createClient as createClient4, createCluster as createCluster4 } from 'redis4'
import { createClient as createClient6 } from 'redis6'
import { Redis } from 'ioredis'
import { RedisStore } from '../../stores/redis.js'
import type { NodeRedisClient } from '../../stores/redis/link.js'
import { conformance } from './conformance.js'
import { startRedis, startRedisCluster } from '../helpers/servers.js'
import { buildApp, idOf, sessionCookie } from '../helpers/app.js'
import { expiriesReportedOnce } from '../helpers/cluster-expiry.js'
import { record } from '../../testing/index.js'
import { redisCorruptions } from '../helpers/redis-corrupt.js'
import { collectWarnings } from '../helpers/warnings.js'

const server = await startRedis()
t.teardown(() => server.stop())
const ioredis = new Redis(server.url, { maxRetriesPerRequest: 1 })
t.teardown(async () => { await ioredis.quit().catch(() => ioredis.disconnect()) })

async function connected<C extends { connect: () => Promise<unknown>, on: (e: 'error', l: () => void) => unknown }> (t: Test, client: C): Promise<C> {
  client.on('error', () => {})
  await client.connect()
  t.teardown(async () => { await (client as unknown as { quit: () => Promise<unknown> }).quit().catch(() => {}) })
  return client
}

const makers: Array<[string, (options: { url: string }) => unknown]> = [['v4', createClient4], ['v5', createClient], ['v6', createClient6]]
for (const [version, make] of makers) {
  t.test(`conformance with node-redis ${version}`, async t => {
    const client = await connected(t, make({ url: server.url }) as NodeRedisClient)
    conformance(t, {
      create: async ({ prefix }) => new RedisStore({ client, prefix: `${version}:${prefix}` }),
      corruptions: redisCorruptions(async (...args) => await ioredis.call(...args as [string, ...string[]]), (prefix, id) => `${version}:${prefix}${id}`)
    })
  })
}

t.test('conformance with node-redis speaking RESP3 (maps and sets as replies)', async t => {
  const client = await connected(t, createClient({ url: server.url, RESP: 3 }))
  conformance(t, {
    create: async ({ prefix }) => new RedisStore({ client, prefix: `resp3:${prefix}` }),
    corruptions: redisCorruptions(async (...args) => await ioredis.call(...args as [string, ...string[]]), (prefix, id) => `resp3:${prefix}${id}`)
  })
})

t.test('the layout is the one ioredis writes: sessions survive a switch of client, both ways', async t => {
  const client = await connected(t, createClient({ url: server.url }))
  const viaNode = new RedisStore({ client, prefix: 'switch:' })
  const viaIoredis = new RedisStore({ client: ioredis, prefix: 'switch:' })
  const expiresAt = Date.now() + 60_000
  await viaNode.set('a', record({ user: { id: 1 }, n: 2 }, { expiresAt, meta: { ip: '::1', owner: 'o' } }))
  t.same((await viaIoredis.get('a'))?.data, { user: { id: 1 }, n: 2 })
  t.equal(await viaIoredis.patch('a', { set: { n: 3 }, unset: [], meta: { lastAccessAt: 5 } }), 'ok')
  const back = await viaNode.get('a')
  t.same(back?.data, { user: { id: 1 }, n: 3 })
  t.equal(back?.meta.owner, 'o')
  t.equal(back?.meta.lastAccessAt, 5)
  t.same(await viaNode.listByOwner('o'), ['a'])
  t.equal(await ioredis.pexpiretime('switch:a'), expiresAt)
})

t.test('a read is exactly one command and a patch one, as with ioredis', async t => {
  const client = await connected(t, createClient({ url: server.url }))
  const store = new RedisStore({ client, prefix: 'count:' })
  await store.set('x', record({ a: 1 }, { expiresAt: Date.now() + 60_000 }))
  await store.patch('x', { set: { a: 0 }, unset: [] }) // the script is cached by now: EVALSHA from here on
  const commands: string[] = []
  const monitor = await ioredis.monitor()
  t.teardown(() => { monitor.disconnect() })
  monitor.on('monitor', (_time: string, args: string[], source: string) => {
    if (!source.startsWith('lua') && args.some(a => String(a).startsWith('count:'))) commands.push(args[0].toLowerCase())
  })
  await new Promise(resolve => setTimeout(resolve, 50))
  await store.get('x')
  await store.patch('x', { set: { b: 2 }, unset: [], expiresAt: Date.now() + 120_000 })
  await new Promise(resolve => setTimeout(resolve, 100))
  t.same(commands, ['hgetall', 'evalsha'])
})

t.test('a server that has not cached a script (restarted, flushed) runs it by EVAL', async t => {
  const client = await connected(t, createClient({ url: server.url }))
  const store = new RedisStore({ client, prefix: 'noscript:' })
  await store.set('x', record({ a: 1 }, { expiresAt: Date.now() + 60_000 }))
  await ioredis.script('FLUSH')
  t.equal(await store.patch('x', { set: { a: 2 }, unset: [] }), 'ok')
  t.same((await store.get('x'))?.data, { a: 2 })
})

t.test('through the plugin, with expired events from keyspace notifications', async t => {
  await ioredis.config('SET', 'notify-keyspace-events', 'Ex')
  t.teardown(async () => { await ioredis.config('SET', 'notify-keyspace-events', '') })
  const client = await connected(t, createClient({ url: server.url }))
  const store = new RedisStore({ client, prefix: 'plugin:' })
  let expired: (id: string) => void = () => {}
  const reported = new Promise<string>(resolve => { expired = resolve })
  const app = await buildApp(t, { store, events: { expired: event => { expired(event.id!) } } })
  const cookie = sessionCookie(await app.inject({ method: 'POST', url: '/login/ann' }))!
  t.equal((await app.inject({ url: '/read', headers: { cookie } })).json().userId, 'ann')
  const id = idOf(cookie)
  t.equal(await store.touch(id, Date.now() + 20), true)
  while (await ioredis.exists(`plugin:${id}`) === 1); // reading an expired key expires it at once
  let timer: NodeJS.Timeout | undefined
  const within = new Promise<never>((_resolve, reject) => { timer = setTimeout(() => { reject(new Error('no expired event within 10 s')) }, 10_000) })
  t.equal(await Promise.race([reported, within]), id)
  clearTimeout(timer)
})

t.test('conformance and expiry events on a 3-master Cluster through node-redis createCluster()', async t => {
  const cluster = await startRedisCluster()
  t.teardown(() => cluster.stop())
  const client = createCluster({ rootNodes: cluster.nodes.map(n => ({ url: `redis://${n.host}:${n.port}` })) })
  client.on('error', () => {})
  await client.connect()
  t.teardown(async () => { await client.close().catch(() => {}) })
  t.test('conformance', async t => {
    conformance(t, { create: async ({ prefix }) => new RedisStore({ client, prefix }), corruptions: redisCorruptions(async (...args) => await client.sendCommand(args[1], false, args)) })
  })
  t.test('sessions on several masters, each expiry reported once', async t => {
    const masters = await Promise.all(client.masters.map(async m => await client.nodeClient(m)))
    await Promise.all(masters.map(async node => { await node.configSet('notify-keyspace-events', 'Ex') }))
    const store = new RedisStore({ client, prefix: 'expiry:' })
    await expiriesReportedOnce(t, store, async () => await Promise.all(masters.map(async node => (await node.keys('expiry:*')).length)), async key => await client.exists(key))
  })
})

t.test('a dead Redis surfaces as a store error at once with the README\'s fail-fast settings', async t => {
  const own = await startRedis()
  const client = createClient({ url: own.url, disableOfflineQueue: true, socket: { connectTimeout: 2000, reconnectStrategy: (retries: number) => Math.min(retries * 100, 500) } })
  client.on('error', () => {})
  await client.connect()
  t.teardown(async () => { await client.destroy(); await own.stop() })
  const store = new RedisStore({ client, prefix: 'dead:' })
  await store.set('x', record({ a: 1 }))
  await own.kill()
  while (client.isReady) await new Promise(resolve => setImmediate(resolve)) // the client notices the closed socket
  const started = Date.now()
  await t.rejects(store.get('x'))
  await t.rejects(store.patch('x', { set: { a: 2 }, unset: [] }))
  t.ok(Date.now() - started < 1000, `failed without waiting for Redis (${Date.now() - started} ms)`)
})

t.test('anything else as the client is a TypeError naming both clients', async t => {
  t.throws(() => new RedisStore({ client: {} as never }), { name: 'TypeError', message: /ioredis.*node-redis/ })
  t.throws(() => new RedisStore({ client: null as never }), { name: 'TypeError' })
})

t.test('a node-redis 4 cluster, which cannot be made to follow a failover, is warned about once; node-redis 5 is not', async t => {
  const warnings = collectWarnings(t, 'FST_SESSION_REDIS_NO_FAILOVER')
  const rootNodes = [{ url: 'redis://127.0.0.1:1' }]
  new RedisStore({ client: createCluster({ rootNodes }) as never }) // eslint-disable-line no-new
  new RedisStore({ client: createCluster4({ rootNodes }) as never }) // eslint-disable-line no-new
  new RedisStore({ client: createCluster4({ rootNodes }) as never }) // eslint-disable-line no-new
  await new Promise(resolve => setImmediate(resolve)) // warnings are emitted on the next tick
  t.equal(warnings.length, 1, 'once per process')
  t.match(warnings[0], /node-redis 4.*cannot be made to follow a failover/)
})
