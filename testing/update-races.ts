// session.update(key, fn) under gated races: requests that loaded the same version all apply their
// function, none lost, whatever else writes the session meanwhile.
import assert from 'node:assert/strict'
import { idOf, type Race } from './race-harness.js'
import { LateStore } from './late-races.js'

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

  for (const other of ['logs out', 'logs in again (regenerate)'] as const) {
    race(`6. update()s in flight while another request of the session ${other}: nothing is saved, the old id stays dead`, async (store, r) => {
      await r.start(store, { rotationInterval: null })
      const cookie = await r.login('wil')
      const responses = await r.held(Array.from({ length: 3 }, () => ['POST', '/inc/{gate}', cookie] as ['POST', string, string]), async () => {
        const res = other === 'logs out' ? await r.send('POST', '/logout', cookie) : await r.send('POST', '/login/wil', cookie)
        assert.equal(res.status, 200)
      })
      assert.deepEqual(responses.map(res => res.status), [200, 200, 200], 'the updates answer; their session is gone')
      assert.equal(await store.get(idOf(cookie)), undefined, 'no update brought the old id back')
      assert.equal(await r.userOf(cookie), null, 'the old cookie opens nothing')
    })
  }

  race('late. an update() whose patch answers after its 503 never lands over newer updates', async (store, r) => {
    const late = new LateStore(store)
    await r.start(late.store, { rotationInterval: null, storeTimeout: '750ms' })
    const cookie = await r.login('xan')
    assert.equal((await r.send('POST', '/inc/none', cookie)).status, 200)
    const held = late.hold('patch')
    assert.equal((await r.send('POST', '/inc/none', cookie)).status, 503, 'the update answered before its patch (n 1 -> 2, held)')
    await held.entered
    for (let i = 0; i < 2; i++) assert.equal((await r.send('POST', '/inc/none', cookie)).status, 200, 'a newer update, after the 503')
    held.release()
    await late.settled()
    assert.equal((await store.get(idOf(cookie)))?.data.n, 3, 'the late patch (n = 2, read at an older version) wrote nothing over n = 3')
  })
}
