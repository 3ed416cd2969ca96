// Ids and cookie secrets: their entropy, that a secret never reaches the store or a log line, and which
// secrets open a session as they are rotated.
import t from 'tap'
import { buildApp, sessionCookie } from './helpers/app.js'
import { CountingStore } from './helpers/counting-store.js'
import { newId, newSecret } from '../lib/secrets.js'
import { secretStatus } from '../lib/secrets.js'
import fc from 'fast-check'
import { fakeClock } from './helpers/clock.js'

const idOf = (cookie: string): string => cookie.split('=')[1].split('.')[0]

t.test('ids carry 128 bits and secrets 256 bits from the CSPRNG, and never repeat', { timeout: 60_000 }, async t => {
  const seen = new Set<string>()
  let wrongLength = 0
  for (let i = 0; i < 10_000; i++) {
    const id = newId()
    const secret = newSecret()
    if (Buffer.from(id, 'base64url').length !== 16 || Buffer.from(secret, 'base64url').length !== 32) wrongLength++
    seen.add(id)
    seen.add(secret)
  }
  t.equal(wrongLength, 0, 'every id is 16 bytes, every secret 32')
  t.equal(seen.size, 20_000, 'nothing repeats')
})

t.test('no cookie secret is ever written to the store or a log line', async t => {
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
  const secrets = [cookie, rotated].map(c => decodeURIComponent(c.split('=')[1]).split('.')[1])
  t.equal(idOf(rotated), idOf(cookie), 'rotation keeps the id and replaces the secret')
  t.not(secrets[0], secrets[1])
  t.ok(lines.some(l => l.includes('binding mismatch')), 'the mismatch was logged')
  for (const secret of secrets) {
    t.notOk(lines.some(l => l.includes(secret)), 'no log line holds the secret')
    t.notOk(store.calls.some(c => JSON.stringify(c.arg ?? null).includes(secret)), 'no store value holds the secret')
  }
})

t.test('property: a secret opens a session exactly when it is current, or replaced and still in its grace window', async t => {
  const hash = fc.stringMatching(/^[A-Za-z0-9_-]{43}$/)
  fc.assert(fc.property(
    fc.array(hash, { minLength: 1, maxLength: 4 }),
    fc.array(fc.tuple(hash, fc.integer({ min: 0, max: 2_000 })), { maxLength: 4 }),
    fc.integer({ min: 0, max: 2_000 }),
    fc.oneof(hash, fc.constant('pick-current'), fc.constant('pick-replaced')),
    (current, replaced, now, probe) => {
      const secret = probe === 'pick-current' ? current[0] : probe === 'pick-replaced' ? (replaced[0]?.[0] ?? current[0]) : probe
      const expected = current.includes(secret) ? 'current' : replaced.some(([h, until]) => h === secret && until > now) ? 'replaced' : null
      return secretStatus({ current, replaced }, secret, now) === expected
    }), { numRuns: 2000 })
  t.pass()
})
