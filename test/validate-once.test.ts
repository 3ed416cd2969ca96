// A value set() validated is not validated again at save, unless something else can reach it: it was
// handed out by get() or data, or the key's schema passes the caller's own objects through (z.any()).
import t from 'tap'
import fc from 'fast-check'
import { z } from 'zod'
import { buildApp, sessionCookie } from './helpers/app.js'
import { CountingStore } from './helpers/counting-store.js'
import { outputsFreshJson } from '../lib/schema.js'
import { jsonProblem } from '../lib/json-value.js'

t.test('a value set() and then made invalid through get() is refused at save, for a new and a stored session', async t => {
  const store = new CountingStore()
  const app = await buildApp(t, { store }, app => {
    app.post('/cart', async (request) => {
      request.session.set('cart', [{ sku: 'a', qty: 1 }])
      request.session.get('cart')[0].qty = -5
      return { ok: true }
    })
  })
  const created = await app.inject({ method: 'POST', url: '/cart' })
  t.equal(created.statusCode, 500)
  t.equal(created.json().code, 'FST_SESSION_INVALID_DATA')
  t.equal(store.writes(), 0)
  const cookie = sessionCookie(await app.inject({ method: 'POST', url: '/login/ann' }))!
  store.reset()
  const updated = await app.inject({ method: 'POST', url: '/cart', headers: { cookie } })
  t.equal(updated.statusCode, 500)
  t.match(updated.json().message, /cart\.0\.qty/)
  t.equal(store.writes(), 0)
})

t.test('z.any(): the caller keeps its object, so a change it makes after set() is checked at save', async t => {
  const store = new CountingStore()
  const schema = z.object({ blob: z.any().optional(), tags: z.record(z.string(), z.unknown()).optional() })
  const app = await buildApp(t, { store, schema: schema as never }, app => {
    app.post('/blob', async (request) => {
      const blob: Record<string, unknown> = { a: 1 }
      request.session.set('blob' as never, blob as never)
      blob.a = 10n
      return { ok: true }
    })
    app.post('/tags', async (request) => {
      const inner: Record<string, unknown> = { ok: true }
      request.session.set('tags' as never, { inner } as never)
      inner.when = new Map()
      return { ok: true }
    })
  })
  for (const url of ['/blob', '/tags']) {
    const res = await app.inject({ method: 'POST', url })
    t.equal(res.statusCode, 500, url)
    t.equal(res.json().code, 'FST_SESSION_INVALID_DATA', url)
    t.match(res.json().message, /cannot be stored as JSON/, url)
  }
  t.equal(store.writes(), 0)
})

t.test('a default worked out per session (a token) differs between new sessions', async t => {
  let n = 0
  const schema = z.object({ token: z.string().default(() => `token-${++n}`) })
  const app = await buildApp(t, { schema: schema as never }, app => {
    app.get('/token', async (request) => ({ token: request.session.get('token' as never) }))
  })
  const tokens = new Set<string>()
  for (let i = 0; i < 3; i++) tokens.add((await app.inject('/token')).json().token)
  t.equal(tokens.size, 3)
})

t.test('which key schemas output fresh plain JSON', async t => {
  const fresh = [
    z.string(), z.number().int(), z.boolean(), z.null(), z.literal('a'), z.enum(['a', 'b']),
    z.string().optional(), z.number().nullable(), z.array(z.string()).default([]),
    z.object({ a: z.string(), b: z.array(z.object({ c: z.number() })) }), z.object({ a: z.string() }).strict(),
    z.tuple([z.string(), z.number()]), z.union([z.string(), z.object({ a: z.number() })]), z.record(z.string(), z.number())
  ]
  const notFresh = [
    z.any(), z.unknown(), z.date(), z.bigint(), z.map(z.string(), z.string()), z.literal(1n),
    z.object({ a: z.string() }).loose(), z.object({}).catchall(z.number()), z.array(z.any()),
    z.string().transform(s => s.length), z.string().pipe(z.string()), z.lazy(() => z.string()), z.string().readonly(),
    z.string().catch('x'), z.intersection(z.object({ a: z.string() }), z.object({ b: z.string() })), z.custom<string>(() => true)
  ]
  for (const schema of fresh) t.equal(outputsFreshJson(schema as never), true, schema._zod.def.type)
  for (const schema of notFresh) t.equal(outputsFreshJson(schema as never), false, schema._zod.def.type)
})

t.test('property: what a fresh-JSON schema outputs is plain JSON sharing no object with its input', async t => {
  const schema = z.object({
    name: z.string(),
    tags: z.array(z.string()),
    nested: z.object({ n: z.number(), flags: z.record(z.string(), z.boolean()) }).optional(),
    pair: z.tuple([z.number(), z.union([z.string(), z.null()])]).optional()
  })
  t.equal(outputsFreshJson(schema as never), true)
  const objects = (value: unknown, into = new Set<object>()): Set<object> => {
    if (value !== null && typeof value === 'object') {
      into.add(value)
      for (const v of Object.values(value)) objects(v, into)
    }
    return into
  }
  fc.assert(fc.property(fc.anything({ withBigInt: true, withDate: true, withMap: true, withSet: true, withNullPrototype: true }), fc.record({
    name: fc.string(),
    tags: fc.array(fc.string()),
    nested: fc.option(fc.record({ n: fc.double(), flags: fc.dictionary(fc.string(), fc.boolean()) }), { nil: undefined }),
    pair: fc.option(fc.tuple(fc.double(), fc.option(fc.string(), { nil: null })), { nil: undefined })
  }, { requiredKeys: ['name', 'tags'] }), (noise, input) => {
    for (const candidate of [noise, input]) {
      const parsed = schema.safeParse(candidate)
      if (!parsed.success) continue
      if (jsonProblem(parsed.data, 'value') !== undefined) return false
      const mine = objects(candidate)
      for (const o of objects(parsed.data)) if (mine.has(o)) return false
    }
    return true
  }), { numRuns: 2000 })
  t.pass('held for 2000 inputs')
})
