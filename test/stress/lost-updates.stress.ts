import t from 'tap'
import { allStores } from '../helpers/all-stores.js'
import { buildApp, sessionCookie } from '../helpers/app.js'
import { tempDir } from '../helpers/tmp.js'

t.setTimeout(900_000)

// For every store on its real backend: 20 parallel HTTP requests of one session each set a
// different key; afterwards all 20 keys are there. 50 times per store.
const REPEATS = Number(process.env.FZS_LOST_UPDATE_REPEATS ?? 50)
const stores = await allStores(tempDir(t))
t.teardown(async () => { for (const s of stores) await s.cleanup() })

for (const { name, store } of stores) {
  t.test(`${name}: ${REPEATS} × 20 parallel writers lose nothing`, async t => {
    const app = await buildApp(t, { store, pruneInterval: null })
    await app.listen({ port: 0, host: '127.0.0.1' })
    const base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`
    let lost = 0
    for (let round = 0; round < REPEATS; round++) {
      const cookie = sessionCookie(await app.inject({ method: 'POST', url: `/login/user${round}` }))!
      const responses = await Promise.all(Array.from({ length: 20 }, (_, i) =>
        fetch(`${base}/set/k${i}/v${round}-${i}`, { method: 'POST', headers: { cookie } })))
      const failed = responses.filter(r => r.status !== 200).length
      if (failed > 0) t.fail(`${failed} requests failed in round ${round}`)
      const record = await store.get((cookie.split('=')[1].split('.')[0]))
      for (let i = 0; i < 20; i++) if (record?.data[`k${i}`] !== `v${round}-${i}`) lost++
    }
    t.equal(lost, 0, `0 of ${REPEATS * 20} updates lost`)
  })
}
