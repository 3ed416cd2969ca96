// Issue 14: switching an app from @fastify/session + connect-redis to this plugin logs nobody out.
// A real @fastify/session app logs a user in against a real Redis; the app is switched; the same
// browser (its cookie jar) stays logged in.
import t, { type Test } from 'tap'
import Fastify, { type FastifyInstance } from 'fastify'
import { fastifyCookie } from '@fastify/cookie'
import { RedisStore as ConnectRedisStore } from 'connect-redis'
import { createClient } from 'redis'
import { z } from 'zod'
import fastifyZodSession, { MemoryStore } from '../lib/index.js'
import { startRedis } from './helpers/servers.js'

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
  t.equal((await store.stats()).sessions, 1, 'the session is in our store')
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
