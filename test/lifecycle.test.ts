import t from 'tap'
import { buildApp, sessionCookie, rawSetCookie, idOf } from './helpers/app.js'
import { CountingStore } from './helpers/counting-store.js'
import { fakeClock } from './helpers/clock.js'

const MIN = 60_000

t.test('idle timeout slides with use; an idle session expires server-side', async t => {
  const clock = fakeClock(t)
  const store = new CountingStore()
  const app = await buildApp(t, { store, idleTimeout: '15m', touchAfter: '1m', rotationInterval: null })
  const cookie = sessionCookie(await app.inject({ method: 'POST', url: '/login/alice' }))!
  for (let i = 0; i < 6; i++) {
    clock.advance(10 * MIN) // 60 minutes in all, never 15 idle
    const res = await app.inject({ url: '/read', headers: { cookie } })
    t.equal(res.json().userId, 'alice', `still logged in after ${(i + 1) * 10} minutes of activity`)
  }
  clock.advance(16 * MIN)
  t.equal((await app.inject({ url: '/read', headers: { cookie } })).json().userId, null, 'and at most touchAfter more: 16 idle minutes end it')
  t.equal(await store.inner.get((idOf(cookie))), undefined, 'gone from the store too')
})

t.test('absolute timeout is never extended by activity', async t => {
  const clock = fakeClock(t)
  const app = await buildApp(t, { idleTimeout: '15m', absoluteTimeout: '1h', rotationInterval: null })
  const cookie = sessionCookie(await app.inject({ method: 'POST', url: '/login/alice' }))!
  for (let i = 0; i < 5; i++) {
    clock.advance(10 * MIN)
    await app.inject({ method: 'POST', url: '/visit', headers: { cookie } })
  }
  clock.advance(9 * MIN)
  t.equal((await app.inject({ url: '/read', headers: { cookie } })).json().userId, 'alice', '59 minutes: alive')
  clock.advance(2 * MIN)
  const res = await app.inject({ url: '/read', headers: { cookie } })
  t.same(res.json(), { visits: 0, userId: null, isNew: true }, '61 minutes: over')
})

t.test('with no idle timeout the absolute deadline is the expiry', async t => {
  const clock = fakeClock(t)
  const app = await buildApp(t, { idleTimeout: null, absoluteTimeout: '2h', rotationInterval: null })
  const cookie = sessionCookie(await app.inject({ method: 'POST', url: '/login/alice' }))!
  clock.advance(119 * MIN)
  t.equal((await app.inject({ url: '/read', headers: { cookie } })).json().userId, 'alice')
  clock.advance(2 * MIN)
  t.equal((await app.inject({ url: '/read', headers: { cookie } })).json().userId, null)
})

t.test('rotation: a new secret every rotationInterval under the same id, data kept, the replaced secret alive for the grace window only', async t => {
  const clock = fakeClock(t)
  const store = new CountingStore()
  const app = await buildApp(t, { store, rotationInterval: '4m', rotationGrace: '30s', touchAfter: '10m' })
  const first = sessionCookie(await app.inject({ method: 'POST', url: '/login/alice' }))!
  clock.advance(3 * MIN)
  t.equal(sessionCookie(await app.inject({ url: '/read', headers: { cookie: first } })), undefined, 'not due yet: no new cookie')
  clock.advance(1 * MIN + 1000)
  const rotating = await app.inject({ url: '/read', headers: { cookie: first } })
  const second = sessionCookie(rotating)!
  t.ok(second, 'rotated cookie sent')
  t.equal(idOf(second), idOf(first), 'the record does not move: same id')
  t.not(second, first, 'a new secret')
  t.equal(rotating.json().userId, 'alice', 'data kept')
  t.equal((await app.inject({ url: '/read', headers: { cookie: second } })).json().userId, 'alice')

  clock.advance(10_000)
  const parallel = await app.inject({ method: 'POST', url: '/set/a/from-old-tab', headers: { cookie: first } })
  t.equal(parallel.statusCode, 200)
  const reissued = sessionCookie(parallel)
  t.ok(reissued, 'a request with the replaced secret (in grace) is given a current one')
  const rotated = await store.inner.get(idOf(second))
  t.equal(rotated?.data.a, 'from-old-tab', 'its write lands in the one record')

  clock.advance(21_000)
  t.equal((await app.inject({ url: '/read', headers: { cookie: first } })).json().userId, null, 'after the grace window the old secret is dead')
  t.equal((await app.inject({ url: '/read', headers: { cookie: second } })).json().userId, 'alice')
  t.equal((await app.inject({ url: '/read', headers: { cookie: reissued! } })).json().userId, 'alice')
})

t.test('rotationInterval null turns rotation off', async t => {
  const clock = fakeClock(t)
  const app = await buildApp(t, { rotationInterval: null, touchAfter: '1h' })
  const cookie = sessionCookie(await app.inject({ method: 'POST', url: '/login/alice' }))!
  clock.advance(14 * MIN)
  const again = sessionCookie(await app.inject({ url: '/read', headers: { cookie } }))
  t.ok(again === undefined || again === cookie, 'the secret is never replaced (an extension re-sends the same cookie)')
})

