// The lifecycle invariants as gated race tests through the plugin, for any store: a handler waits on
// a gate the test opens, so requests overlap exactly where the test says (no sleeps).
import assert from 'node:assert/strict'
import type { SessionStore } from '../types/index.js'
import type { TestCase } from './conformance.js'
import { RaceApp, Schema, clock, idOf, type RaceOptions } from './race-harness.js'
import { ownerLimitRaces } from './owner-limit-races.js'
import { legacyRaces } from './legacy-races.js'
import { lateRaces } from './late-races.js'
import { updateRaces } from './update-races.js'
import { encryptionRaces } from './encryption-races.js'

export type { RaceOptions } from './race-harness.js'

export function lifecycleRaces (options: RaceOptions): TestCase[] {
  const cases: TestCase[] = []
  const race = (name: string, body: (store: SessionStore, r: RaceApp) => Promise<void>): void => {
    cases.push({
      name,
      run: async () => {
        const store = await options.create()
        const r = new RaceApp()
        try {
          await body(store, r)
        } finally {
          await r.app?.close()
          await store.close?.()
        }
      }
    })
  }

  race('1. a request that loaded before destroy() neither revives the session nor clears a newer cookie', async (store, r) => {
    await r.start(store, { rotationInterval: '1s' }) // always due: the late request would rotate
    const cookie = await r.login('alice')
    let relogin = ''
    const [res] = await r.held([['POST', '/w/{gate}/a/late-write', cookie]], async () => {
      assert.equal((await r.send('POST', '/logout', cookie)).setCookie.some(c => c.startsWith('session_id=;')), true, 'logout clears the cookie')
      relogin = await r.login('alice')
    })
    assert.equal(res.status, 200)
    assert.deepEqual(res.setCookie, [], 'no Set-Cookie: neither a new session nor a cleared one')
    assert.equal(await store.get(idOf(cookie)), undefined, 'the old record stays gone')
    assert.equal(await r.userOf(cookie), null, 'the old cookie is dead')
    assert.equal(await r.userOf(relogin), 'alice', 'the newer login is untouched')
    assert.equal((await store.get(idOf(relogin)))?.data.a, undefined, 'the late write went nowhere')
  })

  if (options.ownerIndex !== false) {
    race('1. sessions.revoke() is final for requests in flight, rotation due or not', async (store, r) => {
      await r.start(store, { rotationInterval: '1s' })
      const victim = await r.login('bob')
      const admin = await r.login('root')
      const [res] = await r.held([['POST', '/w/{gate}/note/stolen', victim]], async () => { await r.app.sessions.revoke('bob') })
      assert.deepEqual(res.setCookie, [], 'no cookie for a revoked session')
      assert.equal(await r.userOf(victim), null)
      assert.equal(await store.get(idOf(victim)), undefined)
      assert.equal(await r.userOf(admin), 'root')
    })
  }

  race('1. regenerate() (login) racing requests of the old session: the pre-login id stays dead', async (store, r) => {
    await r.start(store, { rotationInterval: '1s' })
    const anonymous = (await r.send('POST', '/w/none/note/hello')).cookie as string
    let login = ''
    const [res, cleared] = await r.held([['POST', '/w/{gate}/a/x', anonymous], ['POST', '/clear/{gate}', anonymous]], async () => {
      login = (await r.send('POST', '/login/carol', anonymous)).cookie as string
    })
    assert.deepEqual(res.setCookie, [], 'the late writer sends no cookie')
    assert.deepEqual(cleared.setCookie, [], 'the late clear() sends no cookie')
    assert.equal(await store.get(idOf(anonymous)), undefined, 'the pre-login record is gone')
    assert.equal(await r.userOf(anonymous), null)
    assert.equal(await r.userOf(login), 'carol')
  })

  for (const rotationInterval of ['5m', null] as const) {
    race(`1. a read that loaded before destroy(), its touch ${rotationInterval === null ? '' : 'and rotation '}due, writes nothing and sends no cookie`, async (store, r) => {
      const time = clock()
      try {
        await r.start(store, { idleTimeout: '10m', rotationInterval, touchAfter: '1m' })
        const cookie = await r.login('kim')
        time.advance(6 * 60_000) // less than the idle timeout left, and the rotation due
        let relogin = ''
        const [res] = await r.held([['GET', '/r/{gate}', cookie]], async () => {
          await r.send('POST', '/logout', cookie)
          relogin = await r.login('kim')
        })
        assert.equal(res.body.userId, 'kim', 'it loaded before the logout')
        assert.deepEqual(res.setCookie, [], 'no touch cookie, no rotated cookie, no clearing of the new login')
        assert.equal(await store.get(idOf(cookie)), undefined, 'neither touch nor rotate recreated the record')
        assert.equal(await r.userOf(relogin), 'kim')
      } finally {
        time.restore()
      }
    })
  }

  race('3. a request that loaded before another rotated never hands out the replaced secret', async (store, r) => {
    const time = clock()
    try {
      await r.start(store, { idleTimeout: '15m', rotationInterval: '10m', rotationGrace: '30s', touchAfter: '1m' })
      const cookie = await r.login('lea')
      time.advance(10 * 60_000 - 10_000) // rotation not due yet; an extension is
      let rotated = ''
      const [slow] = await r.held([['GET', '/r/{gate}', cookie]], async () => {
        time.advance(20_000)
        rotated = (await r.send('GET', '/r/none', cookie)).cookie as string
      })
      assert.ok(rotated, 'the other request rotated')
      assert.equal(slow.body.userId, 'lea')
      assert.deepEqual(slow.setCookie, [], 'the slow request sends no cookie: a browser keeps the current secret')
      time.advance(60_000)
      assert.equal(await r.userOf(rotated), 'lea', 'the rotated secret works after the grace window')
      assert.equal(await r.userOf(cookie), null)
    } finally {
      time.restore()
    }
  })

  race('2. concurrent requests changing different keys all persist in one record, rotation due or not', async (store, r) => {
    await r.start(store, { rotationInterval: '1s', maxDataBytes: null })
    const cookie = await r.login('dave')
    const keys = ['a', 'b', 'c', 'k1', 'k2']
    const responses = await r.held(keys.map(k => ['POST', `/w/{gate}/${k}/v-${k}`, cookie]))
    assert.ok(responses.every(res => res.status === 200))
    const record = await store.get(idOf(cookie))
    for (const k of keys) assert.equal(record?.data[k], `v-${k}`, `${k} persisted`)
    for (const res of [{ cookie }, ...responses]) if (res.cookie !== undefined) assert.equal(await r.userOf(res.cookie), 'dave', 'every cookie handed out works')
    const ids = new Set(responses.map(res => res.cookie).filter(c => c !== undefined).map(c => idOf(c as string)))
    assert.ok(ids.size <= 1 && (ids.size === 0 || ids.has(idOf(cookie))), 'one record: the id never changes')
  })

  race('5. object-level refinements and maxDataBytes hold for the data as stored after concurrent writes', async (store, r) => {
    const Refined = Schema.refine(d => !(d.a !== undefined && d.b !== undefined), 'a and b exclude each other')
    await r.start(store, { rotationInterval: null, maxDataBytes: 200 }, Refined)
    const cookie = await r.login('erin')
    const results = await r.held([['POST', '/w/{gate}/a/1', cookie], ['POST', '/w/{gate}/b/2', cookie]])
    assert.equal(results.filter(res => res.status === 200).length, 1, 'one write lands, the other is refused')
    assert.ok(Refined.safeParse((await store.get(idOf(cookie)))?.data).success, 'the stored data passes the schema')
    const big = 'x'.repeat(90) // one fits in 200 bytes beside the rest, two do not
    const sized = await r.held([['POST', `/w/{gate}/k1/${big}`, cookie], ['POST', `/w/{gate}/k2/${big}`, cookie]])
    assert.deepEqual(sized.map(res => res.status).sort(), [200, 500], 'one write lands, the other is refused as too large')
    const stored = (await store.get(idOf(cookie)))?.data
    assert.ok(Buffer.byteLength(JSON.stringify(stored)) <= 200, 'maxDataBytes holds for the merged record')
  })

  race('3+4. a rotation racing other requests: one record, every handed-out secret works, replaced ones die exactly after rotationGrace', async (store, r) => {
    const time = clock()
    try {
      await r.start(store, { rotationInterval: '10m', rotationGrace: '30s', touchAfter: '1m' })
      const cookie = await r.login('frank')
      time.advance(10 * 60_000 + 1)
      const [res1, res2] = await r.held([['GET', '/r/{gate}', cookie], ['GET', '/r/{gate}', cookie]])
      const issued = [res1.cookie, res2.cookie].filter(c => c !== undefined) as string[]
      assert.equal(issued.length, 1, 'exactly one rotation wins; the loser sends no cookie')
      const rotated = issued[0]
      assert.equal(idOf(rotated), idOf(cookie), 'the record did not move')
      assert.equal(await r.userOf(rotated), 'frank')
      // a client whose rotation response was lost comes back with the replaced secret within grace
      time.advance(20_000)
      const lost = await r.send('GET', '/r/none', cookie)
      assert.equal(lost.body.userId, 'frank', 'in grace: still logged in')
      assert.ok(lost.cookie, 'and given a current secret')
      assert.equal(await r.userOf(rotated), 'frank', 'the winner\'s secret stays current beside it')
      time.advance(10_000 - 1)
      assert.equal(await r.userOf(cookie), 'frank', '1 ms before the end of grace')
      time.advance(1)
      assert.equal(await r.userOf(cookie), null, 'rotationGrace after it was replaced, the old secret is dead')
      assert.equal(await r.userOf(lost.cookie as string), 'frank', 'the reissued secret lives on')
      assert.equal(await r.userOf(rotated), 'frank')
    } finally {
      time.restore()
    }
  })

  for (const variant of [
    { name: 'reads, rotation off', options: { rotationInterval: null }, write: false },
    { name: 'writes, rotation off', options: { rotationInterval: null }, write: true },
    { name: 'reads, rotation on, touchAfter above the idle timeout', options: { touchAfter: '20m' }, write: false },
    { name: 'writes, rotation on, touchAfter equal to the idle timeout', options: { touchAfter: '10m' }, write: true }
  ]) {
    race(`6. a user active more often than idleTimeout is never logged out (${variant.name})`, async (store, r) => {
      const time = clock()
      try {
        await r.start(store, { idleTimeout: '10m', absoluteTimeout: null, rotationGrace: '30s', ...variant.options } as never)
        let cookie = await r.login('gina')
        let cookieExpires = Date.now() + 10 * 60_000
        for (let i = 0; i < 12; i++) {
          time.advance(10 * 60_000 - 1000)
          assert.ok(Date.now() < cookieExpires, `the browser still holds the cookie at request ${i}`)
          const res = variant.write ? await r.send('POST', `/w/none/note/n${i}`, cookie) : await r.send('GET', '/r/none', cookie)
          assert.equal(res.status, 200)
          if (!variant.write) assert.equal(res.body.userId, 'gina', `still logged in at request ${i}`)
          else assert.equal(await r.userOf(cookie), 'gina', `still logged in after request ${i}`)
          if (res.cookie !== undefined) {
            cookie = res.cookie
            const maxAge = Number(/Max-Age=(\d+)/i.exec(res.setCookie.join(';'))?.[1])
            cookieExpires = Date.now() + maxAge * 1000
          }
        }
      } finally {
        time.restore()
      }
    })
  }

  race('6. refresh({ idleTimeout }) at or below touchAfter: an active reader stays logged in', async (store, r) => {
    const time = clock()
    try {
      await r.start(store, { idleTimeout: '1h', touchAfter: '5m', rotationInterval: null })
      const cookie = await r.login('hank')
      assert.equal((await r.send('POST', '/refresh/240', cookie)).status, 200)
      for (let i = 0; i < 10; i++) {
        time.advance(4 * 60_000 - 1000)
        assert.equal(await r.userOf(cookie), 'hank', `still logged in at ${i}`)
      }
      time.advance(5 * 60_000)
      assert.equal(await r.userOf(cookie), null, 'idle past the refreshed timeout (and its slack): logged out')
    } finally {
      time.restore()
    }
  })

  race('7. regenerate(): new id, schema defaults or the listed keys, new createdAt; the old record goes only below 500', async (store, r) => {
    const time = clock()
    try {
      await r.start(store, { rotationInterval: null })
      const first = (await r.send('POST', '/w/none/note/keep-me-not')).cookie as string
      await store.set(idOf(first), { ...(await store.get(idOf(first)))!, data: { cart: ['book'], note: 'n', userId: 'ivy' } })
      const before = (await r.send('GET', '/read', first)).body
      time.advance(60_000)
      const kept = await r.send('POST', '/regenerate-keep', first)
      const after = (await r.send('GET', '/read', kept.cookie)).body
      assert.notEqual(after.id, before.id, 'a new id')
      assert.deepEqual(after.cart, ['book'], 'the listed key is kept')
      assert.equal(after.userId, undefined, 'other keys are gone')
      assert.ok(after.createdAt > before.createdAt, 'a new createdAt')
      assert.equal(await store.get(idOf(first)), undefined, 'the old record is deleted')
      const failed = await r.send('POST', '/regenerate-then-fail', kept.cookie)
      assert.equal(failed.status, 500)
      assert.deepEqual(failed.setCookie, [], 'a 5xx sends no cookie')
      assert.deepEqual((await r.send('GET', '/read', kept.cookie)).body.cart, ['book'], 'and deletes nothing')
    } finally {
      time.restore()
    }
  })

  if (options.ownerIndex !== false) {
    race('8. revoke(owner, { except: request.session }) keeps the caller, also inside a grace window', async (store, r) => {
      const time = clock()
      try {
        await r.start(store, { rotationInterval: '10m', rotationGrace: '30s' })
        const here = await r.login('jack')
        const elsewhere = await r.login('jack')
        time.advance(10 * 60_000 + 1)
        await r.send('GET', '/r/none', here) // rotates: `here` is now a replaced secret in grace
        const res = await r.send('POST', '/revoke/jack', here)
        assert.equal(res.body.removed, 1)
        assert.equal(await r.userOf(elsewhere), null)
        assert.equal(await r.userOf(res.cookie ?? here), 'jack', 'the caller stays logged in')
      } finally {
        time.restore()
      }
    })
  }

  race('9. nested mutations made after save() are saved', async (store, r) => {
    await r.start(store, { rotationInterval: null })
    const cookie = (await r.send('POST', '/w/none/note/x')).cookie as string
    await r.send('POST', '/save-then-mutate', cookie)
    assert.deepEqual((await store.get(idOf(cookie)))?.data.cart, ['first', 'after-save'])
  })

  if (options.ownerIndex !== false) ownerLimitRaces(race, clock)
  lateRaces(race, clock, options.ownerIndex !== false)
  updateRaces(race)
  encryptionRaces(race)
  cases.push(...legacyRaces(options))
  return cases
}
