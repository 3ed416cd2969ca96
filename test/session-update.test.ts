// session.update(key, fn) on one process: what a handler sees, what is saved, and how it fails. The
// races (every store) are in testing/update-races.ts.
import t, { type Test } from 'tap'
import Fastify, { type FastifyInstance } from 'fastify'
import { z } from 'zod'
import fastifyZodSession, { MemoryStore } from '../lib/index.js'
import type { SessionPatch, PatchResult } from '../types/index.js'
import { SECRET, idOf, sessionCookie } from './helpers/app.js'

const Schema = z.object({
  n: z.number().int().default(0),
  capped: z.number().int().max(10).default(0),
  tags: z.array(z.string()).default([]),
  other: z.string().optional()
})

/** a MemoryStore whose next `conflicts` patches answer 'conflict' without writing (another request won each) */
class ConflictingStore extends MemoryStore {
  conflicts = 0
  patches = 0
  override async patch (id: string, change: SessionPatch): Promise<PatchResult> {
    this.patches++
    if (this.conflicts > 0) {
      this.conflicts--
      // another request's write lands meanwhile: the conflict is real
      const stored = await this.get(id)
      if (stored !== undefined) await super.patch(id, { set: { n: (stored.data.n as number) + 1 }, unset: [] })
      return 'conflict'
    }
    return await super.patch(id, change)
  }
}

async function build (t: Test, store: MemoryStore = new MemoryStore()): Promise<FastifyInstance> {
  const app = Fastify()
  await app.register(fastifyZodSession, { secret: SECRET, schema: Schema, store })
  app.post('/start', async request => { request.session.set('other', 'x'); return { ok: true } })
  app.post('/inc', async request => ({ n: request.session.update('n', n => n + 1), seen: request.session.get('n') }))
  app.post('/inc-twice', async request => {
    request.session.update('n', n => n + 1)
    return { n: request.session.update('n', n => n * 2) }
  })
  app.post('/inc-then-set', async request => {
    request.session.update('n', n => n + 1)
    request.session.set('n', 7)
    return { ok: true }
  })
  app.post('/tag/:tag', async request => ({ tags: request.session.update('tags', tags => [...tags, (request.params as { tag: string }).tag]) }))
  app.post('/async', async request => ({ n: request.session.update('n', (async (n: number) => n + 1) as never) }))
  app.post('/hostile/:key', async request => {
    const key = (request.params as { key: string }).key
    request.session.update(key as never, ((current: unknown) => { (current as Record<string, unknown> | undefined ?? {}).polluted = true; return current }) as never)
    return { ok: true }
  })
  app.post('/too-big', async request => ({ capped: request.session.update('capped', n => n + 100) }))
  await app.ready()
  t.teardown(() => app.close())
  return app
}

t.test('update() returns the new value, get() sees it, and it is saved', async t => {
  const store = new MemoryStore()
  const app = await build(t, store)
  const cookie = sessionCookie(await app.inject({ method: 'POST', url: '/start' })) as string
  const res = await app.inject({ method: 'POST', url: '/inc', headers: { cookie } })
  t.same(res.json(), { n: 1, seen: 1 })
  t.equal((await store.get(idOf(cookie)))?.data.n, 1)
  t.same((await app.inject({ method: 'POST', url: '/inc-twice', headers: { cookie } })).json(), { n: 4 }, '(1 + 1) × 2')
  t.equal((await store.get(idOf(cookie)))?.data.n, 4)
  t.same((await app.inject({ method: 'POST', url: '/tag/a', headers: { cookie } })).json(), { tags: ['a'] })
  t.same((await store.get(idOf(cookie)))?.data.tags, ['a'])
})

t.test('a new session: update() starts from the schema default', async t => {
  const store = new MemoryStore()
  const app = await build(t, store)
  const res = await app.inject({ method: 'POST', url: '/inc' })
  t.same(res.json(), { n: 1, seen: 1 })
  t.equal((await store.get(idOf(sessionCookie(res) as string)))?.data.n, 1)
})

t.test('another write before the save: the functions run again on the stored value, in order', async t => {
  const store = new ConflictingStore()
  const app = await build(t, store)
  const cookie = sessionCookie(await app.inject({ method: 'POST', url: '/start' })) as string
  store.conflicts = 2 // two other requests add 1 each before this save lands
  const res = await app.inject({ method: 'POST', url: '/inc-twice', headers: { cookie } })
  t.equal(res.statusCode, 200)
  t.equal((await store.get(idOf(cookie)))?.data.n, 6, 'stored 0 → 1 (other) → 2 (other) → (2 + 1) × 2')
  t.equal(store.patches, 3)
})

t.test('set() after update() of the same key saves the set value, not the function on the stored one', async t => {
  const store = new ConflictingStore()
  const app = await build(t, store)
  const cookie = sessionCookie(await app.inject({ method: 'POST', url: '/start' })) as string
  await app.inject({ method: 'POST', url: '/inc-then-set', headers: { cookie } })
  t.equal((await store.get(idOf(cookie)))?.data.n, 7)
  t.equal(store.patches, 1, 'no version condition: a set is not retried')
})

t.test('retries run out: FST_SESSION_CONFLICT 503, and only the other writes are stored', async t => {
  const store = new ConflictingStore()
  const app = await build(t, store)
  const cookie = sessionCookie(await app.inject({ method: 'POST', url: '/start' })) as string
  store.conflicts = 1000
  const res = await app.inject({ method: 'POST', url: '/inc', headers: { cookie } })
  t.equal(res.statusCode, 503)
  t.equal(res.json().code, 'FST_SESSION_CONFLICT')
  t.equal((await store.get(idOf(cookie)))?.data.n, store.patches, 'each attempt lost to one other write; this one wrote nothing')
})

t.test('a reserved key from a request (__proto__, constructor): 400 before fn sees an inherited value', async t => {
  const app = await build(t)
  for (const key of ['__proto__', 'constructor', 'toString']) {
    const res = await app.inject({ method: 'POST', url: `/hostile/${key}` })
    t.equal(res.statusCode, key === 'toString' ? 500 : 400, key)
    t.equal(res.json().code, 'FST_SESSION_INVALID_DATA')
  }
  t.equal(({} as Record<string, unknown>).polluted, undefined, 'Object.prototype untouched')
  t.equal((Object as unknown as Record<string, unknown>).polluted, undefined)
  t.equal((Object.prototype.toString as unknown as Record<string, unknown>).polluted, undefined)
})

t.test('an async function, or a result the schema refuses, fails the request and saves nothing', async t => {
  const store = new MemoryStore()
  const app = await build(t, store)
  const cookie = sessionCookie(await app.inject({ method: 'POST', url: '/start' })) as string
  const async = await app.inject({ method: 'POST', url: '/async', headers: { cookie } })
  t.equal(async.statusCode, 501)
  t.equal(async.json().code, 'FST_SESSION_UNSUPPORTED')
  t.match(async.json().message, /must be synchronous/)
  const big = await app.inject({ method: 'POST', url: '/too-big', headers: { cookie } })
  t.equal(big.statusCode, 500)
  t.equal(big.json().code, 'FST_SESSION_INVALID_DATA')
  t.same((await store.get(idOf(cookie)))?.data, { n: 0, capped: 0, tags: [], other: 'x' })
})
