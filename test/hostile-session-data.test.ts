// Data a client can shape (deep JSON, prototype keys) is refused at set() with
// FST_SESSION_INVALID_DATA (400) on every path, never a 5xx, and session data stays a record of its own
// keys: nothing the data object inherits, and nothing a key can make it inherit.
import t, { type Test } from 'tap'
import { z } from 'zod'
import Fastify, { type LightMyRequestResponse } from 'fastify'
import fastifyZodSession, { MemoryStore } from '../lib/index.js'
import type { SessionRecord } from '../types/index.js'
import { buildApp, idOf, sessionCookie, SECRET } from './helpers/app.js'
import { GatedOldStore, legacyApp, oldLogin, clearsOld } from '../testing/legacy-races.js'
import { keyRefusal, stringRefusal, valueRefusal, MAX_NESTING } from '../lib/json-value.js'

/** `levels` objects nested in one another around 1 */
function nested (levels: number): unknown {
  let value: unknown = 1
  for (let i = 0; i < levels; i++) value = { a: value }
  return value
}

/** how deep `value` nests (objects and arrays) */
function depth (value: unknown): number {
  let levels = 0
  while (value !== null && typeof value === 'object') {
    levels++
    value = (value as { a: unknown }).a
  }
  return levels
}

const refused = (t: Test, res: LightMyRequestResponse, what: string, message?: RegExp): void => {
  t.equal(res.statusCode, 400, `${what}: 400`)
  t.equal(res.json().code, 'FST_SESSION_INVALID_DATA', `${what}: FST_SESSION_INVALID_DATA`)
  if (message !== undefined) t.match(res.json().message, message, `${what}: says why`)
}

t.test('JSON nested 5,000 levels under a z.unknown() key is refused with a 400 on every write path, never a 5xx', async t => {
  const store = new MemoryStore()
  const app = await buildApp(t, { store, fastify: { bodyLimit: 10_000_000 } }, app => {
    app.post('/set', async request => { request.session.set('x', nested(5000) as never); return { ok: true } })
    app.post('/assign', async request => { (request.session.data as Record<string, unknown>).x = nested(5000); return { ok: true } })
    app.post('/body', async request => { request.session.set('x', request.body as never); return { ok: true } })
    app.post('/levels/:n', async request => { request.session.set('x', nested(Number((request.params as { n: string }).n)) as never); return { ok: true } })
    app.post('/obj', async request => { request.session.set('obj', { inner: 1 } as never); return { ok: true } })
    app.post('/mutate', async request => { (request.session.get('obj') as Record<string, unknown>).inner = nested(5000); return { ok: true } })
    app.get('/x', async request => ({ depth: depth(request.session.get('x')) }))
  })
  refused(t, await app.inject({ method: 'POST', url: '/set' }), 'set()', /x\.a\.a\.a\.…: nested deeper than 64 levels/)
  refused(t, await app.inject({ method: 'POST', url: '/assign' }), 'request.session.data.x = deep (found at save)', /nested deeper than 64 levels/)
  const body = '{"a":'.repeat(5000) + '1' + '}'.repeat(5000)
  const viaBody = await app.inject({ method: 'POST', url: '/body', headers: { 'content-type': 'application/json' }, payload: body })
  refused(t, viaBody, 'a request body parsed by Fastify')
  t.equal((await store.stats()).sessions, 0, 'nothing was stored')

  const at64 = await app.inject({ method: 'POST', url: '/levels/64' })
  t.equal(at64.statusCode, 200, '64 levels are accepted')
  t.same((await app.inject({ url: '/x', headers: { cookie: sessionCookie(at64)! } })).json(), { depth: 64 }, 'and read back whole')
  refused(t, await app.inject({ method: 'POST', url: '/levels/65' }), '65 levels')

  const cookie = sessionCookie(await app.inject({ method: 'POST', url: '/obj' }))!
  refused(t, await app.inject({ method: 'POST', url: '/mutate', headers: { cookie } }), 'a nested mutation of a handed-out value (found at save)')
  t.same((await store.get(idOf(cookie)))?.data.obj, { inner: 1 }, 'the stored value is unchanged')
})

