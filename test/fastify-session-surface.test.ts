import t from 'tap'
import { randomUUID } from 'node:crypto'
import Fastify, { type FastifyInstance, type InjectOptions, type LightMyRequestResponse } from 'fastify'
import fp from 'fastify-plugin'
import { Signer } from '@fastify/cookie'
import fastifyZodSession, { MemoryStore } from '../lib/index.js'
import { SECRET, TestSchema, buildApp, idOf, rawSetCookie, sessionCookie } from './helpers/app.js'

// The @fastify/session surface that apps switching to this plugin call (request.sessionStore, idGenerator,
// the cookie and secret options); each was found by running @fastify/session's own test suite against
// this plugin (test/compat/run.mjs).

/** a response, or a failure naming the hang: a callback never called must fail the test, not time it out */
async function answered (app: FastifyInstance, options: InjectOptions): Promise<LightMyRequestResponse> {
  let timer: NodeJS.Timeout | undefined
  const hang = new Promise<never>((_resolve, reject) => { timer = setTimeout(() => { reject(new Error('the request hangs')) }, 2000) })
  try {
    return await Promise.race([app.inject(options), hang])
  } finally {
    clearTimeout(timer)
  }
}

/** unhandled rejections during `work`: each one would end a production process */
async function unhandledDuring (work: () => Promise<void>): Promise<unknown[]> {
  const seen: unknown[] = []
  const listener = (reason: unknown): void => { seen.push(reason) }
  process.on('unhandledRejection', listener)
  try {
    await work()
    await new Promise(resolve => setTimeout(resolve, 50))
  } finally {
    process.off('unhandledRejection', listener)
  }
  return seen
}

