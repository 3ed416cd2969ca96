import t from 'tap'
import { buildApp, sessionCookie, rawSetCookie } from './helpers/app.js'
import { CountingStore } from './helpers/counting-store.js'
import { fakeClock } from './helpers/clock.js'
import type { SessionPatch } from '../types/index.js'

t.test('a read-only request within touchAfter writes nothing and sends no cookie', async t => {
  const clock = fakeClock(t)
  const store = new CountingStore()
  const app = await buildApp(t, { store, touchAfter: '1m' })
  const cookie = sessionCookie(await app.inject({ method: 'POST', url: '/login/alice' }))!
  store.reset()
  for (let i = 0; i < 5; i++) {
    clock.advance(10_000)
    const res = await app.inject({ url: '/read', headers: { cookie } })
    t.equal(res.headers['set-cookie'], undefined)
  }
  t.equal(store.count('get'), 5, 'one store read per request')
  t.equal(store.writes(), 0, 'zero writes')
})

t.test('after touchAfter: exactly one touch and a refreshed cookie', async t => {
  const clock = fakeClock(t)
  const store = new CountingStore()
  const app = await buildApp(t, { store, touchAfter: '1m', idleTimeout: '15m' })
  const cookie = sessionCookie(await app.inject({ method: 'POST', url: '/login/alice' }))!
  store.reset()
  clock.advance(61_000)
  const res = await app.inject({ url: '/read', headers: { cookie } })
  t.same(store.calls.map(c => c.op), ['get', 'touch'])
  t.equal(store.calls[1].arg, clock.now() + 16 * 60_000, 'idle timeout + touch slack')
  t.match(rawSetCookie(res)[0], /Max-Age=960;/)
  store.reset()
  await app.inject({ url: '/read', headers: { cookie } })
  t.equal(store.writes(), 0, 'touched once, not again right away')
})

t.test('changing one key patches just that key', async t => {
  const store = new CountingStore()
  const app = await buildApp(t, { store })
  const cookie = sessionCookie(await app.inject({ method: 'POST', url: '/login/alice' }))!
  store.reset()
  await app.inject({ method: 'POST', url: '/set/a/hello', headers: { cookie } })
  t.same(store.calls.map(c => c.op), ['get', 'patch'])
  const change = store.calls[1].arg as SessionPatch
  t.same(change.set, { a: 'hello' })
  t.same(change.unset, [])
})

t.test('nested mutation through data is detected and patched', async t => {
  const store = new CountingStore()
  const app = await buildApp(t, { store }, app => {
    app.post('/cart/:sku', async (request) => {
      request.session.data.cart.push({ sku: (request.params as { sku: string }).sku, qty: 1 })
      return { cart: request.session.data.cart }
    })
    app.post('/bump', async (request) => {
      const cart = request.session.get('cart') as Array<{ qty: number }>
      cart[0].qty++
      return { ok: true }
    })
    app.post('/delete-a', async (request) => { delete request.session.data.a; return { ok: true } })
  })
  const cookie = sessionCookie(await app.inject({ method: 'POST', url: '/cart/apple' }))!
  store.reset()
  await app.inject({ method: 'POST', url: '/cart/pear', headers: { cookie } })
  t.same((store.calls[1].arg as SessionPatch).set, { cart: [{ sku: 'apple', qty: 1 }, { sku: 'pear', qty: 1 }] })
  store.reset()
  await app.inject({ method: 'POST', url: '/bump', headers: { cookie } })
  t.same((store.calls[1].arg as SessionPatch).set, { cart: [{ sku: 'apple', qty: 2 }, { sku: 'pear', qty: 1 }] })
  await app.inject({ method: 'POST', url: '/set/a/x', headers: { cookie } })
  store.reset()
  await app.inject({ method: 'POST', url: '/delete-a', headers: { cookie } })
  t.same((store.calls[1].arg as SessionPatch).unset, ['a'])
  store.reset()
  await app.inject({ url: '/read', headers: { cookie } })
  t.equal(store.writes(), 0, 'reading an object without changing it writes nothing')
})

t.test('two concurrent requests setting different keys both keep their change', async t => {
  const store = new CountingStore()
  // each handler waits until both requests have loaded the session: they overlap exactly
  let arrived = 0
  let bothIn!: () => void
  const gate = new Promise<void>(resolve => { bothIn = resolve })
  const app = await buildApp(t, { store }, app => {
    app.post('/slow/:key/:value', async (request) => {
      const { key, value } = request.params as { key: string, value: string }
      if (++arrived === 2) bothIn()
      await gate
      request.session.set(key, value)
      return { ok: true }
    })
  })
  const cookie = sessionCookie(await app.inject({ method: 'POST', url: '/login/alice' }))!
  await Promise.all([
    app.inject({ method: 'POST', url: '/slow/a/first', headers: { cookie } }),
    app.inject({ method: 'POST', url: '/slow/b/second', headers: { cookie } })
  ])
  const res = await app.inject({ url: '/data', headers: { cookie } })
  t.equal(res.statusCode, 404)
  const id = cookie.split('=')[1].split('.')[0]
  const record = await store.inner.get((id))
  t.equal(record?.data.a, 'first')
  t.equal(record?.data.b, 'second')
  t.equal(record?.data.userId, 'alice')
})

