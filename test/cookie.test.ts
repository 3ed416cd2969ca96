import { createHash } from 'node:crypto'
import t from 'tap'
import fc from 'fast-check'
import { Signer } from '@fastify/cookie'
import { buildApp, sessionCookie, rawSetCookie, SECRET, OLD_SECRET } from './helpers/app.js'
import { CountingStore } from './helpers/counting-store.js'
import { fakeClock } from './helpers/clock.js'
import { newId } from '../lib/secrets.js'

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

t.test('bad cookies get a fresh session, never an error', async t => {
  const clock = fakeClock(t)
  const store = new CountingStore()
  const app = await buildApp(t, { store })
  const good = await login(app)
  const value = good.split('=')[1]
  const wrongSecret = new Signer('some-other-secret-that-is-long-enough!!').sign(value.split('.')[0])
  const neverIssued = new Signer(SECRET).sign(newId())
  const cases = {
    'bad signature': value.slice(0, -2) + (value.endsWith('AA') ? 'BB' : 'AA'),
    'no signature': value.split('.')[0],
    'wrong secret': wrongSecret,
    'never issued id': neverIssued,
    garbage: '%%%;;\u0000',
    empty: '',
    huge: 'x'.repeat(10_000),
    'signed but not an id': new Signer(SECRET).sign('../../etc/passwd')
  }
  for (const [name, cookieValue] of Object.entries(cases)) {
    const res = await app.inject({ url: '/read', headers: { cookie: `session_id=${cookieValue}` } })
    t.equal(res.statusCode, 200, name)
    t.same(res.json(), { visits: 0, userId: null, isNew: true }, name)
  }
  clock.advance(16 * 60_000)
  const expired = await app.inject({ url: '/read', headers: { cookie: good } })
  t.same(expired.json(), { visits: 0, userId: null, isNew: true }, 'expired record')
})

t.test('a never-issued id is not adopted: writing gives it a new id', async t => {
  const app = await buildApp(t)
  const chosen = newId()
  const res = await app.inject({ method: 'POST', url: '/visit', headers: { cookie: `session_id=${new Signer(SECRET).sign(chosen)}` } })
  const issued = sessionCookie(res)!
  t.notMatch(issued, chosen)
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

t.test('property: signing round-trips and any tampering is rejected', async t => {
  const signer = new Signer([SECRET, OLD_SECRET])
  fc.assert(fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.nat(), fc.integer({ min: 0, max: 63 }), (bytes, pos, char) => {
    const id = Buffer.from(bytes).toString('base64url')
    const signed = signer.sign(id)
    const back = signer.unsign(signed)
    if (!back.valid || back.value !== id || back.renew) return false
    const i = pos % signed.length
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'
    const replacement = alphabet[char] === signed[i] ? alphabet[(char + 1) % 64] : alphabet[char]
    const tampered = signed.slice(0, i) + replacement + signed.slice(i + 1)
    return tampered === signed || !signer.unsign(tampered).valid || signer.unsign(tampered).value !== id
  }), { numRuns: 2000 })
})

t.test('property: arbitrary Cookie headers never fail a request', async t => {
  const app = await buildApp(t)
  const cookie = await login(app)
  await fc.assert(fc.asyncProperty(fc.oneof(
    fc.string({ maxLength: 300 }),
    fc.string({ unit: 'binary', maxLength: 300 }),
    fc.string().map(s => `session_id=${s}`),
    fc.string().map(s => `${cookie}${s}`),
    fc.string().map(s => `session_id=${s}; ${cookie}`)
  ), async header => {
    const res = await app.inject({ url: '/read', headers: { cookie: header.replace(/[\r\n\0]/g, '') } })
    return res.statusCode === 200
  }), { numRuns: 500 })
})
