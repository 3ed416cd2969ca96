import assert from 'node:assert/strict'
import type { SessionAuth } from '../../types/index.js'
import { uniqueId, same, record, type Suite } from './kit.js'

/** rotate: compare-and-set of the auth secrets */
export function rotateCases ({ check, near }: Suite): void {
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
}
