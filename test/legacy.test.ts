// Switching an app from @fastify/session + connect-redis to this plugin logs nobody out.
// A real @fastify/session app logs a user in against a real Redis; the app is switched; the same
// browser (its cookie jar) stays logged in.
import t, { type Test } from 'tap'
import { createHash } from 'node:crypto'
import diagnostics from 'node:diagnostics_channel'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import pg from 'pg'
import Fastify, { type FastifyInstance } from 'fastify'
import { fastifyCookie, Signer } from '@fastify/cookie'
import { RedisStore as ConnectRedisStore } from 'connect-redis'
import { createClient } from 'redis'
import { z } from 'zod'
import fastifyZodSession, { MemoryStore } from '../lib/index.js'
import type { SessionEvent, SessionStore } from '../types/index.js'
import { FileStore } from '../stores/file.js'
import { DirectoryStore } from '../stores/directory.js'
import { RedisStore } from '../stores/redis.js'
import { PostgresStore } from '../stores/postgres.js'
import { MemcachedStore } from '../stores/memcached.js'
import { MongoStore } from '../stores/mongodb.js'
import { GatedOldStore, clearsOld, cookieOf, legacyApp, legacyRaces, oldLogin } from '../testing/legacy-races.js'
import { startMemcached, startRedis } from './helpers/servers.js'
import { startPostgres } from './helpers/pg-server.mjs'
import { FakeSessionCollection } from './helpers/fake-mongo.js'
import { tempDir } from './helpers/tmp.js'
import { fakeClock } from './helpers/clock.js'

// loaded by a specifier TypeScript does not follow: @fastify/session's type augmentation of
// FastifyRequest.session would clash with ours in this project's type-check
const fastifySession = (await import('@fastify/session' as string)).default
const OLD_SECRET = 'the-secret-the-old-fastify-session-app-used'
const NEW_SECRET = 'a-new-secret-for-fastify-zod-session-0123456789'

const redisServer = await startRedis()
const redis = createClient({ url: redisServer.url })
await redis.connect()
t.teardown(async () => { await redis.quit(); await redisServer.stop() })

/** A cookie jar: what a browser sends back after each response. */
class Browser {
  readonly jar = new Map<string, string>()
  header (): string { return [...this.jar].map(([k, v]) => `${k}=${v}`).join('; ') }
  take (res: { headers: Record<string, unknown> }): void {
    const raw = res.headers['set-cookie']
    for (const line of (raw === undefined ? [] : Array.isArray(raw) ? raw : [raw]) as string[]) {
      const [pair, ...attributes] = line.split(';')
      const [name, value] = [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)]
      const gone = value === '' || attributes.some(a => /^\s*max-age=0$/i.test(a))
      if (gone) this.jar.delete(name)
      else this.jar.set(name, value)
    }
  }

  async request (app: FastifyInstance, method: 'GET' | 'POST', url: string): Promise<{ statusCode: number, json: () => any, headers: Record<string, unknown> }> {
    const res = await app.inject({ method, url, headers: this.jar.size > 0 ? { cookie: this.header() } : {} })
    this.take(res)
    return res
  }
}

async function oldApp (t: Test): Promise<FastifyInstance> {
  const app = Fastify()
  await app.register(fastifyCookie)
  await app.register(fastifySession, { secret: OLD_SECRET, store: new ConnectRedisStore({ client: redis }), cookie: { secure: false, maxAge: 86_400_000 }, saveUninitialized: false })
  app.post('/login', async request => {
    await request.session.regenerate()
    request.session.set('userId' as never, 'ada' as never)
    request.session.set('cart' as never, ['book'] as never)
    return 'ok'
  })
  await app.ready()
  t.teardown(() => app.close())
  return app
}

const Schema = z.object({ userId: z.string().optional(), cart: z.array(z.string()).default([]) })

