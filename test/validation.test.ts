import t from 'tap'
import { z } from 'zod'
import type { Test } from 'tap'
import { buildApp, sessionCookie } from './helpers/app.js'
import { CountingStore } from './helpers/counting-store.js'
import { MemoryStore } from '../lib/index.js'

const idOf = (cookie: string): string => cookie.split('=')[1].split('.')[0]

t.test('set() with a value of the wrong type throws FST_SESSION_INVALID_DATA in the handler', async t => {
  const app = await buildApp(t, {}, app => {
    app.post('/bad-set', async (request) => {
      try {
        request.session.set('visits', 'many' as never)
      } catch (err) {
        return { code: (err as { code: string }).code, message: (err as Error).message }
      }
      return { code: null }
    })
  })
  const res = await app.inject({ method: 'POST', url: '/bad-set' })
  t.equal(res.json().code, 'FST_SESSION_INVALID_DATA')
  t.match(res.json().message, /visits/)
})

t.test('set() of a key the schema does not know is refused (strip and strict objects)', async t => {
  const app = await buildApp(t, { schema: z.object({ a: z.string().optional() }) }, app => {
    app.post('/unknown', async (request) => { request.session.set('nope' as never, 1 as never); return {} })
  })
  const res = await app.inject({ method: 'POST', url: '/unknown' })
  t.equal(res.statusCode, 500)
  t.equal(res.json().code, 'FST_SESSION_INVALID_DATA')
  t.match(res.json().message, /"nope" is not a key/)
})

t.test('invalid data reached by mutation fails the request and nothing is persisted', async t => {
  const store = new CountingStore()
  const app = await buildApp(t, { store }, app => {
    app.post('/mutate', async (request) => {
      request.session.data.cart.push({ sku: 'x', qty: -5 })
      return { ok: true }
    })
  })
  const cookie = sessionCookie(await app.inject({ method: 'POST', url: '/login/alice' }))!
  store.reset()
  const res = await app.inject({ method: 'POST', url: '/mutate', headers: { cookie } })
  t.equal(res.statusCode, 500)
  t.equal(res.json().code, 'FST_SESSION_INVALID_DATA')
  t.match(res.json().message, /cart\.0\.qty/)
  t.equal(store.writes(), 0)
  t.same((await store.inner.get((idOf(cookie))))?.data.cart, [])
})

t.test('schema transforms and defaults are what gets stored', async t => {
  const store = new MemoryStore()
  const schema = z.object({ name: z.string().trim().optional(), theme: z.string().default('light') })
  const app = await buildApp(t, { store, schema }, app => {
    app.post('/name', async (request) => { (request.session.data as Record<string, unknown>).name = '  Ann  '; return {} })
  })
  const cookie = sessionCookie(await app.inject({ method: 'POST', url: '/name' }))!
  t.same((await store.get((idOf(cookie))))?.data, { name: 'Ann', theme: 'light' })
})

t.test('a z.date() field comes back as a Date', async t => {
  const app = await buildApp(t, {}, app => {
    app.post('/seen', async (request) => { request.session.set('seenAt', new Date('2026-05-04T03:02:01.000Z')); return {} })
    app.get('/seen', async (request) => {
      const seen = request.session.get('seenAt')
      return { isDate: seen instanceof Date, iso: (seen as Date).toISOString() }
    })
  })
  const cookie = sessionCookie(await app.inject({ method: 'POST', url: '/seen' }))!
  t.same((await app.inject({ url: '/seen', headers: { cookie } })).json(), { isDate: true, iso: '2026-05-04T03:02:01.000Z' })
})

async function withStoredData (t: Test, data: Record<string, unknown>, onInvalidData: unknown): Promise<{ res: { statusCode: number, json: () => any }, store: MemoryStore, key: string }> {
  const store = new MemoryStore()
  const app = await buildApp(t, { store, onInvalidData: onInvalidData as never })
  const cookie = sessionCookie(await app.inject({ method: 'POST', url: '/login/alice' }))!
  const key = (idOf(cookie))
  const record = (await store.get(key))!
  await store.set(key, { ...record, data })
  return { res: await app.inject({ url: '/read', headers: { cookie } }), store, key }
}

t.test('onInvalidData: reset (default) gives a fresh session', async t => {
  const { res } = await withStoredData(t, { visits: 'lots', userId: 'alice' }, undefined)
  t.equal(res.statusCode, 200)
  t.same(res.json(), { visits: 0, userId: null, isNew: true })
})

t.test('onInvalidData: error fails with FST_SESSION_INVALID_STORED_DATA', async t => {
  const { res } = await withStoredData(t, { visits: 'lots' }, 'error')
  t.equal(res.statusCode, 500)
  t.equal(res.json().code, 'FST_SESSION_INVALID_STORED_DATA')
})

t.test('onInvalidData: a migrate function upgrades old data, which is then saved', async t => {
  const { res, store, key } = await withStoredData(t, { visits: '7', userId: 'alice' }, (old: { visits: string, userId: string }) => ({ ...old, visits: Number(old.visits) }))
  t.same(res.json(), { visits: 7, userId: 'alice', isNew: false })
  t.equal((await store.get(key))?.data.visits, 7, 'the migrated data replaced the stored one')
})

t.test('a migrate function that still fails the schema resets', async t => {
  const { res } = await withStoredData(t, { visits: 'x' }, () => ({ visits: 'still wrong' }))
  t.same(res.json(), { visits: 0, userId: null, isNew: true })
})

t.test('oversized data is refused at save with FST_SESSION_TOO_LARGE and not written', async t => {
  const store = new CountingStore()
  const app = await buildApp(t, { store, maxDataBytes: 1000 }, app => {
    app.post('/big', async (request) => { request.session.set('a', 'x'.repeat(2000)); return {} })
  })
  const res = await app.inject({ method: 'POST', url: '/big' })
  t.equal(res.statusCode, 500)
  t.equal(res.json().code, 'FST_SESSION_TOO_LARGE')
  t.equal(store.writes(), 0)
})

t.test('object-level refinements are checked on every save, not only per key', async t => {
  const schema = z.object({ min: z.number().default(0), max: z.number().default(10) }).refine(d => d.min <= d.max, 'min must not exceed max')
  const store = new MemoryStore()
  const app = await buildApp(t, { store, schema: schema as never }, app => {
    app.post('/min/:n', async (request) => { (request.session.data as Record<string, number>).min = Number((request.params as { n: string }).n); return {} })
  })
  const cookie = sessionCookie(await app.inject({ method: 'POST', url: '/min/5' }))!
  const res = await app.inject({ method: 'POST', url: '/min/50', headers: { cookie } })
  t.equal(res.statusCode, 500)
  t.match(res.json().message, /min must not exceed max/)
  t.equal((await store.get((idOf(cookie))))?.data.min, 5)
})

t.test('a patch re-validates the changed keys: a bad value set through data is refused', async t => {
  const store = new MemoryStore()
  const app = await buildApp(t, { store }, app => {
    app.post('/bad-visits', async (request) => { (request.session.data as Record<string, unknown>).visits = 'lots'; return {} })
  })
  const cookie = sessionCookie(await app.inject({ method: 'POST', url: '/login/alice' }))!
  const res = await app.inject({ method: 'POST', url: '/bad-visits', headers: { cookie } })
  t.equal(res.json().code, 'FST_SESSION_INVALID_DATA')
  t.match(res.json().message, /visits/)
  t.equal((await store.get((idOf(cookie))))?.data.visits, 0)
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
