// The @fastify/session API of request.session, which its apps and plugins (@fastify/csrf-protection,
// @fastify/flash, @fastify/passport) touch: its methods in callback and promise forms, and its properties.
import t from 'tap'
import { z } from 'zod'
import { MemoryStore } from '../lib/index.js'
import { appWith, buildApp, sessionCookie, rawSetCookie } from './helpers/app.js'

const idOf = (cookie: string): string => cookie.split('=')[1].split('.')[0]

for (const [name, schema] of [
  ['a catchall schema', z.object({ visits: z.number().default(0) }).catchall(z.unknown())],
  ['a record schema', z.record(z.string(), z.unknown())]
] as const) {
  t.test(`request.session.x = v with ${name} is saved, validated, listed and deletable`, async t => {
    const store = new MemoryStore()
    const app = await buildApp(t, { store, schema: schema as never }, app => {
      app.post('/assign', async request => {
        const s = request.session as unknown as Record<string, unknown>
        s.state = 'oauth-state-123'
        s.grant = { provider: 'github' }
        return { sameRequest: s.state, keys: Object.keys(request.session).sort() }
      })
      app.get('/props', async request => {
        const s = request.session as unknown as Record<string, unknown>
        return { state: s.state ?? null, grant: s.grant ?? null, keys: Object.keys(request.session).sort(), has: 'state' in s }
      })
      app.post('/delete', async request => { delete (request.session as unknown as Record<string, unknown>).state; return {} })
    })
    const res = await app.inject({ method: 'POST', url: '/assign' })
    t.equal(res.json().sameRequest, 'oauth-state-123')
    t.ok(res.json().keys.includes('state') && res.json().keys.includes('grant'), 'Object.keys lists the data keys')
    const cookie = sessionCookie(res)!
    t.ok(cookie, 'the assignment was saved: a cookie was sent')
    t.match((await store.get(idOf(cookie)))?.data, { state: 'oauth-state-123', grant: { provider: 'github' } })
    t.match((await app.inject({ url: '/props', headers: { cookie } })).json(), { state: 'oauth-state-123', grant: { provider: 'github' }, has: true })
    await app.inject({ method: 'POST', url: '/delete', headers: { cookie } })
    t.match((await app.inject({ url: '/props', headers: { cookie } })).json(), { state: null, has: false }, 'delete unsets')
  })
}

t.test('a strict schema refuses an unknown property with FST_SESSION_INVALID_DATA, as set() does', async t => {
  const app = await buildApp(t, { schema: z.object({ user: z.string().optional() }).strict() as never }, app => {
    app.post('/unknown', async request => { (request.session as unknown as Record<string, unknown>).nope = 1; return {} })
  })
  const res = await app.inject({ method: 'POST', url: '/unknown' })
  t.equal(res.statusCode, 500)
  t.equal(res.json().code, 'FST_SESSION_INVALID_DATA')
  t.match(res.json().message, /"nope" is not a key of the session schema/)
})

t.test('Object.keys(request.session) lists the data keys, so passport-style keepSessionInfo keeps them', async t => {
  const app = await buildApp(t, {}, app => {
    app.post('/keys', async request => {
      request.session.set('a', 'x')
      return Object.keys(request.session).sort()
    })
    app.post('/keep', async request => {
      await request.session.regenerate(Object.keys(request.session) as never)
      return { a: request.session.get('a') ?? null, b: request.session.get('b') ?? null }
    })
  })
  const res = await app.inject({ method: 'POST', url: '/keys' })
  t.same(res.json(), ['a', 'cart', 'visits'], 'the keys with a value, defaults included')
  const cookie = sessionCookie(res)!
  t.same((await app.inject({ method: 'POST', url: '/keep', headers: { cookie } })).json(), { a: 'x', b: null })
})