t.test('request.sessionStore with callbacks: the logout recipe, get and set by request.session.sessionId', async t => {
  const store = new MemoryStore()
  const app = await buildApp(t, { store }, app => {
    app.post('/logout-cb', (request, reply) => {
      request.sessionStore.destroy(request.session.sessionId, err => { reply.send({ err: err?.message ?? null }) })
    })
    app.get('/peek/:id', (request, reply) => {
      request.sessionStore.get((request.params as { id: string }).id, (err, session) => {
        reply.send({ err: err?.message ?? null, session: session ?? null })
      })
    })
    app.post('/set-own', (request, reply) => {
      // an @fastify/session-shaped object: data keys and a cookie
      request.sessionStore.set(request.session.sessionId, { userId: 'bob', visits: 7, cookie: { originalMaxAge: 1000, path: '/' } }, err => {
        reply.send({ err: err?.message ?? null, userId: request.session.get('userId') ?? null })
      })
    })
    app.post('/set-self', (request, reply) => {
      request.session.set('a', 'saved by set(id, request.session)')
      request.sessionStore.set(request.session.sessionId, request.session, err => { reply.send({ err: err?.message ?? null }) })
    })
    app.post('/set-other/:id', (request, reply) => {
      request.sessionStore.set((request.params as { id: string }).id, { userId: 'mallory', cookie: {} }, (err?: Error & { code?: string } | null) => {
        reply.send({ code: err?.code ?? null, message: err?.message ?? null })
      })
    })
    app.post('/set-invalid', (request, reply) => {
      request.sessionStore.set(request.session.sessionId, { visits: 'many' }, (err?: Error & { code?: string } | null) => { reply.send({ code: err?.code ?? null }) })
    })
  })

  const login = await app.inject({ method: 'POST', url: '/login/alice' })
  const cookie = sessionCookie(login)!
  const id = idOf(cookie)

  const peek = (await answered(app, { url: `/peek/${id}` })).json()
  t.equal(peek.err, null)
  t.match(peek.session, { userId: 'alice', visits: 0, cookie: { originalMaxAge: 900_000 } }, 'get(id, cb): the data and a cookie, as @fastify/session\'s store hands it out')
  t.type(peek.session.cookie.expires, 'string')
  t.same((await answered(app, { url: '/peek/no-such-session' })).json(), { err: null, session: null }, 'an unknown id: null')

  const other = (await answered(app, { method: 'POST', url: `/set-other/${id}` })).json()
  t.equal(other.code, 'FST_SESSION_UNSUPPORTED', 'set() of a session other than the request\'s own: a clear error through the callback')
  t.match(other.message, /request\.sessionStore\.set\(\) writes only the request's own session/)
  t.equal((await store.get(id))?.data.userId, 'alice', 'and nothing written')

  const own = await answered(app, { method: 'POST', url: '/set-own', headers: { cookie } })
  t.same(own.json(), { err: null, userId: 'bob' }, 'set(own id, object): request.session is that data')
  t.match((await store.get(id))?.data, { userId: 'bob', visits: 7 }, 'saved at once, `cookie` left out')
  t.notOk(Object.hasOwn((await store.get(id))!.data, 'cookie'))
  t.equal((await answered(app, { method: 'POST', url: '/set-invalid', headers: { cookie } })).json().code, 'FST_SESSION_INVALID_DATA', 'validated against the schema')
  t.equal((await store.get(id))?.data.visits, 7)
  t.same((await answered(app, { method: 'POST', url: '/set-self', headers: { cookie } })).json(), { err: null })
  t.equal((await store.get(id))?.data.a, 'saved by set(id, request.session)')

  const logout = await answered(app, { method: 'POST', url: '/logout-cb', headers: { cookie } })
  t.same(logout.json(), { err: null }, 'destroy(request.session.sessionId, cb) calls back')
  t.match(rawSetCookie(logout)[0], /^session_id=; Max-Age=0/, 'the cookie is cleared, as request.session.destroy() does')
  t.equal(await store.get(id), undefined, 'gone from the store')
  t.equal((await app.inject({ url: '/read', headers: { cookie } })).json().userId, null, 'the old cookie is logged out')
})

t.test('request.sessionStore as promises; a failure nobody awaits is never an unhandled rejection', async t => {
  const store = new MemoryStore()
  const app = await buildApp(t, { store }, app => {
    app.post('/promises', async request => {
      const id = request.session.sessionId
      await request.sessionStore.set(id, { userId: 'carol' })
      const got = await request.sessionStore.get(id)
      const refused = await request.sessionStore.set('someone-else', { userId: 'x' }).catch((err: { code: string }) => err.code)
      const badId = await request.sessionStore.get(42 as never).catch((err: { code: string }) => err.code)
      return { got: got?.userId, refused, badId }
    })
    app.post('/fire-and-forget', async request => {
      // express-session's store methods take an optional callback: callers often drop the result
      request.sessionStore.set('someone-else', { userId: 'x' })
      request.sessionStore.destroy(undefined as never)
      return { ok: true }
    })
    app.post('/throwing-callback', (request, reply) => {
      request.sessionStore.get(request.session.sessionId, () => { throw new Error('a bug in the app\'s callback') })
      reply.send({ ok: true })
    })
    app.post('/logout-promise', async request => {
      await request.sessionStore.destroy(request.session.sessionId)
      return { isNew: request.session.isNew }
    })
  })
  const res = await answered(app, { method: 'POST', url: '/promises' })
  t.same(res.json(), { got: 'carol', refused: 'FST_SESSION_UNSUPPORTED', badId: 'FST_SESSION_UNSUPPORTED' })
  const cookie = sessionCookie(res)!
  t.equal((await store.get(idOf(cookie)))?.data.userId, 'carol')
  const unhandled = await unhandledDuring(async () => {
    t.equal((await answered(app, { method: 'POST', url: '/fire-and-forget' })).statusCode, 200)
    t.equal((await answered(app, { method: 'POST', url: '/throwing-callback' })).statusCode, 200)
  })
  t.same(unhandled, [], 'no unhandled rejection')
  t.same((await answered(app, { method: 'POST', url: '/logout-promise', headers: { cookie } })).json(), { isNew: true })
  t.equal(await store.get(idOf(cookie)), undefined)
})

t.test('request.sessionStore.set(id, session, done) from a hook that runs before the session is loaded: an error, not a hang or a crash', async t => {
  // what @fastify/session's own tests do to seed its store
  const app = Fastify()
  await app.register(fp(async app => {
    app.addHook('onRequest', (request, _reply, done) => {
      request.sessionStore.set('Qk_XT2K7-clT-x1tVvoY6tIQ83iP72KN', { cookie: { expires: new Date(Date.now() + 1000) } }, done)
    })
  }))
  await app.register(fastifyZodSession, { secret: SECRET, schema: TestSchema })
  app.get('/', async () => ({ ok: true }))
  t.teardown(() => app.close())
  let res: LightMyRequestResponse | undefined
  const unhandled = await unhandledDuring(async () => { res = await answered(app, { url: '/' }) })
  t.same(unhandled, [])
  t.equal(res!.statusCode, 501)
  t.equal(res!.json().code, 'FST_SESSION_UNSUPPORTED')
})

t.test('idGenerator: the app\'s ids, called with the request; the secret beside it stays the credential', async t => {
  let n = 0
  const store = new MemoryStore()
  const app = await buildApp(t, {
    store,
    idGenerator: request => request.session?.get('userId') !== undefined ? `user-${String(request.session.get('userId'))}-${++n}` : `custom-${Date.now()}-${++n}`
  }, app => {
    app.get('/id', async request => ({ id: request.session.sessionId }))
  })
  t.match((await app.inject('/id')).json().id, /^custom-\d+-\d+$/, 'request.session.sessionId is the generated id')
  const first = await app.inject({ method: 'POST', url: '/visit' })
  const cookie = sessionCookie(first)!
  t.match(idOf(cookie), /^custom-\d+-\d+$/)
  t.ok(await store.get(idOf(cookie)), 'the store is keyed by it')
  t.equal((await app.inject({ method: 'POST', url: '/visit', headers: { cookie } })).json().visits, 2, 'its cookie opens the session')
  const [, , , signature] = cookie.split('.')
  const forged = `session_id=${idOf(cookie)}.${'A'.repeat(43)}.${signature}`
  t.equal((await app.inject({ url: '/read', headers: { cookie: forged } })).json().visits, 0, 'the id alone opens nothing')

  // regenerate(): the generator still sees the session being replaced, as @fastify/session calls it
  const loggedIn = await app.inject({ method: 'POST', url: '/set/userId/ann', headers: { cookie } })
  t.equal(loggedIn.statusCode, 200)
  const regenerated = await buildApp(t, {
    idGenerator: request => request.session?.get('userId') !== undefined ? `returning-${++n}` : `new-${++n}`
  }, app => {
    app.post('/login-again', async request => {
      request.session.set('userId', 'ann')
      await request.session.regenerate()
      return { id: request.session.sessionId }
    })
  })
  t.match((await regenerated.inject({ method: 'POST', url: '/login-again' })).json().id, /^returning-\d+$/)

  const uuid = await buildApp(t, { idGenerator: () => randomUUID() })
  const res = await uuid.inject({ method: 'POST', url: '/visit' })
  t.match(idOf(sessionCookie(res)!), /^[0-9a-f-]{36}$/, 'a UUID (36 characters) works')
  t.equal((await uuid.inject({ method: 'POST', url: '/visit', headers: { cookie: sessionCookie(res)! } })).json().visits, 2)
})

t.test('idGenerator: an unusable id fails clearly when it is made; a non-function fails app.ready()', async t => {
  for (const [name, value] of [['with a dot', 'a.b'], ['too long', 'x'.repeat(129)], ['not a string', 42], ['empty', ''], ['with a space', 'a b'], ['path-like', '../etc']] as const) {
    const app = await buildApp(t, { idGenerator: () => value as string })
    const res = await app.inject({ method: 'POST', url: '/visit' })
    t.equal(res.statusCode, 500, name)
    t.equal(res.json().code, 'FST_SESSION_INVALID_OPTIONS', name)
    t.match(res.json().message, /"idGenerator": returned .*1 to 128 characters/, name)
    t.equal(rawSetCookie(res).length, 0, `${name}: no cookie`)
  }
  const app = Fastify()
  app.register(fastifyZodSession, { secret: SECRET, schema: TestSchema, idGenerator: 'uuid' as never })
  await t.rejects(async () => { await app.ready() }, { code: 'FST_SESSION_INVALID_OPTIONS', message: /"idGenerator": must be a function/ })
})

t.test("cookie: { secure: 'auto', sameSite: 'none' }: SameSite=Lax on plain http, Secure; SameSite=None on https", async t => {
  const app = await buildApp(t, { cookie: { secure: 'auto', sameSite: 'none' }, fastify: { trustProxy: true } })
  const http = rawSetCookie(await app.inject({ method: 'POST', url: '/visit' }))[0]
  t.match(http, /SameSite=Lax/)
  t.notMatch(http, /Secure|SameSite=None/)
  const https = rawSetCookie(await app.inject({ method: 'POST', url: '/visit', headers: { 'x-forwarded-proto': 'https' } }))[0]
  t.match(https, /; Secure; SameSite=None/)
})

t.test('a request outside cookie.path creates no session and sends no cookie', async t => {
  const store = new MemoryStore()
  const app = await buildApp(t, { store, saveUninitialized: true, cookie: { path: '/app' } }, app => {
    app.post('/other', async request => { request.session.set('visits', 5); return { visits: request.session.get('visits') } })
    app.post('/app/visit', async request => { request.session.set('visits', request.session.get('visits') + 1); return { visits: request.session.get('visits') } })
    app.get('/application', async request => ({ isNew: request.session.isNew }))
  })
  for (const url of ['/other', '/other', '/other']) {
    const res = await app.inject({ method: 'POST', url })
    t.equal(res.json().visits, 5, 'the handler still has a working session')
    t.same(rawSetCookie(res), [], 'no cookie')
  }
  t.same(rawSetCookie(await app.inject('/read')), [])
  t.same(rawSetCookie(await app.inject('/application')), [], '/application is not under /app')
  t.equal(store.size, 0, 'no session stored')
  const inside = await app.inject({ method: 'POST', url: '/app/visit?x=1' })
  t.match(rawSetCookie(inside)[0], /Path=\/app/, 'inside the path, sessions work')
  t.equal(store.size, 1)
})

t.test('a signer object as secret, and the algorithm option', async t => {
  const signer = new Signer('a short secret, as @fastify/session allows in a Signer', 'sha512')
  const custom = await buildApp(t, { secret: signer as never })
  const first = await custom.inject({ method: 'POST', url: '/visit' })
  const cookie = sessionCookie(first)!
  t.equal(signer.unsign(decodeURIComponent(cookie.slice('session_id='.length))).valid, true, 'signed by the given signer')
  t.equal((await custom.inject({ method: 'POST', url: '/visit', headers: { cookie } })).json().visits, 2)

  const sha512 = await buildApp(t, { algorithm: 'sha512' } as never)
  const res = await sha512.inject({ method: 'POST', url: '/visit' })
  const value = decodeURIComponent(sessionCookie(res)!.slice('session_id='.length))
  t.equal(new Signer(SECRET, 'sha512').unsign(value).valid, true, 'algorithm: sha512 signs with HMAC-SHA512')
  t.equal(new Signer(SECRET, 'sha256').unsign(value).valid, false)
  t.equal((await sha512.inject({ method: 'POST', url: '/visit', headers: { cookie: sessionCookie(res)! } })).json().visits, 2)

  // an app's signer that throws on a cookie it does not like: a fresh session, never a 500
  const picky = await buildApp(t, {
    secret: { sign: (v: string) => signer.sign(v), unsign: (v: string) => { if (v.includes('evil')) throw new Error('no'); return signer.unsign(v) } } as never
  })
  const evil = await picky.inject({ url: '/read', headers: { cookie: 'session_id=evil.x.y' } })
  t.equal(evil.statusCode, 200)
  t.equal(evil.json().isNew, true)
})

t.test('secret and algorithm refusals name the option', async t => {
  const refused = async (options: Record<string, unknown>, message: RegExp): Promise<void> => {
    const app = Fastify()
    app.register(fastifyZodSession, { schema: TestSchema, ...options } as never)
    await t.rejects(async () => { await app.ready() }, { code: 'FST_SESSION_INVALID_OPTIONS', message }, String(message))
    await app.close()
  }
  await refused({ secret: Buffer.alloc(32, 1) }, /"secret": .*a Buffer is not accepted/)
  await refused({ secret: { sign: () => 'x' } }, /"secret": a signer object needs sign\(\) and unsign\(\)/)
  await refused({ secret: { sign: (v: string) => v, unsign: () => ({ valid: false, renew: false, value: null }) } }, /"secret": the signer object must give back what it signed/)
  await refused({ secret: new Signer(SECRET), algorithm: 'sha512' }, /"algorithm": applies to string secrets/)
  await refused({ secret: SECRET, algorithm: 'md5' }, /"algorithm": md5 gives a 128-bit signature/)
  await refused({ secret: SECRET, algorithm: 'no-such-hash' }, /"algorithm": "no-such-hash" is not a hash/)
  await refused({ secret: SECRET, algorithm: 512 }, /"algorithm": must be the name of a hash/)
})

t.test('request.sessionStore.set(): a `__proto__` key is refused, never the data\'s prototype', async t => {
  const store = new MemoryStore()
  const app = await buildApp(t, { store }, app => {
    app.post('/facade-set', async request => {
      request.session.set('a', 'x')
      await request.session.save()
      const refused = await request.sessionStore.set(request.session.sessionId, JSON.parse('{"__proto__": {"userId": "admin"}, "visits": 1}'))
        .then(() => null, (err: { code: string, statusCode: number }) => [err.code, err.statusCode])
      return { refused, userId: request.session.get('userId') ?? null, id: request.session.sessionId }
    })
  })
  const res = await app.inject({ method: 'POST', url: '/facade-set' })
  t.equal(res.statusCode, 200)
  t.same(res.json().refused, ['FST_SESSION_INVALID_DATA', 400], 'refused as hostile data')
  t.equal(res.json().userId, null)
  t.same((await store.get(res.json().id))?.data, { a: 'x', visits: 0, cart: [] }, 'the stored data is what it was')
})

t.test('idGenerator: the same id again on regenerate() keeps the user logged in; a repeated id never overwrites another session', async t => {
  const store = new MemoryStore()
  const perUser = await buildApp(t, { store, idGenerator: (request: { headers: Record<string, unknown> }) => `u-${String(request.headers['x-user'] ?? 'anon')}` } as never)
  const visit = sessionCookie(await perUser.inject({ method: 'POST', url: '/visit', headers: { 'x-user': 'ada' } }))!
  const login = await perUser.inject({ method: 'POST', url: '/login/ada', headers: { 'x-user': 'ada', cookie: visit } })
  t.equal(login.statusCode, 200)
  const cookie = sessionCookie(login)!
  t.equal(idOf(cookie), 'u-ada', 'the same id')
  t.equal((await perUser.inject({ url: '/read', headers: { cookie } })).json().userId, 'ada', 'logged in (the pre-regenerate record was replaced, not deleted after the login)')

  let n = 0
  const counter = await buildApp(t, { store: new MemoryStore(), idGenerator: () => `custom-${n++ % 2}` } as never)
  const ada = sessionCookie(await counter.inject({ method: 'POST', url: '/login/ada' }))!
  t.ok(sessionCookie(await counter.inject({ method: 'POST', url: '/login/bob' })))
  const cyd = await counter.inject({ method: 'POST', url: '/login/cyd' })
  t.equal(cyd.statusCode, 500, 'the colliding login fails')
  t.match(cyd.json(), { code: 'FST_SESSION_INVALID_OPTIONS', message: /idGenerator.*another live session/ })
  t.equal(sessionCookie(cyd), undefined, 'and sends no cookie')
  t.equal((await counter.inject({ url: '/read', headers: { cookie: ada } })).json().userId, 'ada', 'ada is still logged in')
})
