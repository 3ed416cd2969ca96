import assert from 'node:assert/strict'
import { uniqueId, same, record, auth, type Suite } from './kit.js'

/** create: create-if-absent, refused while a live record has the id */
export function createCases ({ check }: Suite): void {
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
}
