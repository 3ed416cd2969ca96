// session.update(key, fn) under gated races: requests that loaded the same version all apply their
// function, none lost, whatever else writes the session meanwhile.
import assert from 'node:assert/strict'
import { idOf, type Race } from './race-harness.js'

export function updateRaces (race: Race): void {
  race('6. concurrent update(n, n + 1) of one key: the stored value counts every request', async (store, r) => {
    await r.start(store, { rotationInterval: null })
    const cookie = await r.login('uma')
    const N = 8
    const responses = await r.held(Array.from({ length: N }, () => ['POST', '/inc/{gate}', cookie] as ['POST', string, string]))
    assert.deepEqual(responses.map(res => res.status), Array(N).fill(200))
    assert.equal((await store.get(idOf(cookie)))?.data.n, N, `${N} increments, none lost`)
    assert.deepEqual(responses.map(res => res.body.n as number).sort((a, b) => a - b), Array.from({ length: N }, () => 1),
      'each handler saw its own step on the value it loaded (the save re-applies it)')
  })

  race('6. update() mixed with set() of other keys, rotation due: nothing lost', async (store, r) => {
    await r.start(store, { rotationInterval: '1s' })
    const cookie = await r.login('vic')
    const requests: Array<['POST', string, string]> = [
      ...Array.from({ length: 5 }, () => ['POST', '/inc/{gate}', cookie] as ['POST', string, string]),
      ['POST', '/w/{gate}/a/va', cookie], ['POST', '/w/{gate}/b/vb', cookie], ['POST', '/w/{gate}/note/vn', cookie]
    ]
    const responses = await r.held(requests)
    assert.deepEqual(responses.map(res => res.status), Array(requests.length).fill(200))
    const data = (await store.get(idOf(cookie)))?.data
    assert.equal(data?.n, 5, 'every update counted')
    assert.deepEqual([data?.a, data?.b, data?.note, data?.userId], ['va', 'vb', 'vn', 'vic'], 'every set() of another key kept')
    for (const res of [{ cookie }, ...responses]) if (res.cookie !== undefined) assert.equal(await r.userOf(res.cookie), 'vic', 'every cookie handed out works')
    // a later round on top of the stored value, all at once again
    await r.held(Array.from({ length: 3 }, () => ['POST', '/inc/{gate}', cookie] as ['POST', string, string]))
    assert.equal((await store.get(idOf(cookie)))?.data.n, 8)
  })
}
