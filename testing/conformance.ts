// The store contract's conformance suite: every rule written on SessionStore (types/index.ts), as
// framework-free cases. Each case makes its own store (its own prefix) and throws on failure.
import assert from 'node:assert/strict'
import type { SessionAuth, SessionRecord, SessionStore } from '../types/index.js'
import { dataSize, entrySize } from '../stores/kit/record.js'

export interface ConformanceOptions {
  /** makes a store; stores made with different prefixes (or locations) must not see each other */
  create: (options: { prefix: string }) => Promise<SessionStore>
  /** expiry resolution of the backend in ms (memcached: 1000) */
  granularityMs?: number
  /** the store lists sessions by owner (listByOwner/destroyByOwner/stats); default true */
  ownerIndex?: boolean
  /** the store needs prune() (no native expiry) */
  prune?: boolean
  /**
   * ways this backend lets a stored record go corrupt, each spoiling the record of `id` in a store made
   * with `prefix` so that get() reads it as missing (Redis: a string where the hash is; SQL: JSON that
   * does not parse). Owner scans are checked to skip it and finish the rest.
   */
  corruptions?: Record<string, (target: { prefix: string, id: string }) => Promise<void>>
}

/** One named check; run it from any test runner (`test(c.name, c.run)`). */
export interface TestCase { name: string, run: () => Promise<void> }

let counter = 0
const uniqueId = (): string => `c${process.pid}x${Date.now().toString(36)}x${(counter++).toString(36)}`

/** compares as JSON-with-Dates values: prototypes (a prototype-free data object) do not matter */
export function same (actual: unknown, expected: unknown, message?: string): void {
  assert.deepStrictEqual(structuredClone(actual), structuredClone(expected), message)
}

const auth = (current = 'h-current'): SessionAuth => ({ current: [current], replaced: [['h-old', Date.now() + 30_000]], rotateAt: Date.now() + 240_000 })

export function record (data: Record<string, unknown>, overrides: Partial<SessionRecord> = {}): SessionRecord {
  const now = Date.now()
  return { data, createdAt: now, expiresAt: now + 600_000, version: 0, auth: auth(), meta: { ip: '127.0.0.1', userAgent: 'conformance' }, ...overrides }
}

