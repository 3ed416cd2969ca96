import assert from 'node:assert/strict'
import { uniqueId, same, record, type Suite } from './kit.js'

/** prefixes: stores with different prefixes on one backend do not see each other */
export function prefixCases ({ options, add }: Suite): void {
  add({
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
    add({
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
}
