import t from 'tap'
import { MemcacheClient } from 'memcache-client'
import { MemcachedStore, exptime } from '../../stores/memcached.js'
import { conformance } from './conformance.js'
import Fastify from 'fastify'
import fastifyZodSession from '../../lib/index.js'
import { freePort, startMemcached } from '../helpers/servers.js'
import { buildApp, sessionCookie, SECRET, TestSchema } from '../helpers/app.js'

const one = await startMemcached()
const two = await startMemcached()
t.teardown(async () => { await one.stop(); await two.stop() })
const hostPort = (url: string): string => new URL(url).host

t.test('conformance on a real memcached', async t => {
  conformance(t, {
    create: async ({ prefix }) => new MemcachedStore({ servers: [hostPort(one.url)], prefix }),
    granularityMs: 1000,
    ownerIndex: false
  })
})

t.test('conformance on two memcached servers at once', async t => {
  conformance(t, {
    create: async ({ prefix }) => new MemcachedStore({ servers: [hostPort(one.url), hostPort(two.url)], prefix }),
    granularityMs: 1000,
    ownerIndex: false
  })
})

t.test('keys are spread over both servers', async t => {
  const store = new MemcachedStore({ servers: [hostPort(one.url), hostPort(two.url)], prefix: 'spread:' })
  t.teardown(() => store.close())
  for (let i = 0; i < 40; i++) await store.set(`k${i}`, { data: { i }, createdAt: 1, expiresAt: null, version: 0, auth: { current: ['h'], replaced: [] }, meta: {} })
  const counts = []
  for (const server of [one, two]) {
    const client = new MemcacheClient({ server: hostPort(server.url) })
    let n = 0
    for (let i = 0; i < 40; i++) if ((await client.get(`spread:k${i}`)) !== undefined) n++
    client.shutdown()
    counts.push(n)
  }
  t.equal(counts[0] + counts[1], 40, 'each key on exactly one server')
  t.ok(counts[0] > 5 && counts[1] > 5, `both servers used: ${counts.join(' / ')}`)
})

t.test('TTLs over 30 days are sent as absolute Unix timestamps', async t => {
  const now = Date.UTC(2026, 0, 1)
  t.equal(exptime(null, now), 0)
  t.equal(exptime(now + 90_500, now), 91)
  t.equal(exptime(now + 30 * 86_400_000, now), 30 * 86_400)
  t.equal(exptime(now + 31 * 86_400_000, now), (now + 31 * 86_400_000) / 1000)
  t.equal(exptime(now - 1, now), -1)
  const store = new MemcachedStore({ servers: [hostPort(one.url)], prefix: 'ttl:' })
  t.teardown(() => store.close())
  const expiresAt = Date.now() + 60 * 86_400_000
  await store.set('long', { data: { a: 1 }, createdAt: 1, expiresAt, version: 0, auth: { current: ['h'], replaced: [] }, meta: {} })
  t.same((await store.get('long'))?.data, { a: 1 }, 'a 60-day session is stored, not instantly expired')
})

t.test('owner listing is unsupported: fastify.sessions says so with an FST code', async t => {
  const store = new MemcachedStore({ servers: [hostPort(one.url)], prefix: 'owner:' })
  t.teardown(() => store.close())
  const app = await buildApp(t, { store, owner: ((d: { userId?: string }) => d.userId) as never })
  const cookie = sessionCookie(await app.inject({ method: 'POST', url: '/login/alice' }))!
  t.equal((await app.inject({ url: '/read', headers: { cookie } })).json().userId, 'alice')
  await t.rejects(app.sessions.list('alice'), { code: 'FST_SESSION_OWNER_UNSUPPORTED', message: /MemcachedStore cannot list/ })
  await t.rejects(app.sessions.revoke('alice'), { code: 'FST_SESSION_OWNER_UNSUPPORTED' })
})

t.test('an injected client is used and never closed', async t => {
  const client = new MemcacheClient({ server: hostPort(one.url) })
  t.teardown(() => client.shutdown())
  const store = new MemcachedStore({ client, prefix: 'own:' })
  await store.set('a', { data: { v: 1 }, createdAt: 1, expiresAt: null, version: 0, auth: { current: ['h'], replaced: [] }, meta: {} })
  await store.close()
  t.same((await store.get('a'))?.data, { v: 1 })
})

t.test('bad options are a TypeError', async t => {
  t.throws(() => new MemcachedStore({} as never), TypeError)
  t.throws(() => new MemcachedStore({ servers: ['no-port'] }), TypeError)
})

t.test('ready() fails when no server answers, naming them; app.ready() with memcached:// too', async t => {
  const port = await freePort()
  const store = new MemcachedStore({ servers: [`127.0.0.1:${port}`] })
  t.teardown(() => store.close())
  await t.rejects(store.ready(), { message: new RegExp(`no memcached server answered: 127.0.0.1:${port}`) })
  const app = Fastify()
  app.register(fastifyZodSession, { secret: SECRET, schema: TestSchema, store: `memcached://127.0.0.1:${port}` } as never)
  await t.rejects(async () => { await app.ready() }, { code: 'FST_SESSION_STORE_UNAVAILABLE', message: /no memcached server answered/ })
  await app.close()
})

t.test('with one of two servers dead, every new session is saved and read back (routed around it)', async t => {
  const spare = await startMemcached()
  t.teardown(() => spare.stop())
  const app = await buildApp(t, { store: new MemcachedStore({ servers: [hostPort(one.url), hostPort(spare.url)], prefix: `dead-${Date.now()}:` }) })
  await spare.kill()
  let failed = 0
  for (let i = 0; i < 30; i++) {
    const res = await app.inject({ method: 'POST', url: '/visit' })
    if (res.statusCode !== 200) { failed++; continue }
    const again = await app.inject({ method: 'POST', url: '/visit', headers: { cookie: sessionCookie(res)! } })
    if (again.json().visits !== 2) failed++
  }
  t.equal(failed, 0, 'no session lost to the dead server')
})
