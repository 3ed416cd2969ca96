// Issue 13: never a hang, never a 500 for input we accepted, never a crash from a plugin's setup.
import t from 'tap'
import { z } from 'zod'
import { MemoryStore } from '../lib/index.js'
import type { SessionStore } from '../types/index.js'
import { buildApp, sessionCookie, rawSetCookie } from './helpers/app.js'
import { CountingStore } from './helpers/counting-store.js'

/** A store whose chosen methods never settle: a frozen server, a network partition. */
function frozen (inner: SessionStore, methods: string[]): SessionStore & { calls: number } {
  const store = new CountingStore(inner) as unknown as SessionStore & { calls: number }
  store.calls = 0
  for (const method of methods) {
    (store as unknown as Record<string, unknown>)[method] = async () => { store.calls++; return await new Promise(() => {}) }
  }
  return store
}

t.test('storeTimeout: a store call that never settles is a fast 503, not a hang', async t => {
  const inner = new MemoryStore()
  const healthy = await buildApp(t, { store: inner })
  const cookie = sessionCookie(await healthy.inject({ method: 'POST', url: '/login/ann' }))!

  for (const method of ['get', 'patch', 'touch', 'destroy']) {
    const store = frozen(inner, [method])
    const app = await buildApp(t, { store, storeTimeout: '100ms', touchAfter: 0 })
    const url = method === 'get' || method === 'touch' ? '/read' : method === 'patch' ? '/visit' : '/logout'
    const started = Date.now()
    const res = await app.inject({ method: url === '/read' ? 'GET' : 'POST', url, headers: { cookie } })
    t.equal(res.statusCode, 503, `${method}: 503`)
    t.equal(res.json().code, 'FST_SESSION_STORE_UNAVAILABLE', method)
    t.match(res.json().message, /store unavailable/, method)
    t.ok(Date.now() - started < 5000, `${method}: answered after the timeout, not never`)
    t.equal(rawSetCookie(res).length, 0, `${method}: no cookie for a write that did not answer`)
  }

  const fresh = frozen(new MemoryStore(), ['set'])
  const creating = await buildApp(t, { store: fresh, storeTimeout: '100ms' })
  t.equal((await creating.inject({ method: 'POST', url: '/visit' })).statusCode, 503, 'set: 503')
})

t.test("storeTimeout with onStoreError 'anonymous': a frozen store serves the anonymous session", async t => {
  const app = await buildApp(t, { store: frozen(new MemoryStore(), ['get']), storeTimeout: '50ms', onStoreError: 'anonymous' })
  const value = sessionCookie(await (await buildApp(t)).inject({ method: 'POST', url: '/login/ann' }))!
  const res = await app.inject({ url: '/read', headers: { cookie: value } })
  t.equal(res.statusCode, 200)
  t.same(res.json(), { visits: 0, userId: null, isNew: true })
})

t.test('storeTimeout: null waits for the store; fastify.sessionStore is the store itself', async t => {
  const store = new MemoryStore()
  const app = await buildApp(t, { store, storeTimeout: null })
  t.equal(app.sessionStore, store)
  t.equal((await app.inject({ method: 'POST', url: '/visit' })).statusCode, 200)
  const timed = await buildApp(t, { store })
  t.equal(timed.sessionStore, store, 'the timeout wraps only what requests call')
})

t.test('values JSON cannot carry are refused by set() with FST_SESSION_INVALID_DATA, never stored as {}', async t => {
  const schema = z.object({
    tags: z.set(z.string()).optional(),
    prefs: z.map(z.string(), z.string()).optional(),
    big: z.bigint().optional(),
    length: z.string().transform(s => s.length).optional(),
    name: z.string().trim().optional(),
    at: z.date().optional()
  })
  const store = new MemoryStore()
  const app = await buildApp(t, { store, schema: schema as never }, app => {
    app.post('/put/:what', async (request) => {
      const s = request.session as any
      const what = (request.params as { what: string }).what
      if (what === 'set') s.set('tags', new Set(['a']))
      if (what === 'map') s.set('prefs', new Map([['a', 'b']]))
      if (what === 'bigint') s.set('big', 10n)
      if (what === 'transform') s.set('length', 'abc')
      if (what === 'trim') s.set('name', '  Ann ')
      if (what === 'date') s.set('at', new Date(5))
      if (what === 'assign-map') s.data.prefs = new Map()
      return { ok: true }
    })
    app.get('/get', async (request) => ({ name: (request.session as any).get('name') ?? null, at: (request.session as any).get('at') instanceof Date }))
  })
  const refused: Record<string, RegExp> = {
    set: /tags: a Set cannot be stored as JSON/,
    map: /prefs: a Map cannot be stored as JSON/,
    bigint: /big: a bigint cannot be stored as JSON \(store it as a string\)/,
    transform: /length: the schema's output does not pass the schema again/,
    'assign-map': /prefs: a Map cannot be stored as JSON/
  }
  for (const [what, message] of Object.entries(refused)) {
    const res = await app.inject({ method: 'POST', url: `/put/${what}` })
    t.equal(res.statusCode, 500, what)
    t.equal(res.json().code, 'FST_SESSION_INVALID_DATA', what)
    t.match(res.json().message, message, what)
  }
  t.equal((await store.stats()).sessions, 0, 'nothing was stored')
  const trimmed = await app.inject({ method: 'POST', url: '/put/trim' })
  const cookie = sessionCookie(trimmed)!
  t.same((await app.inject({ url: '/get', headers: { cookie } })).json(), { name: 'Ann', at: false }, 'an idempotent transform round-trips')
  const dated = await app.inject({ method: 'POST', url: '/put/date', headers: { cookie } })
  t.equal(dated.statusCode, 200, 'Dates are stored (the codec revives them)')
  t.same((await app.inject({ url: '/get', headers: { cookie } })).json(), { name: 'Ann', at: true })
})