t.test('a recursive (z.lazy) schema never walks a value deeper than the limit: 400, not a stack overflow', async t => {
  interface Tree { child?: Tree }
  const TreeSchema: z.ZodType<Tree> = z.lazy(() => z.object({ child: TreeSchema.optional() }))
  const app = await buildApp(t, { schema: z.object({ tree: TreeSchema.optional() }) as never }, app => {
    app.post('/tree', async request => {
      let tree: Tree = {}
      for (let i = 0; i < 20_000; i++) tree = { child: tree }
      request.session.set('tree' as never, tree as never)
      return { ok: true }
    })
  })
  refused(t, await app.inject({ method: 'POST', url: '/tree' }), 'z.lazy', /nested deeper than 64 levels/)
})

t.test('set("__proto__" | "constructor" | "prototype") is refused: no inherited userId, no owner "admin", nothing persisted after regenerate()', async t => {
  const store = new MemoryStore()
  const app = await buildApp(t, { store, owner: (data: { userId?: string }) => data.userId }, app => {
    app.post('/put/:key', async request => {
      request.session.set((request.params as { key: string }).key, request.body as never)
      return { ok: true }
    })
    // a handler that swallows the error and logs in anyway: what reaches the store must still be clean
    app.post('/swallow', async request => {
      try { request.session.set('__proto__', { userId: 'admin' } as never) } catch {}
      const before = request.session.get('userId') ?? null
      await request.session.regenerate()
      request.session.set('visits', 1)
      return { before, after: request.session.get('userId') ?? null }
    })
    app.get('/whoami', async request => ({ userId: request.session.get('userId') ?? null, toString: typeof request.session.get('toString'), hasOwnProperty: typeof request.session.get('hasOwnProperty') }))
  })
  for (const key of ['__proto__', 'constructor', 'prototype']) {
    refused(t, await app.inject({ method: 'POST', url: `/put/${key}`, payload: { userId: 'admin' } }), `set("${key}")`, /cannot be a session key/)
  }
  const res = await app.inject({ method: 'POST', url: '/swallow' })
  t.equal(res.statusCode, 200)
  t.same(res.json(), { before: null, after: null }, 'get("userId") never answers an inherited value')
  const cookie = sessionCookie(res)!
  t.same((await store.get(idOf(cookie)))?.data, { visits: 1, cart: [] }, 'the regenerated session persisted no userId')
  t.same(await app.sessions.list('admin'), [], 'not listed under owner admin')
  t.same((await app.inject({ url: '/whoami', headers: { cookie } })).json(), { userId: null, toString: 'undefined', hasOwnProperty: 'undefined' }, 'get() answers own keys only, never Object.prototype\'s')
})

