// Step-up freshness: session.authenticatedAt (the last regenerate()), session.isFresh(maxAge), and the
// route option config.session.fresh answering FST_SESSION_NOT_FRESH before the handler runs.
import t from 'tap'
import type { Test } from 'tap'
import Fastify from 'fastify'
import { z } from 'zod'
import { buildApp, sessionCookie } from './helpers/app.js'
import { MemoryStore, fastifyZodSession } from '../lib/index.js'

const idOf = (cookie: string): string => cookie.split('=')[1].split('.')[0]
const MINUTE = 60_000

async function freshApp (t: Test, store = new MemoryStore()): Promise<{ app: Awaited<ReturnType<typeof buildApp>>, handled: () => number }> {
  let handled = 0
  const app = await buildApp(t, { store }, app => {
    app.get('/auth', async (request) => ({ at: request.session.authenticatedAt?.getTime() ?? null, fresh: request.session.isFresh('5m') }))
    app.post('/email', { config: { session: { fresh: '5m' } } }, async () => { handled++; return { changed: true } })
    app.post('/refresh-id', async (request) => { request.session.refresh({ regenerate: true }); return {} })
  })
  return { app, handled: () => handled }
}

t.test('regenerate() stamps the login moment; it is stored, and a new session has none', async t => {
  const { app } = await freshApp(t)
  const anonymous = await app.inject('/auth')
  t.same(anonymous.json(), { at: null, fresh: false })
  const before = Date.now()
  const cookie = sessionCookie(await app.inject({ method: 'POST', url: '/login/ann' }))!
  const after = await app.inject({ url: '/auth', headers: { cookie } })
  t.ok(after.json().at >= before && after.json().at <= Date.now())
  t.equal(after.json().fresh, true)
  const visit = await app.inject({ method: 'POST', url: '/visit', headers: { cookie } })
  t.equal(visit.statusCode, 200)
  t.equal((await app.inject({ url: '/auth', headers: { cookie } })).json().at, after.json().at, 'activity does not move it')
})

t.test('refresh({ regenerate: true }) keeps the login moment: a new id is not a new login', async t => {
  const { app } = await freshApp(t)
  const cookie = sessionCookie(await app.inject({ method: 'POST', url: '/login/ann' }))!
  const at = (await app.inject({ url: '/auth', headers: { cookie } })).json().at
  const next = sessionCookie(await app.inject({ method: 'POST', url: '/refresh-id', headers: { cookie } }))!
  t.not(idOf(next), idOf(cookie))
  t.equal((await app.inject({ url: '/auth', headers: { cookie: next } })).json().at, at)
})

t.test('config.session.fresh: 401 FST_SESSION_NOT_FRESH before the handler when the login is older or absent', async t => {
  const store = new MemoryStore()
  const { app, handled } = await freshApp(t, store)
  const anonymous = await app.inject({ method: 'POST', url: '/email' })
  t.equal(anonymous.statusCode, 401)
  t.equal(anonymous.json().code, 'FST_SESSION_NOT_FRESH')
  const cookie = sessionCookie(await app.inject({ method: 'POST', url: '/login/ann' }))!
  const fresh = await app.inject({ method: 'POST', url: '/email', headers: { cookie } })
  t.equal(fresh.statusCode, 200)
  t.equal(handled(), 1)
  // the login was 6 minutes ago
  t.equal(await store.patch(idOf(cookie), { set: {}, unset: [], meta: { authenticatedAt: Date.now() - 6 * MINUTE } }), 'ok')
  const stale = await app.inject({ method: 'POST', url: '/email', headers: { cookie } })
  t.equal(stale.statusCode, 401)
  t.equal(stale.json().code, 'FST_SESSION_NOT_FRESH')
  t.match(stale.json().message, /5m/)
  t.equal(handled(), 1, 'the handler did not run')
  t.equal((await app.inject({ url: '/auth', headers: { cookie } })).json().fresh, false)
  t.equal((await app.inject({ url: '/read', headers: { cookie } })).json().userId, 'ann', 'still logged in: only the fresh route refuses')
  const again = sessionCookie(await app.inject({ method: 'POST', url: '/login/ann', headers: { cookie } }))!
  t.equal((await app.inject({ method: 'POST', url: '/email', headers: { cookie: again } })).statusCode, 200, 'logging in again makes it fresh')
})

t.test('a route keeps its own onRequest hooks after the freshness check', async t => {
  const order: string[] = []
  const app = await buildApp(t, {}, app => {
    app.post('/hooked', { config: { session: { fresh: 60 } }, onRequest: async () => { order.push('own') } }, async () => { order.push('handler'); return {} })
  })
  t.equal((await app.inject({ method: 'POST', url: '/hooked' })).statusCode, 401)
  t.same(order, [], 'refused before the route\'s own hook')
  const cookie = sessionCookie(await app.inject({ method: 'POST', url: '/login/ann' }))!
  t.equal((await app.inject({ method: 'POST', url: '/hooked', headers: { cookie } })).statusCode, 200)
  t.same(order, ['own', 'handler'])
})

t.test('a config.session.fresh that is not a duration fails app.ready() naming the route; isFresh refuses one too', async t => {
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(fastifyZodSession, { secret: 'x'.repeat(40), schema: z.object({}) })
  t.throws(() => app.post('/bad', { config: { session: { fresh: 'soon' as never } } }, async () => ({})), /config\.session\.fresh of POST \/bad/)
  const nested = Fastify()
  t.teardown(() => nested.close())
  await nested.register(fastifyZodSession, { secret: 'x'.repeat(40), schema: z.object({}) })
  nested.register(async routes => { routes.post('/bad', { config: { session: { fresh: -1 as never } } }, async () => ({})) })
  await t.rejects(async () => { await nested.ready() }, /config\.session\.fresh of POST \/bad/)
  const ok = await buildApp(t, {}, app => {
    app.get('/is-fresh', async (request) => request.session.isFresh('later' as never))
  })
  const res = await ok.inject('/is-fresh')
  t.equal(res.json().code, 'FST_SESSION_INVALID_OPTIONS')
})

t.test('an imported @fastify/session session is not a fresh login', async t => {
  // the legacy import starts its session without stamping a login moment (test/legacy.test.ts runs the import end to end)
  const { regenerated, importing, freshState } = await import('../lib/state.js')
  const state = freshState({ log: undefined, headers: {} } as never, Date.now(), {})
  importing(state, 'i'.repeat(22), 's'.repeat(43), {}, Date.now())
  t.equal(state.meta.authenticatedAt, undefined)
  regenerated(state, {})
  t.type(state.meta.authenticatedAt, 'number')
})
