import t from 'tap'
import { buildApp, sessionCookie, rawSetCookie } from './helpers/app.js'
import { CountingStore } from './helpers/counting-store.js'

t.test('no cookie and no write: no Set-Cookie, no store write', async t => {
  const store = new CountingStore()
  const app = await buildApp(t, { store })
  const res = await app.inject('/read')
  t.equal(res.statusCode, 200)
  t.same(res.json(), { visits: 0, userId: null, isNew: true })
  t.equal(res.headers['set-cookie'], undefined)
  t.equal(store.count(), 0)
})

t.test('a write creates the session and the cookie carries it to the next request', async t => {
  const store = new CountingStore()
  const app = await buildApp(t, { store })
  const first = await app.inject({ method: 'POST', url: '/visit' })
  t.equal(first.statusCode, 200)
  const [setCookie] = rawSetCookie(first)
  t.match(setCookie, /^session_id=[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}\.[A-Za-z0-9+/]+; Max-Age=960; Path=\/; Expires=[A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d GMT; HttpOnly; SameSite=Lax$/)
  const expires = Date.parse(/Expires=([^;]+)/.exec(setCookie)![1])
  t.ok(Math.abs(expires - (Date.now() + 960_000)) < 5000, 'Expires says the same as Max-Age, for clients that only read Expires')
  t.equal(store.count('set'), 1)
  const cookie = sessionCookie(first)!
  const second = await app.inject({ method: 'POST', url: '/visit', headers: { cookie } })
  t.same(second.json(), { visits: 2 })
  const read = await app.inject({ url: '/read', headers: { cookie } })
  t.same(read.json(), { visits: 2, userId: null, isNew: false })
  t.equal(read.headers.vary, 'Cookie')
})