async function newApp (t: Test, legacy: Record<string, unknown> = {}, schema: z.ZodType = Schema): Promise<{ app: FastifyInstance, store: MemoryStore }> {
  const store = new MemoryStore()
  const app = Fastify()
  await app.register(fastifyZodSession, {
    secret: NEW_SECRET,
    schema: schema as never,
    store,
    legacy: { secret: OLD_SECRET, store: new ConnectRedisStore({ client: redis }), ...legacy }
  })
  app.get('/me', async request => ({ userId: request.session.get('userId') ?? null, cart: request.session.get('cart') ?? null }))
  app.post('/logout', async request => { await request.session.destroy(); return 'bye' })
  await app.ready()
  t.teardown(() => app.close())
  return { app, store }
}

t.test('a user logged in by @fastify/session + connect-redis is still logged in after the switch', async t => {
  const browser = new Browser()
  await browser.request(await oldApp(t), 'POST', '/login')
  t.ok(browser.jar.has('sessionId'), 'the old app set its cookie')
  const oldKeys = await redis.keys('sess:*')
  t.equal(oldKeys.length, 1, 'and kept the session in Redis')

  const { app, store } = await newApp(t)
  const first = await browser.request(app, 'GET', '/me')
  t.same(first.json(), { userId: 'ada', cart: ['book'] }, 'the same browser is logged in on the new app')
  t.ok(browser.jar.has('session_id'), 'and now holds our cookie')
  t.notOk(browser.jar.has('sessionId'), 'the old cookie was cleared, so a later logout is final')
  const ours = decodeURIComponent(browser.jar.get('session_id')!).slice(0, 22)
  t.ok(await store.get(ours), 'the session is in our store')
  t.equal((await store.stats()).sessions, 2, 'beside its import tombstone (stats counts records)')
  t.same(await redis.keys('sess:*'), oldKeys, 'nothing was deleted from the old store (a rollback still finds it)')

  t.same((await browser.request(app, 'GET', '/me')).json(), { userId: 'ada', cart: ['book'] }, 'the next request uses our cookie')
  await browser.request(app, 'POST', '/logout')
  t.same((await browser.request(app, 'GET', '/me')).json(), { userId: null, cart: [] }, 'logout is final')
})

t.test('what is not imported: a forged or unknown old cookie, an expired old session, data the schema refuses', async t => {
  const { app, store } = await newApp(t, {}, z.object({ userId: z.number().optional() }))
  const forged = await app.inject({ url: '/me', headers: { cookie: 'sessionId=abc.forged' } })
  t.same(forged.json(), { userId: null, cart: null })
  const browser = new Browser()
  await browser.request(await oldApp(t), 'POST', '/login')
  const refused = await browser.request(app, 'GET', '/me')
  t.same(refused.json(), { userId: null, cart: null }, 'onInvalidData reset: a fresh session')
  t.match([refused.headers['set-cookie']].flat().join('\n'), /^sessionId=;.*Expires=Thu, 01 Jan 1970/m, 'and the old cookie is cleared: the old store is not read again on every request')
  t.equal((await store.stats()).sessions, 0, 'nothing was saved')

  const expiredBrowser = new Browser()
  await expiredBrowser.request(await oldApp(t), 'POST', '/login')
  const key = `sess:${decodeURIComponent(expiredBrowser.jar.get('sessionId')!).split('.')[0]}`
  const old = JSON.parse((await redis.get(key))!)
  old.cookie.expires = new Date(Date.now() - 1000).toISOString()
  await redis.set(key, JSON.stringify(old))
  const { app: second } = await newApp(t)
  t.same((await expiredBrowser.request(second, 'GET', '/me')).json(), { userId: null, cart: [] }, 'an expired old session is not imported')
})

t.test('deleteAfterImport: a copy of the old cookie cannot be imported twice', async t => {
  const browser = new Browser()
  await browser.request(await oldApp(t), 'POST', '/login')
  const stolen = `sessionId=${browser.jar.get('sessionId')!}`
  const { app } = await newApp(t, { deleteAfterImport: true })
  t.same((await browser.request(app, 'GET', '/me')).json(), { userId: 'ada', cart: ['book'] })
  await browser.request(app, 'POST', '/logout')
  t.same((await app.inject({ url: '/me', headers: { cookie: stolen } })).json(), { userId: null, cart: [] }, 'the replayed old cookie finds nothing')
})