t.test('fastify.sessionStore, isModified(), isSaved(), encryptedSessionId and fastify.decryptSession()', async t => {
  const store = new MemoryStore()
  const app = await buildApp(t, { store }, app => {
    app.post('/state', async request => {
      const before = { modified: request.session.isModified(), saved: request.session.isSaved() }
      request.session.set('a', 'x')
      const changed = { modified: request.session.isModified(), saved: request.session.isSaved() }
      await request.session.save()
      const after = { modified: request.session.isModified(), saved: request.session.isSaved() }
      return { sameStore: request.server.sessionStore === store, before, changed, after, encrypted: request.session.encryptedSessionId }
    })
    // a WebSocket-style handshake: the session named by a token, not by the Cookie header
    app.get('/by-token', async (request) => {
      await new Promise<void>((resolve, reject) => {
        app.decryptSession(String(request.headers['x-session']), request, (err) => { err ? reject(err) : resolve() })
      })
      return { a: request.session.get('a') ?? null, id: request.session.id }
    })
  })
  const res = await app.inject({ method: 'POST', url: '/state' })
  const body = res.json()
  t.ok(body.sameStore)
  t.same(body.before, { modified: false, saved: false })
  t.same(body.changed, { modified: true, saved: false })
  t.same(body.after, { modified: false, saved: true })
  const cookie = sessionCookie(res)!
  t.equal(`session_id=${body.encrypted}`, cookie, 'encryptedSessionId is the signed cookie value')
  const viaToken = (await app.inject({ url: '/by-token', headers: { 'x-session': body.encrypted } })).json()
  t.same(viaToken, { a: 'x', id: idOf(cookie) })
  const forged = (await app.inject({ url: '/by-token', headers: { 'x-session': body.encrypted.slice(0, -2) + 'xx' } })).json()
  t.equal(forged.a, null, 'a forged value gives a new, empty session')

  // a WebSocket server hands over a bare object, not a Fastify request
  const bare: Record<string, any> = {}
  await new Promise<void>((resolve, reject) => { app.decryptSession(body.encrypted, bare as never, (err) => { err ? reject(err) : resolve() }) })
  t.equal(bare.session.get('a'), 'x', 'a bare object gets the session too')
  bare.session.set('a', 'from-the-socket')
  await bare.session.save()
  t.equal((await store.get(idOf(cookie)))?.data.a, 'from-the-socket', 'and can save it')
  const bareForged: Record<string, any> = {}
  await new Promise<void>((resolve, reject) => { app.decryptSession('forged', bareForged as never, (err) => { err ? reject(err) : resolve() }) })
  t.equal(bareForged.session.get('a'), undefined, 'a bare object with a value that does not verify gets a new session, not an error')
})

t.test('request.session.cookie: reading it, and writing maxAge / expires / attributes for this session', async t => {
  const app = await buildApp(t, { idleTimeout: '15m', touchAfter: '1m', absoluteTimeout: '7d' }, app => {
    app.get('/cookie', async request => request.session.cookie)
    app.post('/remember', async request => {
      request.session.set('a', 'x')
      request.session.cookie.maxAge = 86_400_000 // @fastify/session: ms
      return {}
    })
    app.post('/attributes', async request => {
      request.session.set('a', 'y')
      request.session.options({ sameSite: 'strict', path: '/', userInfo: 'ignored (csrf passes it along)' })
      return {}
    })
    app.post('/expires', async request => {
      request.session.set('a', 'z')
      request.session.cookie.expires = new Date(Date.now() + 3_600_000)
      return {}
    })
  })
  const fresh = (await app.inject({ url: '/cookie' })).json()
  t.match(fresh, { originalMaxAge: 900_000, path: '/', httpOnly: true, sameSite: 'lax' })
  t.ok(fresh.maxAge > 899_000 && fresh.maxAge <= 900_000, 'maxAge: ms until expiry')
  const remembered = await app.inject({ method: 'POST', url: '/remember' })
  t.match(rawSetCookie(remembered)[0], /Max-Age=864\d\d;/, 'a day (plus the touch slack)')
  const cookie = sessionCookie(remembered)!
  t.equal((await app.inject({ url: '/cookie', headers: { cookie } })).json().originalMaxAge, 86_400_000, "it is this session's own idle timeout from now on")
  t.match(rawSetCookie(await app.inject({ method: 'POST', url: '/attributes', headers: { cookie } }))[0], /SameSite=Strict/)
  t.match(rawSetCookie(await app.inject({ method: 'POST', url: '/expires', headers: { cookie } }))[0], /Max-Age=3\d\d\d;/, 'an hour')
})

t.test('rolling: true is accepted (sessions always slide); rolling: false names what to use', async t => {
  await buildApp(t, { rolling: true } as never)
  const app = (await import('fastify')).default()
  app.register((await import('../lib/index.js')).default, { secret: 'x'.repeat(32), schema: z.object({}), rolling: false } as never)
  await t.rejects(async () => { await app.ready() }, { code: 'FST_SESSION_INVALID_OPTIONS', message: /"rolling": .*absoluteTimeout/ })
})

t.test('a decryptSession() callback that throws is logged, never an unhandled rejection', async t => {
  const app = await buildApp(t)
  const unhandled: unknown[] = []
  const onUnhandled = (err: unknown): void => { unhandled.push(err) }
  process.on('unhandledRejection', onUnhandled)
  t.teardown(() => { process.off('unhandledRejection', onUnhandled) })
  let called = 0
  await new Promise<void>(resolve => {
    app.decryptSession('no.such', { headers: {} } as never, () => { called++; setImmediate(resolve); throw new Error('unauthorized socket') })
  })
  await new Promise(resolve => setImmediate(resolve))
  t.equal(called, 1)
  t.same(unhandled, [])
})

