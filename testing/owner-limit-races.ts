// maxSessionsPerOwner under parallel logins of one owner, held so that their saves overlap exactly.
import assert from 'node:assert/strict'
import type { FrozenClock, Race, RaceApp } from './race-harness.js'

const PARALLEL = 4

/** how many of `cookies` open a session logged in as `user` */
async function loggedInAs (r: RaceApp, user: string, cookies: Array<string | undefined>): Promise<number> {
  let count = 0
  for (const cookie of cookies) if (cookie !== undefined && cookie !== '' && await r.userOf(cookie) === user) count++
  return count
}

export function ownerLimitRaces (race: Race, clock: FrozenClock): void {
  for (const policy of ['refuse', 'evictOldest'] as const) {
    race(`limit. held logins in the same millisecond as the owner's existing session (${policy}): it ranks first, so it is ${policy === 'refuse' ? 'kept' : 'the one evicted'}`, async (store, r) => {
      const time = clock() // every request below starts and saves in one millisecond
      try {
        await r.start(store, { rotationInterval: null, maxSessionsPerOwner: { limit: 2, policy } })
        const first = await r.login('ann')
        const sent = await r.held(Array.from({ length: PARALLEL }, () => ['POST', '/login-held/{gate}/ann'] as ['POST', string]))
        const accepted = sent.filter(s => s.status === 200).map(s => s.cookie)
        assert.equal(await r.userOf(first), policy === 'refuse' ? 'ann' : null)
        assert.equal(await loggedInAs(r, 'ann', [first, ...accepted]), 2, 'the limit holds and is used')
      } finally {
        time.restore()
      }
    })
  }

  race('limit. parallel logins with evictOldest: exactly `limit` sessions of the owner stay, the newest', async (store, r) => {
    await r.start(store, { rotationInterval: null, maxSessionsPerOwner: { limit: 2, policy: 'evictOldest' } })
    const first = await r.login('ann')
    const sent = await r.held(Array.from({ length: PARALLEL }, () => ['POST', '/login-held/{gate}/ann'] as ['POST', string]))
    assert.ok(sent.every(s => s.status === 200), 'every login succeeds')
    assert.equal(await loggedInAs(r, 'ann', [first, ...sent.map(s => s.cookie)]), 2, 'exactly the limit stays logged in')
    assert.equal(await r.userOf(first), null, 'the oldest login went')
    assert.equal((await r.app.sessions.list('ann')).length, 2)
  })

  race('limit. a request of a session evicted while it was in flight does not bring it back', async (store, r) => {
    await r.start(store, { rotationInterval: null, maxSessionsPerOwner: { limit: 1, policy: 'evictOldest' } })
    const old = await r.login('ann')
    let fresh = ''
    const [late] = await r.held([['POST', '/w/{gate}/note/late', old]], async () => { fresh = await r.login('ann') })
    assert.equal(late.cookie, undefined, 'the late request hands out no cookie for the evicted session')
    assert.equal(await r.userOf(old), null, 'the evicted session stays dead')
    assert.equal(await r.userOf(fresh), 'ann', 'the new login is untouched')
    assert.equal((await r.app.sessions.list('ann')).length, 1)
  })

  race('limit. parallel logins that set the owner without regenerate() are counted too', async (store, r) => {
    await r.start(store, { rotationInterval: null, maxSessionsPerOwner: { limit: 2, policy: 'evictOldest' } })
    const first = await r.login('ann')
    const anonymous: string[] = []
    for (let i = 0; i < PARALLEL; i++) anonymous.push((await r.send('POST', '/w/none/note/anon')).cookie as string)
    const sent = await r.held(anonymous.map(cookie => ['POST', '/w/{gate}/userId/ann', cookie] as ['POST', string, string]))
    assert.ok(sent.every(s => s.status === 200), 'every login succeeds')
    assert.equal(await loggedInAs(r, 'ann', [first, ...anonymous]), 2, 'exactly the limit stays logged in')
    assert.equal(await r.userOf(first), null, 'the oldest session went')
    assert.equal((await r.app.sessions.list('ann')).length, 2)
  })

  race('limit. a re-login (regenerate) held in flight while another device logs in: one session stays, the replaced one is dead', async (store, r) => {
    await r.start(store, { rotationInterval: null, maxSessionsPerOwner: { limit: 1, policy: 'evictOldest' } })
    const before = await r.login('ann')
    let other = ''
    const [relogin] = await r.held([['POST', '/login-held/{gate}/ann', before]], async () => { other = await r.login('ann') })
    assert.equal(relogin.status, 200)
    assert.equal(await r.userOf(before), null, 'the session the re-login replaced stays dead')
    assert.equal(await loggedInAs(r, 'ann', [relogin.cookie, other]), 1, 'exactly the limit stays logged in')
    assert.equal((await r.app.sessions.list('ann')).length, 1)
  })

  race('limit. parallel logins with refuse: the sessions already there keep their place, the rest get FST_SESSION_LIMIT', async (store, r) => {
    await r.start(store, { rotationInterval: null, maxSessionsPerOwner: { limit: 2, policy: 'refuse' } })
    const first = await r.login('ann')
    const sent = await r.held(Array.from({ length: PARALLEL }, () => ['POST', '/login-held/{gate}/ann'] as ['POST', string]))
    const accepted = sent.filter(s => s.status === 200)
    const refused = sent.filter(s => s.status === 409)
    assert.equal(accepted.length + refused.length, PARALLEL)
    assert.ok(refused.every(s => s.body.code === 'FST_SESSION_LIMIT'))
    assert.equal(await r.userOf(first), 'ann', 'the earlier login is kept')
    assert.equal(await loggedInAs(r, 'ann', [first, ...accepted.map(s => s.cookie)]), 2, 'the limit holds and is used')
    assert.equal((await r.app.sessions.list('ann')).length, 2)
    const late = await r.send('POST', '/login/ann')
    assert.equal(late.status, 409, 'a later login is refused before anything is saved')
    assert.equal((await r.app.sessions.list('ann')).length, 2)
  })
}
