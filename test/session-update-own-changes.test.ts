// session.update() where another write lands before the save (a store whose next conditional patch
// loses to one), combined with what else a handler does to the same key: what is stored.
import t, { type Test } from 'tap'
import Fastify, { type FastifyInstance } from 'fastify'
import { z } from 'zod'
import fastifyZodSession, { MemoryStore } from '../lib/index.js'
import type { SessionPatch, PatchResult } from '../types/index.js'
import { SECRET, idOf, sessionCookie } from './helpers/app.js'

const Schema = z.object({
  n: z.number().int().default(0),
  tags: z.array(z.string()).default([]),
  opt: z.number().optional(),
  other: z.string().optional()
})

/** next `conflicts` patches: another request sets n += 100 first, then this one answers 'conflict' */
class Racing extends MemoryStore {
  conflicts = 0
  patches = 0
  onConflict: (id: string) => Promise<void> = async id => {
    const s = await this.get(id)
    await super.patch(id, { set: { n: (s!.data.n as number) + 100, opt: 50, tags: [...(s!.data.tags as string[]), 'other'] }, unset: [] })
  }

  override async patch (id: string, change: SessionPatch): Promise<PatchResult> {
    this.patches++
    if (this.conflicts > 0 && change.ifVersion !== undefined) {
      this.conflicts--
      await this.onConflict(id)
      return 'conflict'
    }
    return await super.patch(id, change)
  }
}

async function build (t: Test, store: MemoryStore, routes: (app: FastifyInstance) => void, extra: object = {}): Promise<FastifyInstance> {
  const app = Fastify()
  await app.register(fastifyZodSession, { secret: SECRET, schema: Schema, store, ...extra } as never)
  app.post('/start', async request => { request.session.set('other', 'x'); return { ok: true } })
  routes(app)
  await app.ready()
  t.teardown(() => app.close())
  return app
}

async function run (t: Test, route: (req: any) => unknown, conflicts = 1): Promise<{ res: Awaited<ReturnType<FastifyInstance['inject']>>, stored: Record<string, unknown> | undefined, store: Racing }> {
  const store = new Racing()
  const app = await build(t, store, app => app.post('/x', async req => ({ r: (await route(req)) ?? null })))
  const cookie = sessionCookie(await app.inject({ method: 'POST', url: '/start' })) as string
  store.conflicts = conflicts
  const res = await app.inject({ method: 'POST', url: '/x', headers: { cookie } })
  return { res, stored: (await store.get(idOf(cookie)))?.data, store }
}

t.test('a key set, assigned or unset before update(): the update is saved as a set (its value is no function of the stored one)', async t => {
  for (const [name, route, key, want] of [
    ['set()', (req: any) => { req.session.set('n', 7); req.session.update('n', (n: number) => n + 1) }, 'n', 8],
    ['data.n =', (req: any) => { req.session.data.n = 7; req.session.update('n', (n: number) => n + 1) }, 'n', 8],
    ['unset()', (req: any) => { req.session.unset('other'); req.session.update('other', (o?: string) => `${o ?? ''}!`) }, 'other', '!']
  ] as const) {
    const { res, stored } = await run(t, route)
    t.equal(res.statusCode, 200)
    t.equal(stored?.[key], want, `${name} then update(): the request's own value, not fn on the other write's`)
  }
})

t.test('reload() drops the update functions pending before it: each runs once', async t => {
  const { res, stored } = await run(t, req => {
    req.session.update('n', (n: number) => n + 1)
    return req.session.reload().then(() => req.session.update('n', (n: number) => n + 1))
  })
  t.equal(res.json().r, 1)
  t.equal(stored?.n, 101, 'stored 0 → 100 (the other write) → +1, once')
})

t.test('an updated value changed in place afterwards, or a handed-out value changed before: saved as a set, the change kept', async t => {
  const after = await run(t, req => { const tags = req.session.update('tags', (tags: string[]) => [...tags, 'a']); tags.push('b') })
  t.same(after.stored?.tags, ['a', 'b'], 'the push after update() is saved (a set: the other write of this key is replaced)')
  const viaGet = await run(t, req => { req.session.update('tags', (tags: string[]) => [...tags, 'a']); req.session.get('tags').push('b') })
  t.same(viaGet.stored?.tags, ['a', 'b'])
  const before = await run(t, req => { req.session.get('tags').push('x'); req.session.update('tags', (tags: string[]) => [...tags, 'a']) })
  t.same(before.stored?.tags, ['x', 'a'])
})

t.test('unset() of a key the session does not hold changes nothing: an update() after it replays', async t => {
  const { stored } = await run(t, req => { req.session.unset('opt'); req.session.update('opt', (o?: number) => (o ?? 0) + 1) })
  t.equal(stored?.opt, 51, 'the other write stored 50 first')
})

t.test('fn changing the value in place (handed out before) still replays on the stored value', async t => {
  const { stored } = await run(t, req => {
    req.session.get('tags')
    req.session.update('tags', (tags: string[]) => { tags.push('mine'); return tags })
  })
  t.same(stored?.tags, ['other', 'mine'])
})

t.test('update() after save(), then another write first: replayed on the value stored then', async t => {
  const { stored } = await run(t, async req => {
    req.session.update('n', (n: number) => n + 1)
    await req.session.save()
    req.session.update('n', (n: number) => n * 2)
  })
  t.equal(stored?.n, 202, '0 + 1 saved, then (1 + 100 other) × 2')
})
