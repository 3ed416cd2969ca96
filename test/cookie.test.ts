import { createHash } from 'node:crypto'
import t from 'tap'
import { Signer } from '@fastify/cookie'
import { buildApp, sessionCookie, rawSetCookie, SECRET, OLD_SECRET } from './helpers/app.js'
import { CountingStore } from './helpers/counting-store.js'
import { fakeClock } from './helpers/clock.js'

async function login (app: Awaited<ReturnType<typeof buildApp>>): Promise<string> {
  const res = await app.inject({ method: 'POST', url: '/login/alice' })
  return sessionCookie(res)!
}

t.test('Set-Cookie flags: Secure only over https, honouring trustProxy', async t => {
  const plain = await buildApp(t)
  const http = await plain.inject({ method: 'POST', url: '/visit', headers: { 'x-forwarded-proto': 'https' } })
  t.notMatch(rawSetCookie(http)[0], /Secure/, 'an untrusted x-forwarded-proto is ignored')

  const proxied = await buildApp(t, { fastify: { trustProxy: true } })
  const https = await proxied.inject({ method: 'POST', url: '/visit', headers: { 'x-forwarded-proto': 'https' } })
  t.match(rawSetCookie(https)[0], /; Secure/)
  const viaHttp = await proxied.inject({ method: 'POST', url: '/visit', headers: { 'x-forwarded-proto': 'http' } })
  t.notMatch(rawSetCookie(viaHttp)[0], /Secure/)

  const custom = await buildApp(t, { cookieName: 'sid', cookie: { secure: true, domain: 'example.com', path: '/', sameSite: 'strict', partitioned: true }, fastify: { trustProxy: true } })
  const res = await custom.inject({ method: 'POST', url: '/visit', headers: { 'x-forwarded-proto': 'https' } })
  t.match(rawSetCookie(res)[0], /^sid=[^;]+; Max-Age=960; Domain=example.com; Path=\/; Expires=[^;]+ GMT; HttpOnly; Secure; Partitioned; SameSite=Strict$/)
})

t.test('Max-Age follows the session expiry; no idle timeout means a browser-session cookie', async t => {
  const clock = fakeClock(t)
  const app = await buildApp(t, { idleTimeout: '1h', absoluteTimeout: '2h', touchAfter: '1s', rotationInterval: null })
  const cookie = sessionCookie(await app.inject({ method: 'POST', url: '/visit' }))!
  clock.advance(50 * 60_000)
  await app.inject({ method: 'POST', url: '/visit', headers: { cookie } })
  clock.advance(40 * 60_000)
  t.match(rawSetCookie(await app.inject({ method: 'POST', url: '/visit', headers: { cookie } }))[0], /Max-Age=1800;/, 'the absolute deadline caps it')
  const none = await buildApp(t, { idleTimeout: null, absoluteTimeout: null })
  t.notMatch(rawSetCookie(await none.inject({ method: 'POST', url: '/visit' }))[0], /Max-Age/)
})

t.test('secret rotation: an old-secret cookie is accepted and re-signed with the first secret', async t => {
  const store = new CountingStore()
  const before = await buildApp(t, { secret: OLD_SECRET, store })
  const cookie = await login(before)
  const after = await buildApp(t, { secret: [SECRET, OLD_SECRET], store })
  const res = await after.inject({ url: '/read', headers: { cookie } })
  t.equal(res.json().userId, 'alice')
  const resigned = sessionCookie(res)!
  t.ok(resigned, 're-signed cookie sent')
  t.equal(resigned.split('.')[0], cookie.split('.')[0], 'same id')
  t.equal(new Signer(SECRET).unsign(resigned.slice('session_id='.length)).valid, true, 'signed with the new first secret')
  const next = await after.inject({ url: '/read', headers: { cookie: resigned } })
  t.equal(next.headers['set-cookie'], undefined, 'a current cookie is not re-signed again')
})

t.test('the store keeps only a hash of the cookie secret: nothing stored holds the secret', async t => {
  const store = new CountingStore()
  const app = await buildApp(t, { store })
  const cookie = await login(app)
  const [id, secret] = cookie.split('=')[1].split('.')
  t.ok(store.calls.length > 0)
  for (const call of store.calls) t.notMatch(JSON.stringify(call.arg ?? null), secret)
  t.ok(store.calls.some(c => c.id === id), 'the store is keyed by the id, a lookup key')
  const stored = await store.inner.get(id)
  t.same(stored?.auth.current, [createHash('sha256').update(secret).digest('base64url')], 'the record holds sha256(secret)')
})

t.test('secure: true on a plain-http request saves nothing, sends nothing, and warns once naming trustProxy', async t => {
  const warnings: string[] = []
  const store = new CountingStore()
  const app = await buildApp(t, { store, cookie: { secure: true }, fastify: { logger: { level: 'warn', stream: { write: (line: string) => { warnings.push(line) } } } } })
  for (let i = 0; i < 2; i++) {
    const res = await app.inject({ method: 'POST', url: '/visit', headers: { host: 'shop.example' } })
    t.equal(res.statusCode, 200)
    t.same(rawSetCookie(res), [], 'no cookie the browser would drop')
  }
  t.equal(store.count('set'), 0, 'no session saved')
  t.equal(warnings.filter(w => /trustProxy/.test(w)).length, 1, 'one warning')
  const local = await app.inject({ method: 'POST', url: '/visit', headers: { host: 'localhost:3000' } })
  t.equal(rawSetCookie(local).length, 0, 'localhost too (Safari drops Secure cookies over http://localhost): development uses secure: \'auto\'')
  const overridden = await buildApp(t, { cookie: { secure: true } }, app => {
    app.post('/insecure-ok', async request => { request.session.options({ secure: false }); request.session.set('a', 'x'); return {} })
  })
  t.equal(rawSetCookie(await overridden.inject({ method: 'POST', url: '/insecure-ok' })).length, 1, 'a per-request secure: false is honoured')
  const perRequest = await buildApp(t, {}, app => {
    app.post('/must-be-secure', async request => { request.session.options({ secure: true }); request.session.set('a', 'x'); return {} })
  })
  t.equal(rawSetCookie(await perRequest.inject({ method: 'POST', url: '/must-be-secure' })).length, 0, 'and a per-request secure: true over http saves nothing')
  const proxied = await buildApp(t, { cookie: { secure: true }, fastify: { trustProxy: true } })
  const https = await proxied.inject({ method: 'POST', url: '/visit', headers: { host: 'shop.example', 'x-forwarded-proto': 'https' } })
  t.match(rawSetCookie(https)[0], /; Secure/, 'behind a trusted TLS proxy the cookie is sent')
})
