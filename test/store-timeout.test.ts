// storeTimeout: a store that never answers costs a request a fast 503 (or the anonymous session), never a hang.
import t from 'tap'
import { MemoryStore } from '../lib/index.js'
import type { SessionStore } from '../types/index.js'
import { buildApp, sessionCookie, rawSetCookie } from './helpers/app.js'
import { CountingStore } from './helpers/counting-store.js'
import { deadline, StoreTimeoutError } from '../lib/store-timeout.js'

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

/** the Timeouts this process holds (a pending one keeps it alive) */
const timeouts = (): number => process.getActiveResourcesInfo().filter(r => r === 'Timeout').length

t.test('deadline: each call fails no sooner than its own time, answers in time win, and no timer outlives the calls', async t => {
  const ms = 80
  const never = new Promise<never>(() => {})
  const before = timeouts()
  const answered = deadline(Promise.resolve('ok'), ms, 'get')
  t.equal(await answered, 'ok')
  t.equal(timeouts(), before, 'a call that answered leaves no timer behind')

  let release!: (v: string) => void
  const gated = deadline(new Promise<string>(resolve => { release = resolve }), ms, 'patch')
  const startA = performance.now()
  const a = deadline(never, ms, 'get').then(() => { throw new Error('a call that never answers did') }, (err: unknown) => ({ err, after: performance.now() - startA }))
  await new Promise(resolve => setTimeout(resolve, ms / 2))
  const startB = performance.now()
  const b = deadline(never, ms, 'touch').then(() => { throw new Error('a call that never answers did') }, (err: unknown) => ({ err, after: performance.now() - startB }))
  release('landed')
  t.equal(await gated, 'landed', 'a call answering while others wait resolves')
  const [ra, rb] = await Promise.all([a, b])
  for (const [r, method] of [[ra, 'get'], [rb, 'touch']] as const) {
    t.ok(r.err instanceof StoreTimeoutError, method)
    t.match((r.err as Error).message, `${method}() got no answer within ${ms} ms`)
    t.equal((r.err as StoreTimeoutError).late, never, 'the late call is handed on')
    t.ok(r.after >= ms - 1, `${method} failed after ${r.after.toFixed(1)} ms, not before its ${ms}`)
  }
  t.equal(timeouts(), before, 'no timer is left once every call has settled')
})

t.test('deadline: a call answering after its time changes nothing; thousands in flight each fail once, in order', async t => {
  const ms = 30
  let release!: (v: string) => void
  const late = deadline(new Promise<string>(resolve => { release = resolve }), ms, 'get')
  await t.rejects(late, StoreTimeoutError)
  release('too late') // must neither throw nor settle `late` again

  const never = new Promise<never>(() => {})
  const order: number[] = []
  const calls = Array.from({ length: 3000 }, (_, i) => deadline(never, ms, 'get').catch(() => { order.push(i) }))
  await Promise.all(calls)
  t.equal(order.length, 3000)
  t.same(order, [...order].sort((x, y) => x - y), 'failed in the order they were made')
  const again = deadline(Promise.resolve(1), ms, 'get')
  t.equal(await again, 1, 'the queue serves calls after a batch has drained')
})