t.test('legacy options are checked at ready()', async t => {
  for (const [legacy, message] of [
    [{ store: {} }, /"legacy.secret": is required/],
    [{ secret: OLD_SECRET, store: {} }, /"legacy.store": must be the old store/],
    [{ secret: OLD_SECRET, store: new MemoryStore(), cookieName: '' }, /"legacy.cookieName"/]
  ] as const) {
    const app = Fastify()
    app.register(fastifyZodSession, { secret: NEW_SECRET, schema: Schema, legacy } as never)
    await t.rejects(async () => { await app.ready() }, { code: 'FST_SESSION_INVALID_OPTIONS', message })
    await app.close()
  }
})

// ---- importing an old session is as safe as a login ----

const OLD_APP_SECRET = 'the-secret-the-old-fastify-session-app-used'
const tombstoneOf = (sid: string): string => createHash('sha256').update('fastify-zod-session/legacy-tombstone\0').update(sid).digest().toString('base64url', 0, 16)
const idOfCookie = (cookie: string): string => decodeURIComponent(cookie.split('=')[1]).slice(0, 22)

t.test('the import races and the old cookie\'s death, on every store with create-if-absent', async t => {
  const dir = tempDir(t)
  const ioredis = new Redis(redisServer.url)
  t.teardown(() => ioredis.quit())
  const pgServer = await startPostgres()
  const pgPool = new pg.Pool({ connectionString: pgServer.url, max: 10 })
  t.teardown(async () => { await pgPool.end(); await pgServer.stop() })
  const memcached = await startMemcached()
  t.teardown(() => memcached.stop())
  const mongo = new FakeSessionCollection()
  let n = 0
  const stores: Array<{ name: string, create: () => Promise<SessionStore>, ownerIndex?: boolean }> = [
    { name: 'memory', create: async () => new MemoryStore() },
    { name: 'file', create: async () => new FileStore({ path: join(dir, `legacy-${n++}.jsonl`) }) },
    { name: 'directory', create: async () => new DirectoryStore({ path: join(dir, `legacy-dir-${n++}`) }) },
    { name: 'redis', create: async () => new RedisStore({ client: ioredis, prefix: `legacy${n++}:` }) },
    { name: 'postgres', create: async () => new PostgresStore({ pool: pgPool, prefix: `legacy${n++}:` }) },
    { name: 'memcached', create: async () => new MemcachedStore({ servers: [new URL(memcached.url).host], prefix: `legacy${n++}:` }), ownerIndex: false },
    { name: 'mongodb (fake)', create: async () => new MongoStore({ collection: mongo, prefix: `legacy${n++}:` }) }
  ]
  for (const { name, create, ownerIndex } of stores) {
    t.test(name, async t => {
      for (const c of legacyRaces({ create, ownerIndex })) t.test(c.name, async () => { await c.run() })
    })
  }
})

t.test('a hung old store is bounded by storeTimeout and answers like our store\'s outage', { timeout: 20_000 }, async t => {
  const hung = { get (_sid: string, _cb: unknown): void {} } // never calls back
  const hungPromise = { get: async (_sid: string): Promise<never> => await new Promise<never>(() => {}) } // never settles
  for (const [name, store] of [['callback store', hung], ['promise store', hungPromise]] as const) {
    const old = new GatedOldStore()
    const { cookie } = oldLogin(old, 'ada')
    const ours = new MemoryStore()
    const failing = await legacyApp(ours, old, { storeTimeout: '100ms', legacy: { secret: OLD_APP_SECRET, store } })
    t.teardown(() => failing.close())
    const res = await failing.inject({ url: '/me', headers: { cookie } })
    t.equal(res.statusCode, 503, `${name}, onStoreError 'fail': 503`)
    t.equal(res.json().code, 'FST_SESSION_STORE_UNAVAILABLE')
    const anonymous = await legacyApp(ours, old, { storeTimeout: '100ms', onStoreError: 'anonymous', legacy: { secret: OLD_APP_SECRET, store } })
    t.teardown(() => anonymous.close())
    const served = await anonymous.inject({ url: '/me', headers: { cookie } })
    t.equal(served.statusCode, 200, `${name}, onStoreError 'anonymous': served`)
    t.same(served.json(), { userId: null }, 'with an unsaved empty session')
    t.equal(cookieOf(served), undefined, 'no cookie of ours')
    t.notOk(clearsOld(served), 'the old cookie is kept: it is imported once the old store answers')
    t.equal((await ours.stats()).sessions, 0, 'nothing saved')
  }
})

