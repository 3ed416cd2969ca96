import assert from 'node:assert/strict'
import { uniqueId, record, type Suite } from './kit.js'

/** destroy: removes the record, says whether a live one was there, idempotent */
export function destroyCases ({ check }: Suite): void {
  check('destroy removes, says whether a live session was there, and is idempotent', async store => {
    const id = uniqueId()
    await store.set(id, record({ a: 1 }))
    assert.equal(await store.destroy(id), true)
    assert.equal(await store.get(id), undefined)
    assert.equal(await store.destroy(id), false)
    assert.equal(await store.destroy(uniqueId()), false)
  })
}

/** after destroy nothing brings the session back */
export function afterDestroyCases ({ check }: Suite): void {
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
}