t.test('the data proxy: data.__proto__ = …, defineProperty and setPrototypeOf are refused; a nested "__proto__" key is refused at save', async t => {
  const store = new MemoryStore()
  const app = await buildApp(t, { store, owner: (data: { userId?: string }) => data.userId }, app => {
    app.post('/assign', async request => {
      (request.session.data as Record<string, unknown>).__proto__ = { userId: 'admin' } // eslint-disable-line no-proto
      return { userId: request.session.get('userId') ?? null }
    })
    app.post('/define', async request => {
      Object.defineProperty(request.session.data, '__proto__', { value: { userId: 'admin' }, enumerable: true, configurable: true, writable: true })
      return { userId: request.session.get('userId') ?? null }
    })
    app.post('/setPrototypeOf', async request => {
      Object.setPrototypeOf(request.session.data, { userId: 'admin' })
      return { userId: request.session.get('userId') ?? null }
    })
    app.post('/nested', async request => {
      (request.session.data as Record<string, unknown>).prefs = JSON.parse('{"theme": "dark", "__proto__": {"isAdmin": true}}')
      return { ok: true }
    })
    app.post('/nested-set', async request => {
      request.session.set('prefs', JSON.parse('{"list": [{"__proto__": {"isAdmin": true}}]}') as never)
      return { ok: true }
    })
  })
  for (const url of ['/assign', '/define', '/setPrototypeOf']) refused(t, await app.inject({ method: 'POST', url }), url, /__proto__/)
  refused(t, await app.inject({ method: 'POST', url: '/nested' }), 'a nested "__proto__" key assigned through data', /prefs\.__proto__: a "__proto__" key cannot be stored/)
  refused(t, await app.inject({ method: 'POST', url: '/nested-set' }), 'a nested "__proto__" key given to set()', /prefs\.list\.0\.__proto__/)
  t.equal((await store.stats()).sessions, 0, 'nothing was stored')
  t.same(await app.sessions.list('admin'), [])
})

t.test('properties of request.session: Object.assign of a body holding "__proto__" is refused and leaves the session whole', async t => {
  const store = new MemoryStore()
  const app = await buildApp(t, { store, owner: (data: { userId?: string }) => data.userId }, app => {
    // JSON.parse keeps "__proto__" as an own key (Fastify's own body parser refuses such a body)
    app.post('/assign', async request => {
      Object.assign(request.session, JSON.parse(request.body as string))
      return { ok: true }
    })
    app.post('/swallow', async request => {
      try { Object.assign(request.session, JSON.parse(request.body as string)) } catch {}
      const session = request.session as unknown as Record<string, unknown>
      return { userId: session.userId ?? null, get: typeof session.get, isSession: typeof request.session.regenerate }
    })
    app.post('/constructor', async request => {
      (request.session as unknown as Record<string, unknown>).constructor = 'x' as never
      return { ok: true }
    })
  })
  const payload = '{"__proto__": {"userId": "admin"}, "visits": 3}'
  const lenient = async (url: string): Promise<LightMyRequestResponse> => await app.inject({ method: 'POST', url, headers: { 'content-type': 'text/plain' }, payload })
  refused(t, await lenient('/assign'), 'Object.assign(request.session, body)', /"__proto__" cannot be a session key/)
  const swallowed = await lenient('/swallow')
  t.equal(swallowed.statusCode, 200)
  t.same(swallowed.json(), { userId: null, get: 'function', isSession: 'function' }, 'the session keeps its prototype; nothing is inherited')
  refused(t, await app.inject({ method: 'POST', url: '/constructor' }), 'request.session.constructor = …')
  t.same(await app.sessions.list('admin'), [])
})

/** A MemoryStore whose next get() answers the record changed by `change` (a row another writer left) */
class TamperedStore extends MemoryStore {
  change: ((record: SessionRecord) => void) | null = null
  override async get (id: string): Promise<SessionRecord | undefined> {
    const record = await super.get(id)
    if (record !== undefined && this.change !== null) this.change(record)
    return record
  }
}

