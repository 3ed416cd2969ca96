import t, { type Test } from 'tap'
import { fakeClock } from './helpers/clock.js'
import { buildApp, sessionCookie } from './helpers/app.js'
import { CountingStore } from './helpers/counting-store.js'

function trackRejections (t: Test): () => unknown[] {
  const seen: unknown[] = []
  const onRejection = (reason: unknown): void => { seen.push(reason) }
  process.on('unhandledRejection', onRejection)
  t.teardown(() => { process.off('unhandledRejection', onRejection) })
  return () => seen
}

t.test('store down on load: 503 with FST_SESSION_STORE_UNAVAILABLE, logged, cause kept', async t => {
  const rejections = trackRejections(t)
  const store = new CountingStore()
  const logs: string[] = []
  const app = await buildApp(t, { store, fastify: { logger: { level: 'warn', stream: { write: (line: string) => { logs.push(line) } } } } })
  const cookie = sessionCookie(await app.inject({ method: 'POST', url: '/login/alice' }))!
  store.failing.add('get')
  const res = await app.inject({ url: '/read', headers: { cookie } })
  t.equal(res.statusCode, 503)
  t.equal(res.json().code, 'FST_SESSION_STORE_UNAVAILABLE')
  t.ok(logs.some(l => l.includes('FST_SESSION_STORE_UNAVAILABLE') && l.includes('store get failed (test)')), 'logged with its cause')
  t.equal(store.writes(), 1, 'the error response saved nothing')
  const anonymous = await app.inject({ url: '/read' })
  t.equal(anonymous.statusCode, 200, 'requests without a cookie never read the store')
  await new Promise(resolve => setImmediate(resolve))
  t.same(rejections(), [])
})

t.test("onStoreError 'anonymous': an unsaved empty session instead of a 503", async t => {
  const store = new CountingStore()
  const app = await buildApp(t, { store, onStoreError: 'anonymous' })
  const cookie = sessionCookie(await app.inject({ method: 'POST', url: '/login/alice' }))!
  store.failing.add('get')
  store.reset()
  const res = await app.inject({ method: 'POST', url: '/visit', headers: { cookie } })
  t.equal(res.statusCode, 200)
  t.same(res.json(), { visits: 1 })
  t.equal(store.writes(), 0, 'never saved')
  t.equal(res.headers['set-cookie'], undefined, 'the client keeps its cookie for when the store is back')
})

t.test('store down on save: 503 with a code, and no unhandled rejection', async t => {
  const rejections = trackRejections(t)
  const clock = fakeClock(t)
  for (const op of ['set', 'patch', 'touch'] as const) {
    const store = new CountingStore()
    const app = await buildApp(t, { store, touchAfter: 0 })
    const cookie = sessionCookie(await app.inject({ method: 'POST', url: '/login/alice' }))!
    clock.advance(1000) // with touchAfter 0, any time after the login makes a touch due
    store.failing.add(op)
    const url = op === 'set' ? '/login/bob' : op === 'patch' ? '/visit' : '/read'
    const res = await app.inject({ method: op === 'touch' ? 'GET' : 'POST', url, headers: op === 'set' ? {} : { cookie } })
    t.equal(res.statusCode, 503, op)
    t.equal(res.json().code, 'FST_SESSION_STORE_UNAVAILABLE', op)
    t.equal(res.headers['set-cookie'], undefined, `${op}: no cookie for what was not saved`)
  }
  await new Promise(resolve => setImmediate(resolve))
  t.same(rejections(), [])
})

t.test('a 5xx response from the handler saves nothing', async t => {
  const store = new CountingStore()
  const app = await buildApp(t, { store }, app => {
    app.post('/boom', async (request) => {
      request.session.set('a', 'half-done')
      throw new Error('handler failed')
    })
    app.post('/unavailable', async (request, reply) => {
      request.session.set('a', 'half-done')
      return reply.code(503).send({ busy: true })
    })
  })
  const cookie = sessionCookie(await app.inject({ method: 'POST', url: '/login/alice' }))!
  store.reset()
  t.equal((await app.inject({ method: 'POST', url: '/boom', headers: { cookie } })).statusCode, 500)
  t.equal((await app.inject({ method: 'POST', url: '/unavailable', headers: { cookie } })).statusCode, 503)
  t.equal(store.writes(), 0)
  const fresh = await app.inject({ method: 'POST', url: '/boom' })
  t.equal(fresh.headers['set-cookie'], undefined)
})

t.test('a 4xx response still saves', async t => {
  const store = new CountingStore()
  const app = await buildApp(t, { store }, app => {
    app.post('/flash-error', async (request, reply) => {
      request.session.set('a', 'Wrong password')
      return reply.code(401).send({ ok: false })
    })
  })
  const res = await app.inject({ method: 'POST', url: '/flash-error' })
  t.equal(res.statusCode, 401)
  t.ok(sessionCookie(res))
  t.equal(store.count('set'), 1)
})
