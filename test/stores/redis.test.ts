import t from 'tap'
import { Redis } from 'ioredis'
import { RedisStore } from '../../stores/redis.js'
import { conformance } from './conformance.js'
import { startRedis } from '../helpers/servers.js'
import { record } from '../../testing/index.js'
import { redisCorruptions } from '../helpers/redis-corrupt.js'

const server = await startRedis()
t.teardown(() => server.stop())
const clients: Redis[] = []
const client = (): Redis => {
  const c = new Redis(server.url, { maxRetriesPerRequest: 1, enableOfflineQueue: true })
  clients.push(c)
  return c
}
t.teardown(async () => { await Promise.all(clients.map(c => c.quit().catch(() => c.disconnect()))) })

t.test('conformance on a real redis-server', async t => {
  const shared = client()
  conformance(t, { create: async ({ prefix }) => new RedisStore({ client: shared, prefix }), corruptions: redisCorruptions(async (...args) => await shared.call(...args as [string, ...string[]])) })
})

t.test('arguments go as one JSON array, except where a field name holds a lone surrogate (cjson refuses it): both write the same hash', async t => {
  const redis = client()
  const store = new RedisStore({ client: redis, prefix: 'packed:' })
  const expiresAt = Date.now() + 60_000
  const data = { plain: 'a\u0000b/é😀\\ud800', 'lone\ud800': 1 }
  await store.set('lone', { data, createdAt: 5, expiresAt, version: 0, auth: { current: ['h'], replaced: [] }, meta: { ip: '::1' } })
  await store.set('plain', { data: { plain: data.plain }, createdAt: 5, expiresAt, version: 0, auth: { current: ['h'], replaced: [] }, meta: { ip: '::1' } })
  t.equal(await redis.hget('packed:lone', 'd:plain'), await redis.hget('packed:plain', 'd:plain'), 'NUL, a slash, non-ASCII and an escaped backslash arrive byte for byte')
  t.equal((await store.get('plain'))?.data.plain, data.plain)
  t.equal(await store.patch('lone', { set: { 'lone\ud801': 2, plain: 'x' }, unset: ['lone\ud800'] }), 'ok', 'a patch with a lone surrogate in a key is written too')
  t.equal(await store.patch('plain', { set: { plain: 'y\u0000' }, unset: [] }), 'ok')
  t.equal((await store.get('plain'))?.data.plain, 'y\u0000')
  t.same(await store.create('plain', { data: {}, createdAt: 5, expiresAt, version: 0, auth: { current: ['h'], replaced: [] }, meta: {} }), false)
})

t.test('layout: one hash per session, a field per data key, PEXPIREAT on the key', async t => {
  const redis = client()
  const store = new RedisStore({ client: redis, prefix: 'layout:' })
  const expiresAt = Date.now() + 60_000
  await store.set('abc', { data: { user: { id: 1 }, n: 2 }, createdAt: 5, expiresAt, version: 0, auth: { current: ['h'], replaced: [] }, meta: { ip: '::1', owner: 'o' } })
  const hash = await redis.hgetall('layout:abc')
  t.same(Object.keys(hash).sort(), ['_a', '_b', '_c', '_e', '_p', '_v', 'd:n', 'd:user', 'm:ip', 'm:owner'])
  t.equal(await redis.pexpiretime('layout:abc'), expiresAt)
  t.same(await redis.smembers('layout:owner:o'), ['abc'])
  t.ok(await redis.pttl('layout:owner:o') > 0, 'the owner index expires with its sessions')
})

t.test('a read costs exactly one command; touch one (no owner); patch one', async t => {
  const redis = client()
  const store = new RedisStore({ client: redis, prefix: 'count:' })
  await store.set('x', { data: { a: 1 }, createdAt: 1, expiresAt: Date.now() + 60_000, version: 0, auth: { current: ['h'], replaced: [] }, meta: {} })
  const commands: string[] = []
  const monitor = await client().monitor()
  // commands a client sent (a script's inner calls are reported with source "lua")
  monitor.on('monitor', (_time: string, args: string[], source: string) => { if (!source.startsWith('lua') && args.some(a => String(a).startsWith('count:'))) commands.push(args[0].toLowerCase().replace('evalsha', 'eval')) })
  await new Promise(resolve => setTimeout(resolve, 50))
  await store.get('x')
  await store.touch('x', Date.now() + 120_000)
  await store.patch('x', { set: { b: 2 }, unset: [], expiresAt: Date.now() + 120_000 })
  await new Promise(resolve => setTimeout(resolve, 100))
  monitor.disconnect()
  t.same(commands, ['hgetall', 'eval', 'eval'], 'a script call is one command')
})