// The request API of @fastify/session, which plugins such as @fastify/csrf-protection,
// @fastify/flash and @fastify/passport call.
t.test('callback and promise forms of save, reload, regenerate and destroy', async t => {
  const app = await buildApp(t, {}, app => {
    app.post('/callbacks', (request, reply) => {
      request.session.set('a', 'one')
      request.session.save(err => {
        if (err) return reply.send(err)
        request.session.set('a', 'unsaved')
        request.session.reload(err => {
          if (err) return reply.send(err)
          const afterReload = request.session.get('a')
          const before = request.session.sessionId
          request.session.regenerate(err => {
            if (err) return reply.send(err)
            reply.send({ afterReload, changed: before !== request.session.sessionId, sessionId: request.session.sessionId })
          })
        })
      })
    })
    app.post('/destroy-cb', (request, reply) => {
      request.session.destroy(err => { reply.send({ err: err ?? null, isNew: request.session.isNew }) })
    })
    app.post('/null-on-success', (request, reply) => {
      request.session.save(err => { reply.send({ isNull: err === null }) })
    })
    app.post('/touch', async (request) => { request.session.touch(); return {} })
  })
  t.same((await app.inject({ method: 'POST', url: '/null-on-success' })).json(), { isNull: true }, 'success calls back with null, as Node callbacks and @fastify/session do')
  const res = await app.inject({ method: 'POST', url: '/callbacks' })
  const body = res.json()
  t.equal(body.afterReload, 'one', 'reload dropped the unsaved change')
  t.equal(body.changed, true)
  const cookie = sessionCookie(res)!
  t.equal(cookie.split('=')[1].split('.')[0], body.sessionId, 'the cookie carries the regenerated id')
  t.equal((await app.inject({ url: '/read', headers: { cookie } })).statusCode, 200)
  const touched = await app.inject({ method: 'POST', url: '/touch', headers: { cookie } })
  t.ok(sessionCookie(touched), 'touch() refreshes the cookie at once')
  const destroyed = await app.inject({ method: 'POST', url: '/destroy-cb', headers: { cookie } })
  t.same(destroyed.json(), { err: null, isNew: true })
})

t.test('save() persists mid-request, and onSend then writes nothing more', async t => {
  const { CountingStore } = await import('./helpers/counting-store.js')
  const store = new CountingStore()
  const app = await buildApp(t, { store }, app => {
    app.post('/save', async (request) => {
      request.session.set('a', 'saved')
      await request.session.save()
      return { writes: store.writes() }
    })
  })
  const res = await app.inject({ method: 'POST', url: '/save' })
  t.same(res.json(), { writes: 1 })
  t.equal(store.writes(), 1)
  t.ok(sessionCookie(res))
})

t.test('has, unset and clear', async t => {
  const app = await buildApp(t, {}, app => {
    app.post('/ops', async (request) => {
      request.session.set('a', 'x')
      const had = request.session.has('a')
      request.session.unset('a')
      const after = request.session.has('a')
      request.session.set('b', 'y')
      request.session.clear()
      return { had, after, data: request.session.data }
    })
  })
  t.same((await app.inject({ method: 'POST', url: '/ops' })).json(), { had: true, after: false, data: { visits: 0, cart: [] } })
})

t.test('@fastify/session-style properties for schema keys; Session members win a clash', async t => {
  const schema = z.object({ cart: z.array(z.string()).default([]), note: z.string().optional(), id: z.string().optional() })
  const { app } = await appWith(t, schema, async app => {
    app.post('/props', async request => {
      const session = request.session as unknown as Record<string, unknown>
      const before = { cart: session.cart, note: session.note }
      session.cart = ['apple']
      session.note = 'hi'
      t.throws(() => { session.note = 42 }, { code: 'FST_SESSION_INVALID_DATA' }, 'a property write is validated like set()')
      return { before, idIsTheSessionId: session.id === request.session.sessionId }
    })
    app.post('/unset', async request => { (request.session as unknown as Record<string, unknown>).note = undefined; return request.session.has('note') })
    app.get('/get', async request => ({ cart: request.session.get('cart'), note: request.session.get('note') ?? null }))
  })
  const res = await app.inject({ method: 'POST', url: '/props' })
  t.same(res.json(), { before: { cart: [] }, idIsTheSessionId: true })
  const cookie = sessionCookie(res)!
  t.same((await app.inject({ url: '/get', headers: { cookie } })).json(), { cart: ['apple'], note: 'hi' })
  t.equal((await app.inject({ method: 'POST', url: '/unset', headers: { cookie } })).body, 'false', 'assigning undefined unsets')
  t.same((await app.inject({ url: '/get', headers: { cookie } })).json(), { cart: ['apple'], note: null })
})
