// Whatever a store hands back (corrupt rows, other apps' data, half migrations, changed copies) is checked
// before it is used: a fresh session or a clear FST_ code, never a crash, never unvalidated data.
import t from 'tap'
import fc from 'fast-check'
import { buildApp, sessionCookie } from './helpers/app.js'
import type { SessionRecord, SessionStore } from '../types/index.js'
import { MemoryStore } from '../lib/index.js'

if (process.env.FZS_FUZZ_RUNS !== undefined) t.setTimeout(900_000)

// FZS_FUZZ_RUNS raises the counts (npm run test:stress sets it).
const RUNS = Number(process.env.FZS_FUZZ_RUNS ?? 3000)

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
