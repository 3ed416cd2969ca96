import assert from 'node:assert/strict'
import { uniqueId, same, record, type Suite } from './kit.js'

/** prune: removes exactly the expired sessions (stores without native expiry), or never a live one */
export function pruneCases ({ options, check }: Suite): void {
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
}