t.test('callback-only and promise-only old stores both import', async t => {
  const callbackOnly = new GatedOldStore()
  const { sid, cookie } = oldLogin(callbackOnly, 'ada')
  const promiseOnly = { get: async (id: string) => id === sid ? callbackOnly.sessions.get(id) : undefined }
  for (const store of [callbackOnly, promiseOnly]) {
    const app = await legacyApp(new MemoryStore(), callbackOnly, { legacy: { secret: OLD_APP_SECRET, store } })
    t.teardown(() => app.close())
    t.same((await app.inject({ url: '/me', headers: { cookie } })).json(), { userId: 'ada' })
  }
})

t.test('an import is logged once with the new id (no cookie, no secret) and reported as an `imported` event', async t => {
  const lines: Array<Record<string, unknown>> = []
  const raw: string[] = []
  const events: SessionEvent[] = []
  const published: unknown[] = []
  const onPublish = (message: unknown): void => { published.push(message) }
  diagnostics.subscribe('fastify-zod-session:imported', onPublish)
  t.teardown(() => diagnostics.unsubscribe('fastify-zod-session:imported', onPublish))
  const old = new GatedOldStore()
  const { sid, cookie } = oldLogin(old, 'ada')
  const app = Fastify({ logger: { level: 'info', stream: { write: (line: string) => { raw.push(line); lines.push(JSON.parse(line)) } } } })
  await app.register(fastifyZodSession, {
    secret: NEW_SECRET,
    schema: Schema as never,
    owner: (d: { userId?: string }) => d.userId,
    legacy: { secret: OLD_APP_SECRET, store: old },
    events: { imported: e => { events.push(e) } }
  })
  app.get('/me', async request => ({ userId: request.session.get('userId') ?? null }))
  await app.ready()
  t.teardown(() => app.close())
  const first = await app.inject({ url: '/me', headers: { cookie } })
  const ours = cookieOf(first) as string
  const id = idOfCookie(ours)
  t.same((await app.inject({ url: '/me', headers: { cookie } })).json(), { userId: 'ada' }, 'a second request with the old cookie joins the import')
  const imported = lines.filter(l => l.msg === 'imported an @fastify/session session')
  t.equal(imported.length, 1, 'one info line for one import')
  t.equal(imported[0]?.level, 30, 'at info')
  t.equal(imported[0]?.session, id, 'naming the new session id')
  const secret = decodeURIComponent(ours.split('=')[1]).slice(23).split('.')[0]
  for (const secretish of [sid, decodeURIComponent(cookie.split('=')[1]), decodeURIComponent(ours.split('=')[1]), secret]) {
    t.notOk(raw.some(line => line.includes(secretish)), 'no log line holds the old id, a cookie or a secret')
  }
  t.equal(events.length, 1, 'one event')
  t.match(events[0], { type: 'imported', id, owner: 'ada', ip: '127.0.0.1' })
  t.match(published, [{ type: 'imported', id }], 'and on the diagnostics channel')
})