t.test('regenerate(): new id, data emptied to the schema defaults, old id dead once the response is sent', async t => {
  const store = new CountingStore()
  const app = await buildApp(t, { store }, app => {
    app.post('/regenerate', async (request) => { await request.session.regenerate(); return { id: request.session.id } })
  })
  const before = sessionCookie(await app.inject({ method: 'POST', url: '/set/a/kept' }))!
  const res = await app.inject({ method: 'POST', url: '/regenerate', headers: { cookie: before } })
  const after = sessionCookie(res)!
  t.equal(idOf(after), res.json().id)
  t.not(idOf(after), idOf(before))
  t.equal(await store.inner.get((idOf(before))), undefined, 'old id gone from the store')
  t.same((await store.inner.get(idOf(after)))?.data, { visits: 0, cart: [] }, 'as @fastify/session: the data is emptied')
  t.equal((await app.inject({ url: '/read', headers: { cookie: before } })).json().isNew, true)
})

t.test('regenerate([keys]) keeps only those keys, as @fastify/session does', async t => {
  const app = await buildApp(t, {}, app => {
    app.post('/regenerate-keep', async (request) => { await request.session.regenerate(['a']); return request.session.data })
  })
  const cookie = sessionCookie(await app.inject({ method: 'POST', url: '/set/a/x' }))!
  await app.inject({ method: 'POST', url: '/set/b/y', headers: { cookie } })
  const res = await app.inject({ method: 'POST', url: '/regenerate-keep', headers: { cookie } })
  t.same(res.json(), { a: 'x', visits: 0, cart: [] })
})

t.test('destroy(): gone from the store, cookie cleared; later writes start a new session', async t => {
  const store = new CountingStore()
  const app = await buildApp(t, { store }, app => {
    app.post('/logout-and-flash', async (request) => {
      await request.session.destroy()
      request.session.set('a', 'goodbye')
      return { ok: true }
    })
  })
  const cookie = sessionCookie(await app.inject({ method: 'POST', url: '/login/alice' }))!
  const out = await app.inject({ method: 'POST', url: '/logout', headers: { cookie } })
  t.match(rawSetCookie(out)[0], /^session_id=; Max-Age=0; Path=\/; Expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly; SameSite=Lax$/)
  t.equal(await store.inner.get((idOf(cookie))), undefined)
  t.equal((await app.inject({ url: '/read', headers: { cookie } })).json().userId, null)

  const again = sessionCookie(await app.inject({ method: 'POST', url: '/login/bob' }))!
  const flash = await app.inject({ method: 'POST', url: '/logout-and-flash', headers: { cookie: again } })
  const fresh = sessionCookie(flash)!
  t.not(idOf(fresh), idOf(again), 'a new id for the new session')
  t.equal((await store.inner.get((idOf(fresh))))?.data.a, 'goodbye')
  t.equal((await store.inner.get((idOf(fresh))))?.data.userId, undefined)
})

t.test('refresh({ idleTimeout, regenerate }) persists a per-session lifetime', async t => {
  const clock = fakeClock(t)
  const app = await buildApp(t, { idleTimeout: '15m', absoluteTimeout: null, rotationInterval: null }, app => {
    app.post('/remember-me', async (request) => { await request.session.refresh({ idleTimeout: '30d', regenerate: true }); return { ok: true } })
  })
  const cookie = sessionCookie(await app.inject({ method: 'POST', url: '/login/alice' }))!
  const res = await app.inject({ method: 'POST', url: '/remember-me', headers: { cookie } })
  const remembered = sessionCookie(res)!
  t.not(idOf(remembered), idOf(cookie), 'regenerated')
  t.match(rawSetCookie(res)[0], /Max-Age=2592060;/, '30 days + the touch slack')
  clock.advance(20 * 24 * 60 * MIN)
  t.equal((await app.inject({ url: '/read', headers: { cookie: remembered } })).json().userId, 'alice', 'alive after 20 idle days')
  t.equal((await app.inject({ url: '/read', headers: { cookie } })).json().userId, null)
})

t.test('session fixation: an id planted before login is dead after it', async t => {
  const store = new CountingStore()
  const app = await buildApp(t, { store })
  const planted = sessionCookie(await app.inject({ method: 'POST', url: '/set/a/attacker' }))!
  const login = await app.inject({ method: 'POST', url: '/login/victim', headers: { cookie: planted } })
  const victim = sessionCookie(login)!
  t.not(idOf(victim), idOf(planted))
  t.equal((await app.inject({ url: '/read', headers: { cookie: planted } })).json().userId, null, 'the attacker\'s cookie is not logged in')
  t.equal(await store.inner.get((idOf(planted))), undefined, 'the old id is gone from the store')
  t.equal((await app.inject({ url: '/read', headers: { cookie: victim } })).json().userId, 'victim')
})

t.test('a destroyed session cannot be resurrected by a parallel request that saves afterwards', async t => {
  const store = new CountingStore()
  let release: () => void = () => {}
  const gate = new Promise<void>(resolve => { release = resolve })
  const app = await buildApp(t, { store }, app => {
    app.post('/slow-write', async (request) => {
      await gate
      request.session.set('a', 'late write')
      return { ok: true }
    })
  })
  const cookie = sessionCookie(await app.inject({ method: 'POST', url: '/login/alice' }))!
  const slow = app.inject({ method: 'POST', url: '/slow-write', headers: { cookie } })
  await new Promise(resolve => setTimeout(resolve, 20))
  await app.inject({ method: 'POST', url: '/logout', headers: { cookie } })
  release()
  const res = await slow
  t.equal(res.statusCode, 200)
  t.equal(res.headers['set-cookie'], undefined, 'the late request sends no cookie (the browser may hold a newer one)')
  t.equal(await store.inner.get((idOf(cookie))), undefined, 'nothing was written back')
  t.equal((await app.inject({ url: '/read', headers: { cookie } })).json().userId, null)
})