t.test('a dead Redis surfaces as a store error, fast, with fail-fast settings', async t => {
  const { startRedis: start } = await import('../helpers/servers.js')
  const own = await start()
  const redis = new Redis(own.url, { maxRetriesPerRequest: 0, enableOfflineQueue: false, commandTimeout: 500, retryStrategy: () => 200 })
  redis.on('error', () => {})
  t.teardown(async () => { redis.disconnect(); await own.stop() })
  const store = new RedisStore({ client: redis })
  await new Promise(resolve => redis.once('ready', resolve))
  await own.kill()
  const started = Date.now()
  await t.rejects(store.get('x'))
  t.ok(Date.now() - started < 1000, 'failed within the command timeout')
})

t.test('a patch that changes the owner, expiry unchanged, gives the owner set the session\'s expiry', async t => {
  const redis = client()
  const store = new RedisStore({ client: redis, prefix: 'own:' })
  const expiresAt = Date.now() + 60_000
  await store.set('s', record({ a: 1 }, { expiresAt }))
  t.equal(await store.patch('s', { set: {}, unset: [], meta: { owner: 'ann' } }), 'ok')
  t.equal(await redis.pexpiretime('own:owner:ann'), expiresAt, 'not left without a TTL')
  t.same(await store.listByOwner('ann'), ['s'])
})

t.test('a hash whose _b (data size) or _v (version) is not a number is corrupt: a fresh session and one warning, never a 503 nor a longer life', async t => {
  const { buildApp, sessionCookie, idOf } = await import('../helpers/app.js')
  const { collectWarnings } = await import('../helpers/warnings.js')
  const redis = client()
  const store = new RedisStore({ client: redis, prefix: 'badsize:' })
  const app = await buildApp(t, { store, touchAfter: 0, rotationInterval: null }) // every read of a live session extends it
  for (const [field, value] of [['_b', 'x'], ['_b', ''], ['_b', '-5'], ['_v', ''], ['_v', '1x']]) {
    const cookie = sessionCookie(await app.inject({ method: 'POST', url: '/login/ann' }))!
    const key = `badsize:${idOf(cookie)}`
    await redis.hset(key, field, value)
    const expiry = await redis.pexpiretime(key)
    const warnings = collectWarnings(t)
    const read = await app.inject({ url: '/read', headers: { cookie } })
    t.equal(read.statusCode, 200, `${field}=${JSON.stringify(value)}: a read answers 200`)
    t.equal(read.json().userId, null, 'as a fresh session')
    const write = await app.inject({ method: 'POST', url: '/visit', headers: { cookie } })
    t.equal(write.statusCode, 200, 'a write answers 200, not 503')
    t.not(idOf(sessionCookie(write) ?? cookie), idOf(cookie), 'on a new session')
    await app.inject({ url: '/read', headers: { cookie } })
    t.equal(await redis.pexpiretime(key), expiry, 'reads do not extend the corrupt hash')
    t.equal(await store.patch(idOf(cookie), { set: { a: 'x' }, unset: [] }), 'missing', 'a patch of it is missing, not a script error')
    await new Promise(resolve => setImmediate(resolve))
    t.equal(warnings.filter(w => w.includes('corrupt session')).length, 1, 'reported once')
  }
})

t.test('an owner index that is not a set (corrupt) fails neither logins under an owner limit nor revoke: reported once, replaced', async t => {
  const { buildApp, sessionCookie } = await import('../helpers/app.js')
  const { collectWarnings } = await import('../helpers/warnings.js')
  const redis = client()
  const store = new RedisStore({ client: redis, prefix: 'badidx:' })
  const app = await buildApp(t, { store, owner: data => data.userId as string | undefined, maxSessionsPerOwner: { limit: 3, policy: 'refuse' } })
  await redis.set('badidx:owner:ann', 'not a set')
  const warnings = collectWarnings(t)
  const logins = []
  for (let i = 0; i < 2; i++) {
    const res = await app.inject({ method: 'POST', url: '/login/ann' })
    t.equal(res.statusCode, 200, `login ${i + 1} answers 200`)
    logins.push(sessionCookie(res)!)
  }
  t.equal(await redis.type('badidx:owner:ann'), 'set', 'the index was replaced by a set')
  t.equal((await app.sessions.list('ann')).length, 2)
  t.equal(await app.sessions.revoke('ann'), 2)
  for (const cookie of logins) t.equal((await app.inject({ url: '/read', headers: { cookie } })).json().userId, null, 'revoked')
  await redis.set('badidx:owner:bob', 'not a set')
  t.same(await store.listByOwner('bob'), [], 'listed as empty')
  t.equal(await store.destroyByOwner('bob'), 0)
  await new Promise(resolve => setImmediate(resolve))
  t.equal(warnings.filter(w => w.includes('owner index')).length, 2, 'each corrupt index reported once')
})