t.test('saveUninitialized stores and cookies an untouched new session', async t => {
  const store = new CountingStore()
  const app = await buildApp(t, { store, saveUninitialized: true })
  const res = await app.inject('/read')
  t.ok(sessionCookie(res))
  t.equal(store.count('set'), 1)
})

t.test('nested mutations of a Date, of a value nested 64 levels (the limit), and a re-set of an equal object', async t => {
  const store = new CountingStore()
  const nest = (levels: number): unknown => {
    let value: unknown = { n: 1 }
    for (let i = 1; i < levels; i++) value = [value]
    return value
  }
  const bottom = (value: unknown): { n: number } => {
    let at = value
    while (Array.isArray(at)) at = at[0]
    return at as { n: number }
  }
  const app = await buildApp(t, { store }, app => {
    app.post('/init', async (request) => {
      request.session.set('seenAt', new Date(0))
      request.session.set('deep', nest(64))
      request.session.set('profile', { a: 1, b: { c: [1, 2] } })
      return { ok: true }
    })
    app.post('/date', async (request) => { request.session.get('seenAt')!.setTime(5000); return { ok: true } })
    app.post('/deep', async (request) => { bottom(request.session.get('deep')).n = 2; return { ok: true } })
    app.post('/same-profile', async (request) => { request.session.set('profile', { b: { c: [1, 2] }, a: 1 }); return { ok: true } })
    app.post('/read-deep', async (request) => ({ n: bottom(request.session.get('deep')).n }))
    app.post('/old', async (request) => { bottom(request.session.get('old')).n = 3; return { ok: true } })
    app.post('/read-old', async (request) => ({ n: bottom(request.session.get('old')).n }))
  })
  const cookie = sessionCookie(await app.inject({ method: 'POST', url: '/init' }))!
  store.reset()
  await app.inject({ method: 'POST', url: '/date', headers: { cookie } })
  t.same(store.calls.map(c => c.op), ['get', 'patch'])
  t.equal(((store.calls[1].arg as SessionPatch).set.seenAt as Date).getTime(), 5000, 'a Date changed in place is saved')
  store.reset()
  await app.inject({ method: 'POST', url: '/deep', headers: { cookie } })
  t.same(store.calls.map(c => c.op), ['get', 'patch'], 'a change 64 levels down is saved')
  t.equal(bottom((store.calls[1].arg as SessionPatch).set.deep).n, 2)
  store.reset()
  t.equal((await app.inject({ method: 'POST', url: '/read-deep', headers: { cookie } })).json().n, 2)
  t.equal(store.writes(), 0, 'reading the deep value writes nothing')
  await app.inject({ method: 'POST', url: '/same-profile', headers: { cookie } })
  t.equal(store.writes(), 0, 'an equal object in another key order writes nothing')

  // a value nested past the limit, stored before set() refused such values: it loads, a read writes
  // nothing (its snapshot is its JSON), and a change to it is refused with a 400, not written
  const id = cookie.split('=')[1].split('.')[0]
  t.equal(await store.inner.patch(id, { set: { old: nest(70) }, unset: [] }), 'ok')
  store.reset()
  t.equal((await app.inject({ method: 'POST', url: '/read-old', headers: { cookie } })).json().n, 1)
  t.equal(store.writes(), 0, 'reading a value nested 70 levels writes nothing')
  const changed = await app.inject({ method: 'POST', url: '/old', headers: { cookie } })
  t.equal(changed.statusCode, 400, 'a change 70 levels down is refused')
  t.equal(changed.json().code, 'FST_SESSION_INVALID_DATA')
  t.equal(store.writes(), 0, 'and not written')
})

t.test('set() with the value already stored writes nothing', async t => {
  const store = new CountingStore()
  const app = await buildApp(t, { store, touchAfter: '1h' }, app => {
    app.post('/same', async (request) => {
      request.session.set('userId', request.session.get('userId'))
      request.session.set('cart', [{ sku: 'a', qty: 1 }])
      request.session.set('visits', 1)
      return {}
    })
    app.post('/same-then-mutate', async (request) => {
      request.session.set('cart', [{ sku: 'a', qty: 1 }])
      request.session.get('cart')[0].qty = 2
      return {}
    })
    app.get('/cart', async (request) => request.session.get('cart'))
  })
  let cookie = sessionCookie(await app.inject({ method: 'POST', url: '/login/ann' }))!
  cookie = sessionCookie(await app.inject({ method: 'POST', url: '/same', headers: { cookie } })) ?? cookie
  store.reset()
  const res = await app.inject({ method: 'POST', url: '/same', headers: { cookie } })
  t.equal(res.statusCode, 200)
  t.equal(store.writes(), 0, 'no store write')
  t.same(rawSetCookie(res), [], 'no cookie')
  await app.inject({ method: 'POST', url: '/same-then-mutate', headers: { cookie } })
  t.equal(store.count('patch'), 1, 'a value set equal, then mutated through get(), is still saved')
  t.same((await app.inject({ url: '/cart', headers: { cookie } })).json(), [{ sku: 'a', qty: 2 }])
})