t.test('a stored record holding a "__proto__" key: the key never reaches the data, the schema or a migrate function', async t => {
  const poisoned = (record: SessionRecord): void => {
    Object.defineProperty(record.data, '__proto__', { value: { userId: 'admin' }, enumerable: true, configurable: true, writable: true })
    delete record.data.userId
    record.data.visits = 'not a number' // fails the schema: the migrate function runs
  }
  const migrations: Record<string, (data: any) => unknown> = {
    'Object.assign into {}': data => Object.assign({}, data, { visits: 0 }),
    'a literal with __proto__': () => ({ __proto__: { userId: 'admin' }, visits: 0 }),
    'the data, its "__proto__" key kept': data => ({ ...data, visits: 0 })
  }
  for (const [name, migrate] of Object.entries(migrations)) {
    const store = new TamperedStore()
    const app = await buildApp(t, { store, owner: (data: { userId?: string }) => data.userId, onInvalidData: migrate as never }, app => {
      app.post('/touch', async request => { request.session.set('a', 'x'); return { userId: request.session.get('userId') ?? null, proto: request.session.has('__proto__' as never) } })
    })
    const cookie = sessionCookie(await app.inject({ method: 'POST', url: '/login/alice' }))!
    store.change = poisoned
    const res = await app.inject({ method: 'POST', url: '/touch', headers: { cookie } })
    store.change = null
    t.equal(res.statusCode, 200, name)
    t.same(res.json(), { userId: null, proto: false }, `${name}: no inherited userId`)
    t.same(await app.sessions.list('admin'), [], `${name}: not listed under admin`)
    const stored = await store.get(idOf(cookie))
    t.notOk(stored !== undefined && (Object.hasOwn(stored.data, '__proto__') || stored.data.userId === 'admin'), `${name}: nothing of it persisted`)
  }
})

t.test('the legacy import: an old session holding "__proto__" imports without it, through a migrate function too', async t => {
  const cases: Record<string, Record<string, unknown>> = {
    'the schema alone': {},
    'a migrate function that Object.assigns': { onInvalidData: (data: object) => Object.assign({}, data, { cart: [] }) }
  }
  for (const [name, options] of Object.entries(cases)) {
    const old = new GatedOldStore()
    const store = new MemoryStore()
    const app = await legacyApp(store, old, options)
    t.teardown(() => app.close())
    const { sid, cookie } = oldLogin(old, 'ada')
    const session = old.sessions.get(sid)!
    delete session.userId
    session.cart = 'not an array' // fails the schema: a migrate function runs
    Object.defineProperty(session, '__proto__', { value: { userId: 'admin' }, enumerable: true, configurable: true, writable: true })
    const res = await app.inject({ url: '/me', headers: { cookie } })
    t.equal(res.statusCode, 200, name)
    t.same(res.json(), { userId: null }, `${name}: no inherited userId`)
    t.same(await app.sessions.list('admin'), [], `${name}: not listed under admin`)
  }
})

t.test('the legacy import: an old session holding what no store carries is not imported (old cookie cleared), not a 4xx or 5xx on every request', async t => {
  const old = new GatedOldStore()
  const store = new MemoryStore()
  const app = await legacyApp(store, old)
  t.teardown(() => app.close())
  const { sid, cookie } = oldLogin(old, 'ada')
  old.sessions.get(sid)!.cart = ['a\u0000b']
  const res = await app.inject({ url: '/me', headers: { cookie } })
  t.equal(res.statusCode, 200)
  t.same(res.json(), { userId: null })
  t.ok(clearsOld(res), 'the old cookie is cleared')
  t.equal((await store.stats()).sessions, 0)
})

t.test('request.sessionStore.set() with a "__proto__" key is refused', async t => {
  const store = new MemoryStore()
  const app = Fastify()
  await app.register(fastifyZodSession, { secret: SECRET, store, schema: z.object({ userId: z.string().optional() }).catchall(z.unknown()) as never })
  app.post('/', async request => {
    await request.sessionStore.set(request.session.sessionId, JSON.parse('{"__proto__": {"userId": "admin"}}'))
    return { userId: request.session.get('userId' as never) ?? null }
  })
  await app.ready()
  t.teardown(() => app.close())
  refused(t, await app.inject({ method: 'POST', url: '/' }), 'sessionStore.set', /__proto__/)
})