t.test('an old cookie whose session the old store no longer has (or has expired) is cleared', async t => {
  const old = new GatedOldStore()
  const store = new MemoryStore()
  const app = await legacyApp(store, old)
  t.teardown(() => app.close())
  const { sid, cookie } = oldLogin(old, 'ada')
  old.sessions.delete(sid)
  const gone = await app.inject({ url: '/me', headers: { cookie } })
  t.same(gone.json(), { userId: null })
  t.ok(clearsOld(gone), 'Set-Cookie clears sessionId')
  t.equal(cookieOf(gone), undefined)
  const expired = oldLogin(old, 'ada', new Date(Date.now() - 1000))
  const late = await app.inject({ url: '/me', headers: { cookie: expired.cookie } })
  t.same(late.json(), { userId: null })
  t.ok(clearsOld(late), 'an expired one too')
  t.equal((await store.stats()).sessions, 0, 'nothing was saved')
})

t.test('rotation: the old cookie opens the imported session while its derived secret is current or in grace, never after', async t => {
  const clock = fakeClock(t, Date.now())
  const old = new GatedOldStore()
  const app = await legacyApp(new MemoryStore(), old, { rotationInterval: '4m', rotationGrace: '30s' })
  t.teardown(() => app.close())
  const { cookie } = oldLogin(old, 'ada')
  const ours = cookieOf(await app.inject({ url: '/me', headers: { cookie } })) as string
  clock.advance(4 * 60_000 + 1)
  const rotated = cookieOf(await app.inject({ url: '/me', headers: { cookie: ours } })) as string
  t.ok(rotated !== undefined && rotated !== ours, 'our cookie was rotated')
  clock.advance(10_000)
  const inGrace = await app.inject({ url: '/me', headers: { cookie } })
  t.same(inGrace.json(), { userId: 'ada' }, 'within rotationGrace the old cookie (a replaced secret) still joins')
  clock.advance(30_000)
  const after = await app.inject({ url: '/me', headers: { cookie } })
  t.same(after.json(), { userId: null }, 'past rotationGrace it opens nothing')
  t.ok(clearsOld(after), 'and is cleared')
  t.same((await app.inject({ url: '/me', headers: { cookie: rotated } })).json(), { userId: 'ada' }, 'the session itself lives on')
})

t.test('a tombstone lives until the old cookie\'s expiry or the session\'s absolute deadline, whichever is later; a day without an old expiry', async t => {
  const clock = fakeClock(t, Date.now())
  const old = new GatedOldStore()
  const store = new MemoryStore()
  const app = await legacyApp(store, old, { absoluteTimeout: '12h' })
  t.teardown(() => app.close())
  const now = clock.now()
  const cases: Array<[string, Date | null, number]> = [
    ['an old cookie expiring after the absolute deadline', new Date(now + 3 * 86_400_000), now + 3 * 86_400_000],
    ['an old cookie expiring before it', new Date(now + 3_600_000), now + 12 * 3_600_000],
    ['an old browser-session cookie', null, now + 86_400_000]
  ]
  for (const [name, expires, until] of cases) {
    const { sid, cookie } = oldLogin(old, 'ada', expires)
    t.same((await app.inject({ url: '/me', headers: { cookie } })).json(), { userId: 'ada' })
    const tombstone = await store.get(tombstoneOf(sid))
    t.equal(tombstone?.expiresAt, until, name)
    t.same(tombstone?.meta, {}, 'no owner: never listed or revoked')
  }
})

t.test('an old session over maxDataBytes is not imported: a fresh session, the old cookie cleared (not a 500 on every request)', async t => {
  const old = new GatedOldStore()
  const store = new MemoryStore()
  const app = await legacyApp(store, old, { maxDataBytes: 64 })
  t.teardown(() => app.close())
  const { sid, cookie } = oldLogin(old, 'ada')
  old.sessions.get(sid)!.cart = Array.from({ length: 20 }, (_, i) => `book-${i}`)
  const res = await app.inject({ url: '/me', headers: { cookie } })
  t.equal(res.statusCode, 200)
  t.same(res.json(), { userId: null })
  t.ok(clearsOld(res))
  t.equal((await store.stats()).sessions, 0)
})