t.test('set() with the value already stored writes nothing', async t => {
  const store = new CountingStore()
  const app = await buildApp(t, { store, touchAfter: '1h' }, app => {
    app.post('/same', async (request) => {
      request.session.set('userId', request.session.get('userId'))
      request.session.set('cart', [{ sku: 'a', qty: 1 }])
      request.session.set('visits', 1)
      return {}
    })
    app.post('/same-then-mutate', async (request) => {
      request.session.set('cart', [{ sku: 'a', qty: 1 }])
      request.session.get('cart')[0].qty = 2
      return {}
    })
    app.get('/cart', async (request) => request.session.get('cart'))
  })
  let cookie = sessionCookie(await app.inject({ method: 'POST', url: '/login/ann' }))!
  cookie = sessionCookie(await app.inject({ method: 'POST', url: '/same', headers: { cookie } })) ?? cookie
  store.reset()
  const res = await app.inject({ method: 'POST', url: '/same', headers: { cookie } })
  t.equal(res.statusCode, 200)
  t.equal(store.writes(), 0, 'no store write')
  t.same(rawSetCookie(res), [], 'no cookie')
  await app.inject({ method: 'POST', url: '/same-then-mutate', headers: { cookie } })
  t.equal(store.count('patch'), 1, 'a value set equal, then mutated through get(), is still saved')
  t.same((await app.inject({ url: '/cart', headers: { cookie } })).json(), [{ sku: 'a', qty: 2 }])
})

t.test('secure: true on a plain-http request saves nothing, sends nothing, and warns once naming trustProxy', async t => {
  const warnings: string[] = []
  const store = new CountingStore()
  const app = await buildApp(t, { store, cookie: { secure: true }, fastify: { logger: { level: 'warn', stream: { write: (line: string) => { warnings.push(line) } } } } })
  for (let i = 0; i < 2; i++) {
    const res = await app.inject({ method: 'POST', url: '/visit', headers: { host: 'shop.example' } })
    t.equal(res.statusCode, 200)
    t.same(rawSetCookie(res), [], 'no cookie the browser would drop')
  }
  t.equal(store.count('set'), 0, 'no session saved')
  t.equal(warnings.filter(w => /trustProxy/.test(w)).length, 1, 'one warning')
  const local = await app.inject({ method: 'POST', url: '/visit', headers: { host: 'localhost:3000' } })
  t.equal(rawSetCookie(local).length, 0, 'localhost too (Safari drops Secure cookies over http://localhost): development uses secure: \'auto\'')
  const overridden = await buildApp(t, { cookie: { secure: true } }, app => {
    app.post('/insecure-ok', async request => { request.session.options({ secure: false }); request.session.set('a', 'x'); return {} })
  })
  t.equal(rawSetCookie(await overridden.inject({ method: 'POST', url: '/insecure-ok' })).length, 1, 'a per-request secure: false is honoured')
  const perRequest = await buildApp(t, {}, app => {
    app.post('/must-be-secure', async request => { request.session.options({ secure: true }); request.session.set('a', 'x'); return {} })
  })
  t.equal(rawSetCookie(await perRequest.inject({ method: 'POST', url: '/must-be-secure' })).length, 0, 'and a per-request secure: true over http saves nothing')
  const proxied = await buildApp(t, { cookie: { secure: true }, fastify: { trustProxy: true } })
  const https = await proxied.inject({ method: 'POST', url: '/visit', headers: { host: 'shop.example', 'x-forwarded-proto': 'https' } })
  t.match(rawSetCookie(https)[0], /; Secure/, 'behind a trusted TLS proxy the cookie is sent')
})