t.test('schemas validated whole (object-level refinements) refuse the same values at set() and at save, with a 400', async t => {
  const schema = z.object({ userId: z.string().optional() }).catchall(z.unknown()).refine(() => true)
  const store = new MemoryStore()
  const app = await buildApp(t, { store, schema: schema as never }, app => {
    app.post('/set', async request => { (request.session as any).set('x', 'a\u0000b'); return { ok: true } })
    app.post('/assign', async request => { (request.session.data as Record<string, unknown>).x = nested(5000); return { ok: true } })
    app.post('/proto', async request => { (request.session as any).set('__proto__', { userId: 'admin' }); return { ok: true } })
  })
  refused(t, await app.inject({ method: 'POST', url: '/set' }), 'set() of a NUL', /x: holds a NUL character/)
  refused(t, await app.inject({ method: 'POST', url: '/assign' }), 'a deep value assigned, found at save', /nested deeper than 64 levels/)
  refused(t, await app.inject({ method: 'POST', url: '/proto' }), 'set("__proto__")', /cannot be a session key/)
  t.equal((await store.stats()).sessions, 0)
})

t.test('a schema whose keys or defaults no store can carry fails app.ready()', async t => {
  const schemas: Record<string, z.ZodType> = {
    "a key with '.'": z.object({ 'user.name': z.string().optional() }),
    "a key starting with '$'": z.object({ $meta: z.string().optional() }),
    'a key "constructor"': z.object({ constructor: z.string().optional() }),
    'a default holding a NUL': z.object({ sep: z.string().default('\u0000') })
  }
  for (const [name, schema] of Object.entries(schemas)) {
    const app = Fastify()
    t.teardown(() => app.close())
    await t.rejects(async () => {
      await app.register(fastifyZodSession, { secret: SECRET, schema: schema as never })
      await app.ready()
    }, { code: 'FST_SESSION_INVALID_OPTIONS', message: /"schema"/ }, name)
  }
})

t.test('the refusal rules, one by one', async t => {
  // names in ASCII: a raw U+2028 or lone surrogate in a TAP line is not the point here
  const show = (text: string): string => JSON.stringify(text).replace(/[^\x20-\x7e]/g, c => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
  for (const ok of ['', 'plain', '🍣', '\ud83c\udf63\ud83c\udf63', 'é\u2028\uffff\ufeff', 'a\u0001b']) t.equal(stringRefusal(ok), undefined, show(ok))
  for (const bad of ['\u0000', 'a\u0000', '\ud800', 'x\udc00', '\udc00\ud800', '\ud800\ud800\udc00', '🍣\udfff', '\ud83c']) t.ok(stringRefusal(bad), show(bad))
  for (const key of ['__proto__', 'constructor', 'prototype', '', 'a.b', '$x', 'a\u0000', '\ud800']) t.ok(keyRefusal(key), `key ${show(key)}`)
  for (const key of ['a$', 'constructor_', 'Prototype', '🍣', 'with space']) t.equal(keyRefusal(key), undefined, `key ${show(key)}`)
  let atLimit: unknown = 1
  for (let i = 0; i < MAX_NESTING; i++) atLimit = [atLimit]
  t.equal(valueRefusal(atLimit, 'v'), undefined, `${MAX_NESTING} levels`)
  t.match(valueRefusal([atLimit], 'v'), /^v\.0\.0\.0\.…: nested deeper than 64 levels/, `${MAX_NESTING + 1} levels`)
  const circular: Record<string, unknown> = { a: 1 }
  circular.self = { back: circular }
  t.match(valueRefusal(circular, 'v'), /^v\.self\.back: a circular reference/)
  t.match(valueRefusal({ $date: null }, 'v'), /only key is "\$date"/)
  t.equal(valueRefusal({ $date: 1, x: 1 }, 'v'), undefined)
  t.equal(valueRefusal({ constructor: 1, prototype: { 'a.b': 1, $c: 2 } }, 'v'), undefined, 'below the top, only __proto__ is refused')
  t.equal(valueRefusal(new Date(0), 'v'), undefined)
  t.equal(valueRefusal(new Map([['a', '\u0000']]), 'v'), undefined, 'a Map is jsonProblem\'s to refuse')
})
