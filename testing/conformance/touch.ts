import assert from 'node:assert/strict'
import { uniqueId, same, record, type Suite } from './kit.js'

/** touch: moves or removes the expiry of a live record, never revives an expired one */
export function touchCases ({ check, near }: Suite): void {
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
}