t.test('after the app\'s secret changes (the old one still listed), the old cookie still joins its import', async t => {
  const old = new GatedOldStore()
  const store = new MemoryStore()
  const { cookie } = oldLogin(old, 'ada')
  const before = await legacyApp(store, old)
  t.teardown(() => before.close())
  const ours = cookieOf(await before.inject({ url: '/me', headers: { cookie } })) as string
  const after = await legacyApp(store, old, { secret: ['a-brand-new-secret-for-the-new-app-0123456789', 'legacy-race-secret-legacy-race-secret-0123456789'] })
  t.teardown(() => after.close())
  const joined = await after.inject({ url: '/me', headers: { cookie } })
  t.same(joined.json(), { userId: 'ada' })
  t.equal(idOfCookie(cookieOf(joined) as string), idOfCookie(ours), 'the same session')
  t.equal((await after.sessions.list('ada')).length, 1)
})

t.test('old cookies signed with @fastify/session\'s algorithm option or its signer object import; bad ones fail ready()', async t => {
  const old = new GatedOldStore()
  const sid = 'an-old-session-signed-another-way'
  old.sessions.set(sid, { userId: 'ada', cookie: { expires: null } })
  const sha512 = new Signer(OLD_APP_SECRET, 'sha512')
  for (const [legacy, cookie] of [
    [{ secret: OLD_APP_SECRET, algorithm: 'sha512', store: old }, sha512.sign(sid)],
    [{ secret: sha512, store: old }, sha512.sign(sid)]
  ] as const) {
    const app = await legacyApp(new MemoryStore(), old, { legacy })
    t.teardown(() => app.close())
    t.same((await app.inject({ url: '/me', headers: { cookie: `sessionId=${encodeURIComponent(cookie)}` } })).json(), { userId: 'ada' }, `imported (${legacy.secret === sha512 ? 'signer object' : 'algorithm sha512'})`)
    const sha256 = new Signer(OLD_APP_SECRET, 'sha256').sign(sid)
    t.same((await app.inject({ url: '/me', headers: { cookie: `sessionId=${encodeURIComponent(sha256)}` } })).json(), { userId: null }, 'a cookie signed another way opens nothing')
  }
  for (const [legacy, message] of [
    [{ secret: OLD_APP_SECRET, algorithm: 'no-such-hash', store: old }, /"legacy.algorithm": "no-such-hash" is not a hash/],
    [{ secret: sha512, algorithm: 'sha512', store: old }, /"legacy.algorithm": applies to string secrets/],
    [{ secret: { sign: () => '' }, store: old }, /"legacy.secret": a signer object needs sign\(\) and unsign\(\)/]
  ] as const) {
    const app = Fastify()
    app.register(fastifyZodSession, { secret: NEW_SECRET, schema: Schema, legacy } as never)
    await t.rejects(async () => { await app.ready() }, { code: 'FST_SESSION_INVALID_OPTIONS', message })
    await app.close()
  }
})

t.test('a legacy signer object that throws on a malformed old cookie gives a fresh session, not a 500', async t => {
  const old = new GatedOldStore()
  const real = new Signer(OLD_APP_SECRET, 'sha256')
  const signer = { sign: (v: string) => real.sign(v), unsign: (v: string) => { if (!v.includes('.')) throw new Error('malformed'); return real.unsign(v) } }
  const app = await legacyApp(new MemoryStore(), old, { legacy: { secret: signer, store: old } })
  t.teardown(() => app.close())
  const res = await app.inject({ url: '/me', headers: { cookie: 'sessionId=garbage' } })
  t.equal(res.statusCode, 200)
  t.same(res.json(), { userId: null })
  const odd = { sign: (v: string) => v, unsign: () => ({ valid: true, renew: false, value: 42 }) }
  const second = await legacyApp(new MemoryStore(), old, { legacy: { secret: odd, store: old } })
  t.teardown(() => second.close())
  t.equal((await second.inject({ url: '/me', headers: { cookie: 'sessionId=x.y' } })).statusCode, 200, 'nor an unsign() result that is not a string id')
})
