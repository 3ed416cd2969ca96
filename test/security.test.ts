import t from 'tap'
import crypto from 'node:crypto'
import { buildApp, sessionCookie } from './helpers/app.js'
import { CountingStore } from './helpers/counting-store.js'
import { newId, storeKey } from '../lib/cookie.js'
import { fakeClock } from './helpers/clock.js'

const idOf = (cookie: string): string => cookie.split('=')[1].split('.')[0]

t.test('ids carry 256 bits from the CSPRNG and never repeat', { timeout: 60_000 }, async t => {
  const seen = new Set<string>()
  let wrongLength = 0
  for (let i = 0; i < 20_000; i++) {
    const id = newId()
    if (Buffer.from(id, 'base64url').length !== 32) wrongLength++
    seen.add(id)
  }
  t.equal(wrongLength, 0, 'every id is 32 bytes')
  t.equal(seen.size, 20_000, 'no id repeats')
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

t.test('session fixation: an id planted before login is dead after it', async t => {
  const store = new CountingStore()
  const app = await buildApp(t, { store })
  const planted = sessionCookie(await app.inject({ method: 'POST', url: '/set/a/attacker' }))!
  const login = await app.inject({ method: 'POST', url: '/login/victim', headers: { cookie: planted } })
  const victim = sessionCookie(login)!
  t.not(idOf(victim), idOf(planted))
  t.equal((await app.inject({ url: '/read', headers: { cookie: planted } })).json().userId, null, 'the attacker\'s cookie is not logged in')
  t.equal(await store.inner.get(storeKey(idOf(planted))), undefined, 'the old id is gone from the store')
  t.equal((await app.inject({ url: '/read', headers: { cookie: victim } })).json().userId, 'victim')
})

t.test('no raw id is ever written to a store key or a log line', async t => {
  fakeClock(t)
  const lines: string[] = []
  const store = new CountingStore()
  const app = await buildApp(t, {
    store,
    bind: { userAgent: true },
    rotationInterval: '1m',
    fastify: { logger: { level: 'trace', stream: { write: (l: string) => { lines.push(l) } } } }
  })
  const cookie = sessionCookie(await app.inject({ method: 'POST', url: '/login/alice', headers: { 'user-agent': 'A' } }))!
  await app.inject({ url: '/read', headers: { cookie, 'user-agent': 'A' } })
  Date.now = ((n: number) => () => n)(Date.now() + 61_000)
  const rotated = sessionCookie(await app.inject({ url: '/read', headers: { cookie, 'user-agent': 'A' } }))!
  await app.inject({ url: '/read', headers: { cookie: rotated, 'user-agent': 'B' } }) // binding mismatch: logged
  await app.inject({ url: '/read', headers: { cookie: cookie.slice(0, -3) + 'xyz' } }) // bad signature: logged
  await app.inject({ method: 'POST', url: '/logout', headers: { cookie: rotated } })
  const ids = [idOf(cookie), idOf(rotated)]
  t.ok(lines.some(l => l.includes('binding mismatch')), 'the mismatch was logged')
  for (const id of ids) {
    t.notOk(lines.some(l => l.includes(id)), 'no log line holds the id')
    t.notOk(store.calls.some(c => c.id === id || JSON.stringify(c.arg ?? null).includes(id)), 'no store key or value holds the id')
  }
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
  t.match(String(res.headers['set-cookie']), /^session_id=;/, 'the late request clears the cookie')
  t.equal(await store.inner.get(storeKey(idOf(cookie))), undefined, 'nothing was written back')
  t.equal((await app.inject({ url: '/read', headers: { cookie } })).json().userId, null)
})
