// Encryption at rest under gated races: requests writing one session at once all land (encrypted patches
// are conditional, and retry), what the store holds is ciphertext only, and a session read under an
// older key ends wholly under the new one, whoever of the concurrent writers re-seals it.
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { idOf, type Race } from './race-harness.js'

const OLD = { id: 'old', key: randomBytes(32) }
const NEW = { id: 'new', key: randomBytes(32) }
const MARKER = 'plaintext-marker-e7c1'
/** every value of `record`'s data and personal meta is an envelope under key `id`, and no marker is anywhere in it */
function sealedUnder (record: unknown, id: string): void {
  const r = record as { data: Record<string, unknown>, meta: Record<string, unknown> } | undefined
  assert.ok(r !== undefined, 'the session is stored')
  assert.ok(!JSON.stringify(r).includes(MARKER), 'no plaintext of the data in the store')
  for (const [key, value] of Object.entries(r.data)) assert.match(String(value), new RegExp(`^fzs1\\.${id}\\.`), `data.${key} sealed under "${id}"`)
  for (const field of ['ip', 'userAgent', 'lastAccessIp']) {
    if (r.meta[field] !== undefined) assert.match(String(r.meta[field]), new RegExp(`^fzs1\\.${id}\\.`), `meta.${field} sealed under "${id}"`)
  }
}

export function encryptionRaces (race: Race): void {
  race('10. encrypted: concurrent set() of different keys and update()s all land; the store holds ciphertext only', async (store, r) => {
    await r.start(store, { rotationInterval: null, encryption: { keys: [NEW] } })
    const cookie = await r.login('wes')
    const requests: Array<['POST', string, string]> = [
      ['POST', `/w/{gate}/a/${MARKER}-a`, cookie], ['POST', `/w/{gate}/b/${MARKER}-b`, cookie], ['POST', `/w/{gate}/note/${MARKER}-n`, cookie],
      ...Array.from({ length: 4 }, () => ['POST', '/inc/{gate}', cookie] as ['POST', string, string])
    ]
    const responses = await r.held(requests)
    assert.deepEqual(responses.map(res => res.status), Array(requests.length).fill(200))
    sealedUnder(await store.get(idOf(cookie)), NEW.id)
    const read = (await r.send('GET', '/read', cookie)).body
    assert.deepEqual([read.userId, read.a, read.b, read.note, read.n], ['wes', `${MARKER}-a`, `${MARKER}-b`, `${MARKER}-n`, 4], 'every write landed')
  })

  race('10. a session read under an older key, written by 4 requests at once: nothing lost, every value ends under the new key', async (store, r) => {
    await r.start(store, { rotationInterval: null, encryption: { keys: [OLD] } })
    const cookie = await r.login('xia')
    assert.equal((await r.send('POST', `/w/none/a/${MARKER}-old`, cookie)).status, 200)
    sealedUnder(await store.get(idOf(cookie)), OLD.id)
    await r.start(store, { rotationInterval: null, encryption: { keys: [NEW, OLD] } }) // the deploy that rotates the key
    const requests: Array<['POST', string, string]> = [
      ['POST', '/w/{gate}/b/vb', cookie], ['POST', '/w/{gate}/c/vc', cookie], ['POST', '/w/{gate}/note/vn', cookie], ['POST', '/inc/{gate}', cookie]
    ]
    const responses = await r.held(requests)
    assert.deepEqual(responses.map(res => res.status), Array(requests.length).fill(200))
    sealedUnder(await store.get(idOf(cookie)), NEW.id)
    const read = (await r.send('GET', '/read', cookie)).body
    assert.deepEqual([read.userId, read.a, read.b, read.c, read.note, read.n], ['xia', `${MARKER}-old`, 'vb', 'vc', 'vn', 1], 'the old values kept, every new one landed')
    await r.start(store, { rotationInterval: null, encryption: { keys: [NEW] } }) // the old key dropped
    assert.equal(await r.userOf(cookie), 'xia', 'readable without the old key')
  })
}
