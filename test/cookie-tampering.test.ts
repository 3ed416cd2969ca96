// Tampered, forged, truncated and garbage cookies: each gets a fresh session, never an error, never
// someone else's session; signatures are checked in constant time.
import crypto from 'node:crypto'
import t from 'tap'
import fc from 'fast-check'
import { Signer } from '@fastify/cookie'
import { buildApp, sessionCookie, SECRET, OLD_SECRET } from './helpers/app.js'
import { CountingStore } from './helpers/counting-store.js'
import { fakeClock } from './helpers/clock.js'
import { newId } from '../lib/secrets.js'

async function login (app: Awaited<ReturnType<typeof buildApp>>): Promise<string> {
  const res = await app.inject({ method: 'POST', url: '/login/alice' })
  return sessionCookie(res)!
}

if (process.env.FZS_FUZZ_RUNS !== undefined) t.setTimeout(900_000)

// FZS_FUZZ_RUNS raises the counts (npm run test:stress uses 100,000 cookie headers).
const RUNS = Number(process.env.FZS_FUZZ_RUNS ?? 3000)

t.test(`${RUNS} generated Cookie headers: no 5xx, every bad cookie gets a fresh session`, async t => {
  const app = await buildApp(t, { secret: [SECRET, OLD_SECRET] })
  const good = sessionCookie(await app.inject({ method: 'POST', url: '/login/alice' }))!
  const goodValue = good.slice('session_id='.length)
  const [id, sig] = goodValue.split('.')
  const wrong = new Signer('another-secret-that-is-long-enough-yes-yes')
  const header = fc.oneof(
    fc.string({ unit: 'binary', maxLength: 400 }).map(s => `session_id=${s}`),
    fc.uint8Array({ maxLength: 300 }).map(b => `session_id=${Buffer.from(b).toString('latin1')}`),
    fc.nat({ max: sig.length }).map(n => `session_id=${id}.${sig.slice(0, n)}`), // truncated signatures
    fc.string({ maxLength: 20 }).map(s => `session_id=${id}.${sig}${s}`), // padded signatures
    fc.constant(null).map(() => `session_id=${wrong.sign(newId())}`), // valid ids, wrong secret
    fc.constant(null).map(() => `session_id=${new Signer(SECRET).sign(newId())}`), // never issued
    fc.string({ unit: 'grapheme', maxLength: 100 }).map(s => `session_id=${encodeURIComponent(s)}`), // unicode
    fc.nat({ max: 20_000 }).map(n => `session_id=${'a'.repeat(n)}`), // huge values
    fc.array(fc.string({ maxLength: 60 }), { maxLength: 5 }).map(vals => vals.map(v => `session_id=${v}`).join('; ')), // duplicate names
    fc.string({ maxLength: 200 })
  ).map(h => h.replace(/[\r\n\0]/g, ''))
  let served = 0
  await fc.assert(fc.asyncProperty(header, async cookie => {
    const res = await app.inject({ url: '/read', headers: { cookie } })
    served++
    if (res.statusCode !== 200) return false
    const body = res.json()
    // a header is only let in when it carries the one valid cookie unchanged
    return body.userId === null || cookie.includes(goodValue)
  }), { numRuns: RUNS })
  t.equal(served, RUNS)
  t.equal((await app.inject({ url: '/read', headers: { cookie: good } })).json().userId, 'alice', 'the real session is untouched')
})

t.test('signatures are compared in constant time (crypto.timingSafeEqual)', async t => {
  const app = await buildApp(t)
  const cookie = sessionCookie(await app.inject({ method: 'POST', url: '/login/alice' }))!
  const original = crypto.timingSafeEqual
  let calls = 0
  crypto.timingSafeEqual = ((a: NodeJS.ArrayBufferView, b: NodeJS.ArrayBufferView) => { calls++; return original(a, b) }) as typeof crypto.timingSafeEqual
  t.teardown(() => { crypto.timingSafeEqual = original })
  const forged = cookie.slice(0, -4) + (cookie.endsWith('AAAA') ? 'BBBB' : 'AAAA')
  await app.inject({ url: '/read', headers: { cookie: forged } })
  t.ok(calls > 0, 'a forged signature of the right length went through timingSafeEqual')
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
