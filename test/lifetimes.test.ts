// Lifetimes are never silently cut: an idle timeout the absolute one would defeat is refused naming
// both, at app.ready() for the app's options and at the call for refresh() and cookie.maxAge; a
// session that asks for a long life ("remember me") with its own absoluteTimeout gets it.
import t from 'tap'
import { buildApp, sessionCookie, rawSetCookie } from './helpers/app.js'
import { fakeClock } from './helpers/clock.js'

const MIN = 60_000
const DAY = 24 * 60 * MIN

t.test('an idleTimeout longer than absoluteTimeout fails app.ready() naming both', async t => {
  await t.rejects(buildApp(t, { idleTimeout: '7d' }), { code: 'FST_SESSION_INVALID_OPTIONS', message: /"idleTimeout": '7d' is longer than absoluteTimeout \('12h'\).*null/ })
  await t.rejects(buildApp(t, { idleTimeout: '2h', absoluteTimeout: '1h' }), { message: /idleTimeout.*'2h'.*absoluteTimeout.*'1h'/ })
  await t.resolves(buildApp(t, { idleTimeout: '7d', absoluteTimeout: null }), 'no absolute limit: fine')
  await t.resolves(buildApp(t, { idleTimeout: '7d', absoluteTimeout: '30d' }), 'a longer absolute limit: fine')
  await t.resolves(buildApp(t, { idleTimeout: '12h' }), 'equal to the default absolute limit: fine')
})

t.test('refresh({ idleTimeout }) beyond the absolute timeout is refused at the call, naming both', async t => {
  const app = await buildApp(t, { rotationInterval: null }, app => {
    app.post('/remember-me', async (request) => { await request.session.refresh({ idleTimeout: '30d' }); return { ok: true } })
    app.post('/max-age', async (request) => { request.session.cookie.maxAge = 30 * DAY; return { ok: true } })
  })
  const cookie = sessionCookie(await app.inject({ method: 'POST', url: '/login/alice' }))!
  for (const url of ['/remember-me', '/max-age']) {
    const res = await app.inject({ method: 'POST', url, headers: { cookie } })
    t.equal(res.statusCode, 500, `${url}: the call throws`)
    t.match(res.json(), { code: 'FST_SESSION_INVALID_OPTIONS', message: /refresh\.idleTimeout.*'30d'.*absoluteTimeout.*'12h'/ }, `${url}: names both`)
    t.equal(sessionCookie(res), undefined, `${url}: nothing saved, the session is as it was`)
  }
  t.equal((await app.inject({ url: '/read', headers: { cookie } })).json().userId, 'alice', 'still logged in, unchanged')
})

t.test('refresh({ idleTimeout, absoluteTimeout }) gives a session a long life under the default 12h cap', async t => {
  const clock = fakeClock(t)
  const app = await buildApp(t, { rotationInterval: null }, app => {
    app.post('/remember-me', async (request) => { await request.session.refresh({ idleTimeout: '30d', absoluteTimeout: '90d', regenerate: true }); return { ok: true } })
    app.post('/forever', async (request) => { await request.session.refresh({ idleTimeout: '7d', absoluteTimeout: null }); return { ok: true } })
    app.post('/shorten', async (request) => { await request.session.refresh({ absoluteTimeout: '1h' }); return { ok: true } })
  })
  const login = sessionCookie(await app.inject({ method: 'POST', url: '/login/alice' }))!
  const res = await app.inject({ method: 'POST', url: '/remember-me', headers: { cookie: login } })
  t.equal(res.statusCode, 200)
  const remembered = sessionCookie(res)!
  t.match(rawSetCookie(res)[0], /Max-Age=2592060;/, 'the cookie lives 30 days (+ the touch slack), not 12 hours')
  for (let day = 1; day <= 80; day += 20) {
    clock.advance(20 * DAY)
    t.equal((await app.inject({ url: '/read', headers: { cookie: remembered } })).json().userId, 'alice', `alive after ${day + 19} days of a visit every 20 days`)
  }
  clock.advance(11 * DAY) // 91 days since the login
  t.equal((await app.inject({ url: '/read', headers: { cookie: remembered } })).json().userId, null, 'the session\'s own absolute limit still holds')

  const other = sessionCookie(await app.inject({ method: 'POST', url: '/login/bob' }))!
  t.equal((await app.inject({ method: 'POST', url: '/forever', headers: { cookie: other } })).statusCode, 200)
  for (let i = 0; i < 10; i++) {
    clock.advance(6 * DAY)
    t.equal((await app.inject({ url: '/read', headers: { cookie: other } })).json().userId, 'bob', 'absoluteTimeout: null: no cap')
  }
  const shortened = await app.inject({ method: 'POST', url: '/shorten', headers: { cookie: other } })
  t.equal(shortened.statusCode, 500, 'an absolute timeout below the session\'s own idle timeout is refused too')
  t.match(shortened.json().message, /refresh\.idleTimeout.*'7d'.*refresh\.absoluteTimeout.*'1h'/)
})

t.test('the guide\'s mapping of @fastify/session\'s cookie.maxAge keeps a 7-day sliding session', async t => {
  const clock = fakeClock(t)
  const app = await buildApp(t, { idleTimeout: '7d', absoluteTimeout: null, rotationInterval: null })
  const res = await app.inject({ method: 'POST', url: '/login/alice' })
  const cookie = sessionCookie(res)!
  t.match(rawSetCookie(res)[0], /Max-Age=60\d{4};/, 'Max-Age about 7 days, never 43200')
  for (let i = 0; i < 8; i++) {
    clock.advance(6 * DAY)
    t.equal((await app.inject({ url: '/read', headers: { cookie } })).json().userId, 'alice', `alive after ${(i + 1) * 6} days of weekly use`)
  }
})

t.test('a session\'s own lifetime survives regenerate() (the login after "remember me"), as @fastify/session\'s cookie options do', async t => {
  const clock = fakeClock(t)
  const app = await buildApp(t, { rotationInterval: null }, app => {
    app.post('/remember-then-login', async request => {
      await request.session.refresh({ idleTimeout: '30d', absoluteTimeout: '90d' })
      await request.session.regenerate()
      request.session.set('userId', 'alice')
      return { ok: true }
    })
  })
  const res = await app.inject({ method: 'POST', url: '/remember-then-login' })
  t.match(rawSetCookie(res)[0], /Max-Age=2592060;/, '30 days, not 15 minutes')
  const cookie = sessionCookie(res)!
  clock.advance(20 * DAY)
  t.equal((await app.inject({ url: '/read', headers: { cookie } })).json().userId, 'alice', 'alive after 20 idle days')

  const options = await buildApp(t, { rotationInterval: null, absoluteTimeout: null }, app => {
    app.post('/options-then-login', async request => {
      request.session.options({ maxAge: 30 * DAY })
      await request.session.regenerate()
      request.session.set('userId', 'bob')
      return { ok: true }
    })
  })
  t.match(rawSetCookie(await options.inject({ method: 'POST', url: '/options-then-login' }))[0], /Max-Age=2592060;/, 'options({ maxAge }) too')
})
