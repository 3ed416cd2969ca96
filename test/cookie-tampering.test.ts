import t from 'tap'
import fc from 'fast-check'
import { Signer } from '@fastify/cookie'
import { buildApp, sessionCookie, SECRET, OLD_SECRET } from './helpers/app.js'
import { newId } from '../lib/cookie.js'
import type { SessionRecord, SessionStore } from '../types/index.js'
import { MemoryStore } from '../lib/index.js'

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

/** A store that returns whatever the test says for one key: corrupt rows, other apps' data, half migrations. */
class PayloadStore extends MemoryStore {
  payload: unknown = undefined
  override async get (id: string): Promise<SessionRecord | undefined> {
    const real = await super.get(id)
    return real === undefined ? undefined : this.payload as SessionRecord
  }
}

t.test('generated store payloads never crash a request or reach the handler unvalidated', async t => {
  const store = new PayloadStore()
  const app = await buildApp(t, { store: store as SessionStore })
  const cookie = sessionCookie(await app.inject({ method: 'POST', url: '/login/alice' }))!
  const now = Date.now()
  const payload = fc.oneof(
    fc.anything(),
    fc.record({ data: fc.anything(), createdAt: fc.anything(), expiresAt: fc.anything(), meta: fc.anything() }, { requiredKeys: [] }),
    fc.record({ data: fc.dictionary(fc.string(), fc.jsonValue()), createdAt: fc.constant(now), expiresAt: fc.constant(now + 60_000), meta: fc.dictionary(fc.string(), fc.anything()) }),
    fc.record({ data: fc.record({ visits: fc.anything(), cart: fc.anything(), userId: fc.anything() }), createdAt: fc.constant(now), expiresAt: fc.constant(now + 60_000), meta: fc.constant({}) }),
    fc.constant({ data: { userId: 'x'.repeat(1_000_000) }, createdAt: now, expiresAt: now + 60_000, meta: {} })
  )
  await fc.assert(fc.asyncProperty(payload, async p => {
    store.payload = p
    const res = await app.inject({ method: 'POST', url: '/visit', headers: { cookie } })
    // huge stored data loads, and its next save is refused with a clear code rather than written
    if (res.statusCode === 500) return res.json().code === 'FST_SESSION_TOO_LARGE'
    return res.statusCode === 200 && Number.isInteger(res.json().visits)
  }), { numRuns: Math.max(300, RUNS / 10) })
})

/** Hands out a changed copy of MemoryStore's own record: the copy is a plain object, so it is checked again. */
class CopyingStore extends MemoryStore {
  change: (record: SessionRecord) => unknown = r => r
  override async get (id: string): Promise<SessionRecord | undefined> {
    const real = await super.get(id)
    return real === undefined ? undefined : this.change(real) as SessionRecord
  }
}

t.test('a store that copies and changes a MemoryStore record gets it checked again', async t => {
  const store = new CopyingStore()
  const app = await buildApp(t, { store: store as SessionStore })
  const cookie = sessionCookie(await app.inject({ method: 'POST', url: '/login/alice' }))!
  t.equal((await app.inject({ url: '/read', headers: { cookie } })).json().userId, 'alice', 'the untouched record is used as it is')
  for (const [what, change] of [
    ['auth not an object', (r: SessionRecord) => ({ ...r, auth: 'x' })],
    ['current secrets not an array', (r: SessionRecord) => ({ ...r, auth: { ...r.auth, current: 'x' } })],
    ['data not an object', (r: SessionRecord) => ({ ...r, data: 7 })],
    ['version not a number', (r: SessionRecord) => ({ ...r, version: '1' })]
  ] as const) {
    store.change = change
    const res = await app.inject({ url: '/read', headers: { cookie } })
    t.equal(res.statusCode, 200, `${what}: no crash`)
    t.same(res.json(), { visits: 0, userId: null, isNew: true }, `${what}: a fresh session`)
  }
})
