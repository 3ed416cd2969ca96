import assert from 'node:assert/strict'
import { dataSize, entrySize } from '../../stores/kit/record.js'
import { uniqueId, same, record, type Suite } from './kit.js'

/** patch: per-key merge, the version, ifVersion, unlessWrittenAfter, maxBytes, and concurrent patches */
export function patchCases ({ check, near }: Suite): void {
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

  check("patch with unlessWrittenAfter applies only when the record's meta.lastAccessAt is at most it; otherwise 'conflict' and nothing written", async store => {
    const id = uniqueId()
    const written = Date.now()
    await store.set(id, record({ a: 1 }, { version: 2, meta: { lastAccessAt: written, owner: 'o1' } }))
    assert.equal(await store.patch(id, { set: { a: 2 }, unset: ['a'], unlessWrittenAfter: written - 1, meta: { lastAccessAt: written - 3000, owner: 'o2' }, expiresAt: Date.now() + 5000 }), 'conflict', 'a write made after the bound: the late patch writes nothing')
    let got = await store.get(id)
    same(got?.data, { a: 1 }, 'nothing written')
    assert.equal(got?.version, 2)
    same(got?.meta, { lastAccessAt: written, owner: 'o1' }, 'meta untouched')
    assert.equal(await store.patch(id, { set: { a: 3 }, unset: [], unlessWrittenAfter: written, meta: { lastAccessAt: written + 1 } }), 'ok', 'a write made at the bound is not after it')
    got = await store.get(id)
    same(got?.data, { a: 3 })
    assert.equal(got?.version, 3)
    assert.equal(await store.patch(id, { set: { a: 4 }, unset: [], unlessWrittenAfter: written, ifVersion: 3 }), 'conflict', 'both conditions hold: the fence fails')
    assert.equal(await store.patch(id, { set: { a: 4 }, unset: [], unlessWrittenAfter: written + 1, ifVersion: 2 }), 'conflict', 'both conditions hold: the version fails')
    const bare = uniqueId()
    await store.set(bare, record({ a: 1 }))
    assert.equal(await store.patch(bare, { set: { a: 2 }, unset: [], unlessWrittenAfter: 0 }), 'ok', 'a record with no lastAccessAt passes')
    same((await store.get(bare))?.data, { a: 2 })
    assert.equal(await store.patch(uniqueId(), { set: { a: 1 }, unset: [], unlessWrittenAfter: written }), 'missing', 'no record: missing, not conflict')
  })

  check('a meta.lastAccessAt that is not a number (a corrupt or foreign record) never fences a patch out', async store => {
    for (const lastAccessAt of ['99999999999999', null, { at: 1 }, true]) {
      const id = uniqueId()
      await store.set(id, record({ a: 1 }, { meta: { lastAccessAt: lastAccessAt as unknown as number } }))
      assert.equal(await store.patch(id, { set: { a: 2 }, unset: [], unlessWrittenAfter: 0, meta: { lastAccessAt: 5 } }), 'ok', `lastAccessAt ${JSON.stringify(lastAccessAt)}`)
      const got = await store.get(id)
      same(got?.data, { a: 2 })
      assert.equal(got?.meta.lastAccessAt, 5, 'the patch wrote a number over it')
    }
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
}
