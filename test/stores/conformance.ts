// ONE suite for every store, run on its real backend. Backend limits are options, never forked tests.
import type { Test } from 'tap'
import type { SessionRecord, SessionStore } from '../../types/index.js'

export interface ConformanceOptions {
  /** makes a store; stores made with different prefixes (or locations) must not see each other */
  create: (options: { prefix: string }) => Promise<SessionStore>
  /** expiry resolution of the backend in ms (memcached: 1000) */
  granularityMs?: number
  /** the store lists sessions by owner (listByOwner/destroyByOwner) */
  ownerIndex?: boolean
  /** the store needs prune() (no native expiry) */
  prune?: boolean
}

let counter = 0
const uniqueId = (): string => `conf-${process.pid}-${Date.now().toString(36)}-${(counter++).toString(36)}`

function record (data: Record<string, unknown>, overrides: Partial<SessionRecord> = {}): SessionRecord {
  const now = Date.now()
  return { data, createdAt: now, expiresAt: now + 600_000, meta: { ip: '127.0.0.1', userAgent: 'conformance' }, ...overrides }
}

export function conformance (t: Test, options: ConformanceOptions): void {
  const granularity = options.granularityMs ?? 1
  let store: SessionStore
  t.before(async () => { store = await options.create({ prefix: 'conf:' }) })
  t.teardown(async () => { await store.close?.() })

  t.test('round trip of nested, unicode, number and date data', async t => {
    const id = uniqueId()
    const data = {
      user: { id: 42, name: 'Zoë 山田 🍣', roles: ['admin', 'ops'], nested: { deep: [1, { x: null }] } },
      count: -1.5,
      big: Number.MAX_SAFE_INTEGER,
      flag: false,
      empty: '',
      when: new Date('2026-03-04T05:06:07.089Z'),
      dates: [new Date(0)]
    }
    const input = record(data, { meta: { ip: '::1', userAgent: 'ua', lastAccessAt: 5, owner: 'o', rotateAt: 9, absoluteExpiresAt: 12 } })
    await store.set(id, input)
    const got = await store.get(id)
    t.same(got?.data, data)
    t.ok(got?.data.when instanceof Date, 'a Date comes back as a Date')
    t.ok((got?.data.dates as unknown[])[0] instanceof Date)
    t.equal(got?.createdAt, input.createdAt)
    t.ok(Math.abs((got?.expiresAt ?? 0) - (input.expiresAt as number)) <= granularity, 'expiresAt kept')
    t.same(got?.meta, input.meta)
  })

  t.test('missing and expired are undefined; expiry is enforced on read', async t => {
    t.equal(await store.get(uniqueId()), undefined)
    const id = uniqueId()
    await store.set(id, record({ a: 1 }, { expiresAt: Date.now() - 1000 }))
    t.equal(await store.get(id), undefined)
  })

  t.test('expiresAt null never expires', async t => {
    const id = uniqueId()
    await store.set(id, record({ a: 1 }, { expiresAt: null }))
    t.equal((await store.get(id))?.expiresAt, null)
  })

  t.test('set overwrites the whole record', async t => {
    const id = uniqueId()
    await store.set(id, record({ a: 1, b: 2 }))
    await store.set(id, record({ c: 3 }, { meta: { owner: 'x' } }))
    const got = await store.get(id)
    t.same(got?.data, { c: 3 })
    t.same(got?.meta, { owner: 'x' })
  })

  t.test('destroy removes and is idempotent', async t => {
    const id = uniqueId()
    await store.set(id, record({ a: 1 }))
    await store.destroy(id)
    t.equal(await store.get(id), undefined)
    await store.destroy(id)
    await store.destroy(uniqueId())
    t.pass('destroying twice and destroying nothing do not throw')
  })

  t.test('touch extends the expiry, or removes it with null', async t => {
    const id = uniqueId()
    await store.set(id, record({ a: 1 }, { expiresAt: Date.now() + 5000 }))
    const later = Date.now() + 3_600_000
    await store.touch(id, later)
    const got = await store.get(id)
    t.ok(Math.abs((got?.expiresAt ?? 0) - later) <= granularity)
    t.same(got?.data, { a: 1 }, 'data untouched')
    await store.touch(id, null)
    t.equal((await store.get(id))?.expiresAt, null)
    await store.touch(uniqueId(), later)
    t.pass('touching a missing id does not throw')
  })

  t.test('records handed out and taken in are copies, not references', async t => {
    const id = uniqueId()
    const input = record({ list: [1], obj: { a: 1 } })
    await store.set(id, input)
    ;(input.data.list as number[]).push(2)
    input.meta.owner = 'changed'
    const first = await store.get(id)
    t.same(first?.data.list, [1])
    t.equal(first?.meta.owner, undefined)
    ;(first?.data.obj as Record<string, number>).a = 99
    if (first !== undefined) first.meta.ip = 'changed'
    const second = await store.get(id)
    t.same(second?.data.obj, { a: 1 })
    t.equal(second?.meta.ip, '127.0.0.1')
  })

  t.test('patch merges per key, unsets, updates meta and expiry; false when missing', async t => {
    const id = uniqueId()
    await store.set(id, record({ a: 1, b: { x: 1 }, c: 'gone soon' }, { meta: { ip: '1.1.1.1', owner: 'o1' } }))
    const expiresAt = Date.now() + 1_800_000
    t.equal(await store.patch(id, { set: { b: { y: 2 }, d: new Date(5) }, unset: ['c'], expiresAt, meta: { lastAccessAt: 7 } }), true)
    const got = await store.get(id)
    t.same(got?.data, { a: 1, b: { y: 2 }, d: new Date(5) })
    t.ok(got?.data.d instanceof Date)
    t.same(got?.meta, { ip: '1.1.1.1', owner: 'o1', lastAccessAt: 7 })
    t.ok(Math.abs((got?.expiresAt ?? 0) - expiresAt) <= granularity)
    t.equal(await store.patch(uniqueId(), { set: { a: 1 }, unset: [], expiresAt }), false)
    t.equal(await store.get(uniqueId()), undefined, 'a failed patch creates nothing')
    const expired = uniqueId()
    await store.set(expired, record({ a: 1 }, { expiresAt: Date.now() - 1000 }))
    t.equal(await store.patch(expired, { set: { a: 2 }, unset: [], expiresAt }), false, 'an expired session is not revived')
  })

  t.test('50 concurrent patches of different keys on one id all survive', async t => {
    const id = uniqueId()
    await store.set(id, record({ base: true }))
    const expiresAt = Date.now() + 600_000
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) =>
      store.patch(id, { set: { [`k${i}`]: i }, unset: [], expiresAt, meta: { lastAccessAt: i } })))
    t.ok(results.every(Boolean))
    const got = await store.get(id)
    const expected: Record<string, unknown> = { base: true }
    for (let i = 0; i < 50; i++) expected[`k${i}`] = i
    t.same(got?.data, expected)
  })

  if (options.prune === true) {
    t.test('prune removes exactly the expired sessions', async t => {
      const pruneStore = await options.create({ prefix: `prune-${uniqueId()}:` })
      t.teardown(async () => { await pruneStore.close?.() })
      const live = [uniqueId(), uniqueId()]
      const dead = [uniqueId(), uniqueId(), uniqueId()]
      for (const id of live) await pruneStore.set(id, record({ live: true }))
      await pruneStore.set(uniqueId(), record({ forever: true }, { expiresAt: null }))
      for (const id of dead) await pruneStore.set(id, record({ live: false }, { expiresAt: Date.now() - 1 }))
      const progress: Array<[number, number]> = []
      t.equal(await pruneStore.prune!({ onProgress: (done, total) => progress.push([done, total]) }), 3)
      for (const id of live) t.ok(await pruneStore.get(id))
      t.ok(progress.length > 0, 'progress is reported')
      t.ok(progress.every(([done, total], i) => done <= total && (i === 0 || done >= progress[i - 1][0])), 'progress only moves forward')
      const [done, total] = progress[progress.length - 1]
      t.ok(done === total && total >= 3, `the last report is complete (${done}/${total})`)
      t.equal(await pruneStore.prune!(), 0, 'nothing left to prune')
    })
  } else {
    t.test('prune, where present, never removes live sessions', async t => {
      const id = uniqueId()
      await store.set(id, record({ live: true }))
      if (typeof store.prune === 'function') await store.prune()
      t.ok(await store.get(id))
    })
  }

  if (options.ownerIndex !== false) {
    t.test('stats: live sessions and their owners; expired ones and rotation pointers do not count', async t => {
      const statsStore = await options.create({ prefix: `stats-${uniqueId()}:` })
      t.teardown(async () => { await statsStore.close?.() })
      for (let i = 0; i < 3; i++) await statsStore.set(uniqueId(), record({ a: i }, { meta: { owner: 'ann' } }))
      await statsStore.set(uniqueId(), record({}, { meta: { owner: 'bob' } }))
      await statsStore.set(uniqueId(), record({}, { expiresAt: null }))
      await statsStore.set(uniqueId(), record({}, { meta: { owner: 'ann' }, expiresAt: Date.now() - 1000 }))
      await statsStore.set(uniqueId(), record({}, { meta: { rotatedTo: 'elsewhere' }, expiresAt: Date.now() + 30_000 }))
      t.same(await statsStore.stats!(), { sessions: 5, owners: { ann: 3, bob: 1 } })
    })

    t.test('owner listing and destroyByOwner (with except)', async t => {
      const owner = `owner-${uniqueId()}`
      const ids = [uniqueId(), uniqueId(), uniqueId()]
      for (const id of ids) await store.set(id, record({ a: 1 }, { meta: { owner } }))
      const other = uniqueId()
      await store.set(other, record({ a: 1 }, { meta: { owner: `${owner}-other` } }))
      const expired = uniqueId()
      await store.set(expired, record({ a: 1 }, { meta: { owner }, expiresAt: Date.now() - 1000 }))
      t.same((await store.listByOwner!(owner)).sort(), [...ids].sort(), 'expired sessions are not listed')
      t.equal(await store.destroyByOwner!(owner, ids[0]), 2)
      t.same(await store.listByOwner!(owner), [ids[0]])
      t.equal(await store.get(ids[1]), undefined)
      t.ok(await store.get(other), 'another owner is untouched')
      t.same(await store.listByOwner!(`nobody-${uniqueId()}`), [])
    })

    t.test('the owner index follows set, patch and destroy', async t => {
      const owner = `owner-${uniqueId()}`
      const id = uniqueId()
      await store.set(id, record({ a: 1 }, { meta: { owner } }))
      await store.patch(id, { set: {}, unset: [], expiresAt: Date.now() + 600_000, meta: { owner: `${owner}-new` } })
      t.same(await store.listByOwner!(owner), [])
      t.same(await store.listByOwner!(`${owner}-new`), [id])
      await store.destroy(id)
      t.same(await store.listByOwner!(`${owner}-new`), [])
    })
  }

  t.test('stores with different prefixes do not see each other', async t => {
    const a = await options.create({ prefix: `a-${uniqueId()}:` })
    const b = await options.create({ prefix: `b-${uniqueId()}:` })
    t.teardown(async () => { await a.close?.(); await b.close?.() })
    const id = uniqueId()
    await a.set(id, record({ from: 'a' }))
    t.equal(await b.get(id), undefined)
    await b.set(id, record({ from: 'b' }))
    t.same((await a.get(id))?.data, { from: 'a' })
    await b.destroy(id)
    t.same((await a.get(id))?.data, { from: 'a' })
  })
}