export function storeConformance (options: ConformanceOptions): TestCase[] {
  const granularity = options.granularityMs ?? 1
  const cases: TestCase[] = []
  const near = (actual: number | null | undefined, expected: number, what: string): void => {
    assert.ok(typeof actual === 'number' && Math.abs(actual - expected) <= granularity, `${what}: ${String(actual)} ≈ ${expected}`)
  }
  /** a case with its own store, closed afterwards */
  const check = (name: string, body: (store: SessionStore) => Promise<void>): void => {
    cases.push({
      name,
      run: async () => {
        const store = await options.create({ prefix: `${uniqueId()}:` })
        try {
          await body(store)
        } finally {
          await store.close?.()
        }
      }
    })
  }

  check('round trip of nested, unicode, number and date data, version, auth and meta', async store => {
    const id = uniqueId()
    const data = {
      user: { id: 42, name: 'Zoë 山田 🍣', roles: ['admin', 'ops'], nested: { deep: [1, { x: null }] } },
      count: -1.5,
      big: Number.MAX_SAFE_INTEGER,
      flag: false,
      empty: '',
      when: new Date('2026-03-04T05:06:07.089Z'),
      dates: [new Date(0), new Date('+010000-01-01T00:00:00.000Z')]
    }
    const input = record(data, { version: 7, meta: { ip: '::1', userAgent: 'ua', lastAccessAt: 5, owner: 'o', absoluteExpiresAt: 12, idleTimeout: 60_000, authenticatedAt: 4, createdAtHr: 1764851234567.125 } })
    await store.set(id, input)
    const got = await store.get(id)
    same(got?.data, data)
    assert.ok(got?.data.when instanceof Date, 'a Date comes back as a Date')
    assert.ok((got?.data.dates as unknown[])[0] instanceof Date)
    assert.equal(got?.createdAt, input.createdAt)
    near(got?.expiresAt, input.expiresAt as number, 'expiresAt kept')
    assert.equal(got?.version, 7)
    same(got?.auth, input.auth)
    same(got?.meta, input.meta)
  })

  check('a session\'s own "no limit" (null idle and absolute timeouts) round-trips, set and patched', async store => {
    const id = uniqueId()
    await store.set(id, record({ a: 1 }, { meta: { absoluteExpiresAt: null, idleTimeout: null } }))
    same((await store.get(id))?.meta, { absoluteExpiresAt: null, idleTimeout: null })
    const other = uniqueId()
    await store.set(other, record({ a: 1 }, { meta: { absoluteExpiresAt: 12, idleTimeout: 60_000 } }))
    assert.equal(await store.patch(other, { set: {}, unset: [], meta: { absoluteExpiresAt: null, idleTimeout: null } }), 'ok')
    same((await store.get(other))?.meta, { absoluteExpiresAt: null, idleTimeout: null })
  })

  check('missing and expired are undefined; expiry is enforced on read', async store => {
    assert.equal(await store.get(uniqueId()), undefined)
    const id = uniqueId()
    await store.set(id, record({ a: 1 }, { expiresAt: Date.now() - 1000 }))
    assert.equal(await store.get(id), undefined)
  })

  check('expiresAt null never expires', async store => {
    const id = uniqueId()
    await store.set(id, record({ a: 1 }, { expiresAt: null }))
    assert.equal((await store.get(id))?.expiresAt, null)
  })

  check('a data key named __proto__ is an ordinary key', async store => {
    const id = uniqueId()
    const data = JSON.parse('{"__proto__": {"userId": "mallory"}, "a": 1}') as Record<string, unknown>
    await store.set(id, record(data))
    assert.equal(await store.patch(id, { set: JSON.parse('{"__proto__": {"role": "admin"}}'), unset: [] }), 'ok')
    const got = await store.get(id)
    assert.equal((got?.data as { userId?: unknown }).userId, undefined, 'not inherited')
    assert.equal((got?.data as { role?: unknown }).role, undefined, 'not inherited')
    assert.ok(Object.hasOwn(got?.data ?? {}, '__proto__'), 'kept as an own key')
  })

  check('every value the plugin accepts round-trips as it is: nested 64 deep, any character but NUL and lone surrogates, odd keys, a "$date" key beside others', async store => {
    // the plugin refuses at set() what some store could not carry (lib/json-value.ts); this is the rest
    let deep: unknown = 'bottom'
    for (let i = 1; i < 64; i++) deep = i % 2 === 0 ? { k: deep } : [deep]
    const text = '\u0001\u001f"\\/\b\f\n\r\t\u007f\u0080\u00ff\u2028\u2029\ufeff\uffff\ud83c\udf63 Zoë 山田 <>&\' %s'
    const data: Record<string, unknown> = {
      deep: { k: deep },
      text,
      'key with space': 1,
      'emoji 🍣 ünï 山田': { 'nested.dotted': 1, $dollar: 2, '': 3, 'a\u2028b': text },
      notADate: { $date: '2020-01-01T00:00:00.000Z', other: 1 },
      numbers: [0.1 + 0.2, 1e21, -1e-7, 5e-324, Number.MAX_VALUE, Number.MIN_SAFE_INTEGER, 0],
      empties: [{}, [], '', [[]], { a: {} }]
    }
    const id = uniqueId()
    await store.set(id, record(data))
    same((await store.get(id))?.data, data, 'set')
    const patched = uniqueId()
    await store.set(patched, record({}))
    assert.equal(await store.patch(patched, { set: data, unset: [] }), 'ok')
    same((await store.get(patched))?.data, data, 'patched')
  })

  check('set overwrites the whole record', async store => {
    const id = uniqueId()
    await store.set(id, record({ a: 1, b: 2 }))
    await store.set(id, record({ c: 3 }, { meta: { owner: 'x' }, version: 3 }))
    const got = await store.get(id)
    same(got?.data, { c: 3 })
    same(got?.meta, { owner: 'x' })
    assert.equal(got?.version, 3)
  })

  check('destroy removes, says whether a live session was there, and is idempotent', async store => {
    const id = uniqueId()
    await store.set(id, record({ a: 1 }))
    assert.equal(await store.destroy(id), true)
    assert.equal(await store.get(id), undefined)
    assert.equal(await store.destroy(id), false)
    assert.equal(await store.destroy(uniqueId()), false)
  })

  check('touch extends the expiry, or removes it with null; false for a missing session', async store => {
    const id = uniqueId()
    await store.set(id, record({ a: 1 }, { expiresAt: Date.now() + 5000 }))
    const later = Date.now() + 3_600_000
    assert.equal(await store.touch(id, later), true)
    const got = await store.get(id)
    near(got?.expiresAt, later, 'extended')
    same(got?.data, { a: 1 }, 'data untouched')
    assert.equal(got?.version, 0, 'version untouched')
    assert.equal(await store.touch(id, null), true)
    assert.equal((await store.get(id))?.expiresAt, null)
    assert.equal(await store.touch(uniqueId(), later), false)
    const expired = uniqueId()
    await store.set(expired, record({ a: 1 }, { expiresAt: Date.now() - 1000 }))
    assert.equal(await store.touch(expired, later), false, 'an expired session is not revived')
    assert.equal(await store.get(expired), undefined)
  })

  check('records handed out and taken in are copies, not references', async store => {
    const id = uniqueId()
    const input = record({ list: [1], obj: { a: 1 }, when: new Date(0) })
    await store.set(id, input)
    ;(input.data.list as number[]).push(2)
    input.meta.owner = 'changed'
    input.auth.current.push('changed')
    const first = await store.get(id)
    same(first?.data.list, [1])
    assert.equal(first?.meta.owner, undefined)
    same(first?.auth.current, ['h-current'])
    ;(first?.data.obj as Record<string, number>).a = 99
    ;(first?.data.when as Date).setTime(99)
    if (first !== undefined) { first.meta.ip = 'changed'; first.auth.current[0] = 'changed' }
    const second = await store.get(id)
    same(second?.data.obj, { a: 1 })
    assert.equal((second?.data.when as Date).getTime(), 0)
    assert.equal(second?.meta.ip, '127.0.0.1')
    same(second?.auth.current, ['h-current'])
  })

  check('patch merges per key, unsets, merges meta, sets the expiry and adds 1 to the version', async store => {
    const id = uniqueId()
    await store.set(id, record({ a: 1, b: { x: 1 }, c: 'gone soon' }, { version: 4, meta: { ip: '1.1.1.1', owner: 'o1', lastAccessIp: '2.2.2.2' } }))
    const expiresAt = Date.now() + 1_800_000
    assert.equal(await store.patch(id, { set: { b: { y: 2 }, d: new Date(5) }, unset: ['c'], expiresAt, meta: { lastAccessAt: 7, lastAccessIp: undefined } }), 'ok')
    const got = await store.get(id)
    same(got?.data, { a: 1, b: { y: 2 }, d: new Date(5) })
    assert.ok(got?.data.d instanceof Date)
    same(got?.meta, { ip: '1.1.1.1', owner: 'o1', lastAccessAt: 7 }, 'a meta field set to undefined is removed')
    near(got?.expiresAt, expiresAt, 'expiry set')
    assert.equal(got?.version, 5)
    same(got?.auth, (await store.get(id))?.auth, 'auth untouched')
  })

  check('patch without expiresAt keeps the expiry', async store => {
    const id = uniqueId()
    const input = record({ a: 1 })
    await store.set(id, input)
    assert.equal(await store.patch(id, { set: { a: 2 }, unset: [] }), 'ok')
    near((await store.get(id))?.expiresAt, input.expiresAt as number, 'expiry kept')
  })

  check("patch of a missing or expired session is 'missing' and creates nothing", async store => {
    const expiresAt = Date.now() + 600_000
    const missing = uniqueId()
    assert.equal(await store.patch(missing, { set: { a: 1 }, unset: [], expiresAt }), 'missing')
    assert.equal(await store.get(missing), undefined, 'a failed patch creates nothing')
    const expired = uniqueId()
    await store.set(expired, record({ a: 1 }, { expiresAt: Date.now() - 1000 }))
    assert.equal(await store.patch(expired, { set: { a: 2 }, unset: [], expiresAt }), 'missing', 'an expired session is not revived')
    assert.equal(await store.get(expired), undefined)
  })

  check("patch with ifVersion applies at that version only; otherwise 'conflict' and nothing written", async store => {
    const id = uniqueId()
    await store.set(id, record({ a: 1 }, { version: 2 }))
    assert.equal(await store.patch(id, { set: { a: 2 }, unset: [], ifVersion: 1 }), 'conflict')
    assert.equal(await store.patch(id, { set: { a: 3 }, unset: ['a'], ifVersion: 3, meta: { owner: 'x' } }), 'conflict')
    let got = await store.get(id)
    same(got?.data, { a: 1 }, 'nothing written')
    assert.equal(got?.version, 2)
    assert.equal(got?.meta.owner, undefined)
    assert.equal(await store.patch(id, { set: { a: 4 }, unset: [], ifVersion: 2 }), 'ok')
    got = await store.get(id)
    same(got?.data, { a: 4 })
    assert.equal(got?.version, 3)
    assert.equal(await store.patch(uniqueId(), { set: { a: 1 }, unset: [], ifVersion: 0 }), 'missing')
  })

  check("patch with maxBytes applies only when the merged data fits; otherwise 'too-large' and nothing written", async store => {
    const id = uniqueId()
    const data = { a: 'x'.repeat(10), when: new Date(0) }
    await store.set(id, record(data))
    const size = dataSize(data) // the contract's measure: key bytes + serialized value bytes
    assert.equal(await store.patch(id, { set: { b: 'é' }, unset: [], maxBytes: size + entrySize('b', 'é') - 1 }), 'too-large')
    assert.equal(await store.patch(id, { set: { a: 'y'.repeat(20) }, unset: ['when'], maxBytes: entrySize('a', 'y'.repeat(20)) - 1 }), 'too-large')
    let got = await store.get(id)
    same(got?.data, data, 'nothing written')
    assert.equal(got?.version, 0)
    assert.equal(await store.patch(id, { set: { b: 'é' }, unset: [], maxBytes: size + entrySize('b', 'é') }), 'ok', 'exactly at the limit')
    assert.equal(await store.patch(id, { set: { a: 'y'.repeat(20) }, unset: ['when', 'b'], maxBytes: entrySize('a', 'y'.repeat(20)) }), 'ok', 'replaced and removed keys count as they end up')
    got = await store.get(id)
    same(got?.data, { a: 'y'.repeat(20) })
    assert.equal(await store.patch(id, { set: { c: 1 }, unset: [], maxBytes: entrySize('a', 'y'.repeat(20)) + entrySize('c', 1) }), 'ok', 'the size follows earlier patches')
  })

  check('concurrent patches never together exceed maxBytes', async store => {
    const id = uniqueId()
    await store.set(id, record({}))
    const value = 'v'.repeat(98)
    const maxBytes = 5 * entrySize('k0', value)
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => store.patch(id, { set: { [`k${i}`]: value }, unset: [], maxBytes })))
    assert.equal(results.filter(r => r === 'ok').length, 5)
    assert.equal(results.filter(r => r === 'too-large').length, 5)
    const got = await store.get(id)
    assert.equal(dataSize(got?.data ?? {}), maxBytes)
  })

  check('50 concurrent patches of different keys on one id all survive', async store => {
    const id = uniqueId()
    await store.set(id, record({ base: true }))
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) =>
      store.patch(id, { set: { [`k${i}`]: i }, unset: [], meta: { lastAccessAt: i } })))
    assert.ok(results.every(r => r === 'ok'))
    const got = await store.get(id)
    const expected: Record<string, unknown> = { base: true }
    for (let i = 0; i < 50; i++) expected[`k${i}`] = i
    same(got?.data, expected)
    assert.equal(got?.version, 50)
  })

  check('of 10 concurrent patches at the same version exactly one applies', async store => {
    const id = uniqueId()
    await store.set(id, record({}))
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => store.patch(id, { set: { [`k${i}`]: i }, unset: [], ifVersion: 0 })))
    assert.equal(results.filter(r => r === 'ok').length, 1)
    assert.equal(results.filter(r => r === 'conflict').length, 9)
    const got = await store.get(id)
    assert.equal(Object.keys(got?.data ?? {}).length, 1)
    assert.equal(got?.version, 1)
  })

  check('rotate replaces auth only when current[0] matches; data, version and expiry untouched', async store => {
    const id = uniqueId()
    const input = record({ a: 1 }, { version: 3 })
    await store.set(id, input)
    const next: SessionAuth = { current: ['h-new', 'h-current'], replaced: [], rotateAt: Date.now() + 1000 }
    assert.equal(await store.rotate(id, 'h-wrong', next), false)
    same((await store.get(id))?.auth, input.auth, 'a mismatch writes nothing')
    assert.equal(await store.rotate(id, 'h-current', next), true)
    const got = await store.get(id)
    same(got?.auth, next)
    same(got?.data, { a: 1 })
    assert.equal(got?.version, 3)
    near(got?.expiresAt, input.expiresAt as number, 'expiry untouched')
    assert.equal(await store.rotate(id, 'h-current', { current: ['h-other'], replaced: [] }), false, 'the old current no longer matches')
    assert.equal(await store.rotate(uniqueId(), 'h-current', next), false, 'missing')
    const expired = uniqueId()
    await store.set(expired, record({}, { expiresAt: Date.now() - 1000 }))
    assert.equal(await store.rotate(expired, 'h-current', next), false, 'expired')
    assert.equal(await store.get(expired), undefined)
  })

  check('of 10 concurrent rotations from one auth exactly one wins', async store => {
    const id = uniqueId()
    await store.set(id, record({}))
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => store.rotate(id, 'h-current', { current: [`h-${i}`], replaced: [['h-current', Date.now() + 30_000]] })))
    assert.equal(results.filter(Boolean).length, 1)
    assert.equal((await store.get(id))?.auth.current[0], `h-${results.indexOf(true)}`)
  })

  // create is optional (the legacy import needs it): these cases pass for a store without it
  check('create writes only when no live record has the id; an expired one is replaced, a destroyed one may be created again', async store => {
    if (store.create === undefined) return
    const id = uniqueId()
    const first = record({ a: 1 }, { meta: { owner: 'first' } })
    assert.equal(await store.create(id, first), true, 'absent: created')
    assert.equal(await store.create(id, record({ b: 2 }, { version: 5, auth: auth('h-other') })), false, 'live: refused')
    const got = await store.get(id)
    same(got?.data, { a: 1 }, 'and the live record is unchanged')
    assert.equal(got?.version, 0)
    same(got?.auth, first.auth)
    same(got?.meta, first.meta)
    const expired = uniqueId()
    await store.set(expired, record({ old: true }, { expiresAt: Date.now() - 1000, meta: { owner: 'gone' } }))
    assert.equal(await store.create(expired, record({ fresh: true })), true, 'expired: replaced')
    same((await store.get(expired))?.data, { fresh: true })
    same((await store.get(expired))?.meta, record({}).meta, 'with nothing of the expired record')
    await store.destroy(id)
    assert.equal(await store.create(id, record({ again: 1 })), true, 'destroyed: created again')
    same((await store.get(id))?.data, { again: 1 })
  })

  check('of 10 concurrent creates of one id exactly one writes, and its record is the one stored', async store => {
    if (store.create === undefined) return
    const id = uniqueId()
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => store.create!(id, record({ i }, { auth: auth(`h-${i}`) }))))
    assert.equal(results.filter(Boolean).length, 1)
    const winner = results.indexOf(true)
    same((await store.get(id))?.data, { i: winner })
    assert.equal((await store.get(id))?.auth.current[0], `h-${winner}`)
  })

  check('after destroy nothing brings the session back: patch, rotate and touch write nothing', async store => {
    const id = uniqueId()
    await store.set(id, record({ a: 1 }))
    const expiresAt = Date.now() + 600_000
    const [patched, rotated, touched, destroyed] = await Promise.all([
      store.destroy(id).then(() => store.patch(id, { set: { a: 2 }, unset: [], expiresAt })),
      store.destroy(id).then(() => store.rotate(id, 'h-current', { current: ['h-x'], replaced: [] })),
      store.destroy(id).then(() => store.touch(id, expiresAt)),
      store.get(id)
    ])
    assert.equal(patched, 'missing')
    assert.equal(rotated, false)
    assert.equal(touched, false)
    assert.ok(destroyed === undefined || destroyed.data.a === 1)
    assert.equal(await store.get(id), undefined)
  })

  if (options.prune === true) {
    check('prune removes exactly the expired sessions, reporting progress', async store => {
      const live = [uniqueId(), uniqueId()]
      const dead = [uniqueId(), uniqueId(), uniqueId()]
      for (const id of live) await store.set(id, record({ live: true }))
      await store.set(uniqueId(), record({ forever: true }, { expiresAt: null }))
      for (const id of dead) await store.set(id, record({ live: false }, { expiresAt: Date.now() - 1 }))
      const progress: Array<[number, number]> = []
      assert.equal(await store.prune!({ onProgress: (done, total) => progress.push([done, total]) }), 3)
      for (const id of live) assert.ok(await store.get(id))
      assert.ok(progress.length > 0, 'progress is reported')
      assert.ok(progress.every(([done, total], i) => done <= total && (i === 0 || done >= progress[i - 1][0])), 'progress only moves forward')
      const [done, total] = progress[progress.length - 1]
      assert.ok(done === total && total >= 3, `the last report is complete (${done}/${total})`)
      assert.equal(await store.prune!(), 0, 'nothing left to prune')
    })

    check('prune names what it removed (onExpired): each expired session exactly once, with its owner, across concurrent prunes', async store => {
      const long = `owner-${'x'.repeat(300)}` // longer than an SQL owner column: stored hashed, reported whole
      const live = uniqueId()
      await store.set(live, record({}, { meta: { owner: 'ann' } }))
      const dead: Record<string, string | undefined> = { [uniqueId()]: 'ann', [uniqueId()]: undefined, [uniqueId()]: long }
      for (const [id, owner] of Object.entries(dead)) {
        await store.set(id, record({}, { expiresAt: Date.now() - 1, meta: owner === undefined ? {} : { owner } }))
      }
      const reported: Array<{ id: string, owner?: string }> = []
      const onExpired = (sessions: Array<{ id: string, owner?: string }>): void => { reported.push(...sessions) }
      const counts = await Promise.all([store.prune!({ onExpired }), store.prune!({ onExpired })])
      assert.equal(counts[0] + counts[1], 3, 'the two prunes removed the three expired sessions between them')
      const byId = new Map(reported.map(s => [s.id, s.owner]))
      assert.equal(reported.length, 3, `each removed session reported once: ${JSON.stringify(reported.map(s => s.id))}`)
      same([...byId.keys()].sort(), Object.keys(dead).sort())
      for (const [id, owner] of Object.entries(dead)) assert.equal(byId.get(id), owner, `owner of ${id}`)
      assert.ok(await store.get(live))
    })
  } else {
    check('prune, where present, never removes live sessions', async store => {
      const id = uniqueId()
      await store.set(id, record({ live: true }))
      if (typeof store.prune === 'function') await store.prune()
      assert.ok(await store.get(id))
    })
  }

  if (options.ownerIndex !== false) {
    check('stats: live sessions and their owners; expired ones do not count', async store => {
      for (let i = 0; i < 3; i++) await store.set(uniqueId(), record({ a: i }, { meta: { owner: 'ann' } }))
      await store.set(uniqueId(), record({}, { meta: { owner: 'bob' } }))
      await store.set(uniqueId(), record({}, { expiresAt: null }))
      await store.set(uniqueId(), record({}, { meta: { owner: 'ann' }, expiresAt: Date.now() - 1000 }))
      same(await store.stats!(), { sessions: 5, owners: { ann: 3, bob: 1 } })
    })

    check('owner listing and destroyByOwner (with except)', async store => {
      const owner = `owner-${uniqueId()}`
      const ids = [uniqueId(), uniqueId(), uniqueId()]
      for (const id of ids) await store.set(id, record({ a: 1 }, { meta: { owner } }))
      const other = uniqueId()
      await store.set(other, record({ a: 1 }, { meta: { owner: `${owner}-other` } }))
      const expired = uniqueId()
      await store.set(expired, record({ a: 1 }, { meta: { owner }, expiresAt: Date.now() - 1000 }))
      same((await store.listByOwner!(owner)).sort(), [...ids].sort(), 'expired sessions are not listed')
      assert.equal(await store.destroyByOwner!(owner, ids[0]), 2)
      same(await store.listByOwner!(owner), [ids[0]])
      assert.equal(await store.get(ids[1]), undefined)
      assert.ok(await store.get(other), 'another owner is untouched')
      same(await store.listByOwner!(`nobody-${uniqueId()}`), [])
    })

    check('an owner of 1,000 characters (e.g. a URL or an email list) is indexed, listed and revoked', async store => {
      const owner = `long-${uniqueId()}-${'x'.repeat(1000)}`
      const [id, kept] = [uniqueId(), uniqueId()]
      await store.set(id, record({ a: 1 }, { meta: { owner } }))
      await store.set(kept, record({ a: 1 }, { meta: { owner: owner + 'y' } }))
      assert.equal(await store.patch(id, { set: { a: 2 }, unset: [], meta: { owner } }), 'ok')
      same(await store.listByOwner!(owner), [id])
      assert.equal((await store.stats!()).owners?.[owner], 1)
      assert.equal(await store.destroyByOwner!(owner), 1)
      assert.equal(await store.get(id), undefined)
      assert.ok(await store.get(kept), 'an owner sharing the first 1,000 characters is another owner')
    })

    for (const [how, corrupt] of Object.entries(options.corruptions ?? {})) {
      cases.push({
        name: `a corrupt record among an owner's sessions (${how}) reads as missing, is reported once, and owner scans finish the rest`,
        run: async () => {
          const prefix = `${uniqueId()}:`
          const store = await options.create({ prefix })
          const warnings: string[] = []
          const onWarning = (w: Error & { code?: string }): void => { if (w.code === 'FST_SESSION_CORRUPT_RECORD') warnings.push(w.message) }
          process.on('warning', onWarning)
          try {
            // longer than an SQL owner column: indexed by its hash, read back from meta
            const owner = `owner-${uniqueId()}-${'x'.repeat(300)}`
            const ids = [uniqueId(), uniqueId(), uniqueId()]
            const [bad, ...good] = ids
            for (const id of ids) await store.set(id, record({ a: 1 }, { meta: { owner } }))
            await corrupt({ prefix, id: bad })
            assert.equal(await store.get(bad), undefined, 'the corrupt record reads as missing')
            // a store that lists without decoding (SQL) may name the corrupt one too; none may throw
            same((await store.listByOwner!(owner)).filter(id => id !== bad).sort(), [...good].sort(), 'every readable session is listed')
            const stats = await store.stats!()
            assert.ok(stats.sessions === 2 || stats.sessions === 3, `stats counts the readable sessions (${stats.sessions})`)
            assert.ok(stats.owners?.[owner] === 2 || stats.owners?.[owner] === 3, 'under their owner')
            const removed = await store.destroyByOwner!(owner)
            assert.ok(removed === 2 || removed === 3, `destroyByOwner removed the readable sessions (${removed})`)
            for (const id of good) assert.equal(await store.get(id), undefined, 'revoked')
            same((await store.listByOwner!(owner)).filter(id => id !== bad), [])
            await new Promise(resolve => setImmediate(resolve))
            assert.equal(warnings.length, 1, `reported once: ${JSON.stringify(warnings)}`)
          } finally {
            process.off('warning', onWarning)
            await store.close?.()
          }
        }
      })
    }

    check('the owner index follows create', async store => {
      if (store.create === undefined) return
      const owner = `owner-${uniqueId()}`
      const id = uniqueId()
      assert.equal(await store.create(id, record({ a: 1 }, { meta: { owner } })), true)
      assert.equal(await store.create(id, record({ a: 2 }, { meta: { owner: `${owner}-not` } })), false)
      same(await store.listByOwner!(owner), [id])
      same(await store.listByOwner!(`${owner}-not`), [], 'a refused create indexes nothing')
      assert.equal(await store.destroyByOwner!(owner), 1)
    })

    check('the owner index follows set, patch and destroy', async store => {
      const owner = `owner-${uniqueId()}`
      const id = uniqueId()
      await store.set(id, record({ a: 1 }, { meta: { owner } }))
      await store.patch(id, { set: {}, unset: [], expiresAt: Date.now() + 600_000, meta: { owner: `${owner}-new` } })
      same(await store.listByOwner!(owner), [])
      same(await store.listByOwner!(`${owner}-new`), [id])
      await store.destroy(id)
      same(await store.listByOwner!(`${owner}-new`), [])
    })
  }

  cases.push({
    name: 'stores with different prefixes do not see each other',
    run: async () => {
      const a = await options.create({ prefix: `a-${uniqueId()}:` })
      const b = await options.create({ prefix: `b-${uniqueId()}:` })
      try {
        const id = uniqueId()
        await a.set(id, record({ from: 'a' }))
        assert.equal(await b.get(id), undefined)
        await b.set(id, record({ from: 'b' }))
        same((await a.get(id))?.data, { from: 'a' })
        await b.destroy(id)
        same((await a.get(id))?.data, { from: 'a' })
      } finally {
        await a.close?.()
        await b.close?.()
      }
    }
  })
  // A prefix is a namespace, not a match: a store whose prefix starts another's (or is '') must not list,
  // count, prune or revoke the other's sessions. (A key is still prefix + id: 'app' with id '2x' and
  // 'app2' with id 'x' name one record, which random ids never do.) The prefixes are fixed, so runs on
  // a server kept between runs may have left sessions under them: counts are compared before and after.
  for (const [short, long] of [['app', 'app2'], ['', 'x']]) {
    cases.push({
      name: `stores with prefixes '${short}' and '${long}' on one backend each list, count, prune and revoke only their own sessions`,
      run: async () => {
        const a = await options.create({ prefix: short })
        const b = await options.create({ prefix: long })
        try {
          const owner = `owner-${uniqueId()}`
          const [mineA, mineB] = [[uniqueId(), uniqueId()], [uniqueId(), uniqueId(), uniqueId()]]
          const before = options.ownerIndex === false ? undefined : [await a.stats!(), await b.stats!()]
          for (const id of mineA) await a.set(id, record({ from: 'a' }, { meta: { owner } }))
          for (const id of mineB) await b.set(id, record({ from: 'b' }, { meta: { owner } }))
          if (before !== undefined) {
            same((await a.listByOwner!(owner)).sort(), [...mineA].sort(), `'${short}' lists only its own`)
            same((await b.listByOwner!(owner)).sort(), [...mineB].sort(), `'${long}' lists only its own`)
            const [statsA, statsB] = [await a.stats!(), await b.stats!()]
            assert.equal(statsA.sessions - before[0].sessions, mineA.length, `'${short}' counts only its own`)
            assert.equal(statsA.owners?.[owner], mineA.length)
            assert.equal(statsB.sessions - before[1].sessions, mineB.length, `'${long}' counts only its own`)
            assert.equal(statsB.owners?.[owner], mineB.length)
          }
          if (typeof a.prune === 'function' && typeof b.prune === 'function') {
            const [deadA, deadB] = [uniqueId(), uniqueId()]
            await a.set(deadA, record({}, { expiresAt: Date.now() - 1000 }))
            await b.set(deadB, record({}, { expiresAt: Date.now() - 1000 }))
            const prunedA: string[] = []
            await a.prune({ onExpired: sessions => { prunedA.push(...sessions.map(s => s.id)) } })
            assert.ok(prunedA.includes(deadA), `'${short}' prunes its own expired session`)
            assert.ok(!prunedA.some(id => id.endsWith(deadB)), `'${short}' leaves '${long}''s expired session alone`)
            const prunedB: string[] = []
            await b.prune({ onExpired: sessions => { prunedB.push(...sessions.map(s => s.id)) } })
            assert.ok(prunedB.includes(deadB), `'${long}' still finds its own expired session to prune`)
          }
          if (before !== undefined) {
            assert.equal(await a.destroyByOwner!(owner), mineA.length, `'${short}' revokes only its own`)
            for (const id of mineB) same((await b.get(id))?.data, { from: 'b' }, `'${long}''s sessions survive '${short}''s revoke`)
            same((await b.listByOwner!(owner)).sort(), [...mineB].sort())
            assert.equal(await b.destroyByOwner!(owner), mineB.length)
          }
          for (const id of mineB) await b.destroy(id)
          for (const id of mineA) await a.destroy(id)
        } finally {
          await a.close?.()
          await b.close?.()
        }
      }
    })
  }
  return cases
}
