import assert from 'node:assert/strict'
import { uniqueId, same, record, type Suite } from './kit.js'

/** the owner index: stats, listByOwner, destroyByOwner, and corrupt records among an owner's sessions */
export function ownerCases ({ options, check, add }: Suite): void {
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
      add({
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
}
