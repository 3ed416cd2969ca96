// Late answers (storeTimeout): a store call the test holds at a gate until the request has already
// answered, then releases, so the call lands after its deadline on the real backend. What state does it
// leave? A login nobody holds must not stay live nor count; a rotation nobody received must not end the
// secret the client has.
import assert from 'node:assert/strict'
import type { SessionStore } from '../types/index.js'
import { idOf, type FrozenClock, type Race } from './race-harness.js'

type Method = 'get' | 'set' | 'create' | 'patch' | 'rotate' | 'touch' | 'destroy' | 'prune' | 'stats' | 'listByOwner' | 'destroyByOwner'

const PASSED: Method[] = ['get', 'set', 'create', 'patch', 'rotate', 'touch', 'destroy', 'prune', 'stats', 'listByOwner', 'destroyByOwner']

/** the deadline of every request in these races; only the held call may miss it */
const STORE_TIMEOUT = '750ms'

export interface HeldCall {
  /** resolves with the held call's arguments once a call reached the gate */
  entered: Promise<unknown[]>
  /** lets the held call through to the real store */
  release: () => void
}

/**
 * A store passing every call to `inner`, except that the next call of a method armed with hold() waits
 * at a gate until the test releases it (then runs on the real store: a late answer), and the next call
 * of a method armed with fail() rejects without reaching it. settled() waits until no call is in flight,
 * including the calls the plugin makes when a late one lands.
 */
export class LateStore {
  readonly store: SessionStore
  readonly #gates = new Map<Method, { enter: (args: unknown[]) => void, wait: Promise<void> }>()
  readonly #failing = new Set<Method>()
  readonly #inflight = new Set<Promise<unknown>>()
  /** how many calls of each method were made */
  readonly calls = new Map<Method, number>()
  /** called after each call is counted */
  onCall: (method: Method) => void = () => {}

  constructor (inner: SessionStore) {
    const source = inner as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>
    const store: Record<string, unknown> = {}
    for (const method of PASSED) {
      if (typeof source[method] === 'function') store[method] = (...args: unknown[]) => this.#call(method, () => source[method].apply(inner, args), args)
    }
    if (typeof inner.ready === 'function') store.ready = async () => { await inner.ready!() }
    // the race closes the real store itself
    this.store = store as unknown as SessionStore
  }

  hold (method: Method): HeldCall {
    let enter!: (args: unknown[]) => void
    let release!: () => void
    const entered = new Promise<unknown[]>(resolve => { enter = resolve })
    const wait = new Promise<void>(resolve => { release = resolve })
    this.#gates.set(method, { enter, wait })
    return { entered, release }
  }

  fail (method: Method): void {
    this.#failing.add(method)
  }

  /** resolves once no call is in flight, the plugin's reactions to the last ones included */
  async settled (): Promise<void> {
    for (;;) {
      await new Promise(resolve => setImmediate(resolve))
      if (this.#inflight.size === 0) return
      await Promise.allSettled([...this.#inflight])
    }
  }

  #call (method: Method, run: () => Promise<unknown>, args: unknown[]): Promise<unknown> {
    const gate = this.#gates.get(method)
    this.#gates.delete(method)
    const failing = this.#failing.delete(method)
    this.calls.set(method, (this.calls.get(method) ?? 0) + 1)
    this.onCall(method)
    const call = (async () => {
      if (failing) throw new Error(`${method}() failed (the test's store)`)
      if (gate !== undefined) {
        gate.enter(args)
        await gate.wait
      }
      return await run()
    })()
    this.#inflight.add(call)
    const done = (): void => { this.#inflight.delete(call) }
    call.then(done, done)
    return call
  }
}

export function lateRaces (race: Race, clock: FrozenClock, ownerIndex: boolean): void {
  race(`late. a login whose save lands after its 503 leaves no live session: the record is gone${ownerIndex ? ', nor listed, nor counted by maxSessionsPerOwner' : ''}`, async (store, r) => {
    const late = new LateStore(store)
    await r.start(late.store, { rotationInterval: null, storeTimeout: STORE_TIMEOUT, ...(ownerIndex ? { maxSessionsPerOwner: { limit: 1, policy: 'refuse' } } : {}) })
    const held = late.hold('set')
    const failed = await r.send('POST', '/login/ann')
    assert.equal(failed.status, 503, 'the login answered before its save')
    assert.equal(failed.body.code, 'FST_SESSION_STORE_UNAVAILABLE')
    assert.equal(failed.cookie, undefined, 'no cookie for a save that did not answer')
    const [lateId] = await held.entered
    held.release()
    await late.settled()
    assert.equal(await store.get(lateId as string), undefined, 'the late save was undone when it landed')
    if (ownerIndex) {
      assert.deepEqual(await store.listByOwner!('ann'), [], 'the owner index does not name it')
      assert.deepEqual(await r.app.sessions.list('ann'), [], 'sessions.list does not show it')
    }
    const retry = await r.send('POST', '/login/ann')
    assert.equal(retry.status, 200, 'the retry is not refused because of the failed attempt')
    assert.equal(await r.userOf(retry.cookie as string), 'ann')
    if (ownerIndex) assert.deepEqual((await r.app.sessions.list('ann')).map(s => s.id), [idOf(retry.cookie as string)], 'only the retry is listed')
  })

  for (const how of ['answers late', 'fails'] as const) {
    for (const request of ['a write', 'a read'] as const) {
      race(`late. ${request} due for rotation whose rotate() ${how}: 200, its changes saved, no cookie, and the client's secret stays current`, async (store, r) => {
        const time = clock()
        try {
          const late = new LateStore(store)
          await r.start(late.store, { idleTimeout: '15m', rotationInterval: '10m', rotationGrace: '30s', touchAfter: '1m', storeTimeout: STORE_TIMEOUT })
          const cookie = await r.login('lou')
          time.advance(10 * 60_000 + 1) // the rotation is due, and a touch
          const held = how === 'answers late' ? late.hold('rotate') : undefined
          if (how === 'fails') late.fail('rotate')
          const res = request === 'a write' ? await r.send('POST', '/w/none/note/saved', cookie) : await r.send('GET', '/r/none', cookie)
          assert.equal(res.status, 200, 'like a lost rotation race, not a 503')
          assert.deepEqual(res.setCookie, [], 'no cookie: the new secret may or may not be stored, the current one stays')
          if (request === 'a read') assert.equal(res.body.userId, 'lou')
          held?.release()
          await late.settled()
          const stored = await store.get(idOf(cookie))
          if (request === 'a write') assert.equal(stored?.data.note, 'saved', 'the change was saved')
          assert.ok((stored?.expiresAt ?? 0) > Date.now() + 14 * 60_000, 'the expiry was extended')
          time.advance(30_000 + 1) // past rotationGrace: a secret replaced by the late rotation would be dead
          assert.equal(await r.userOf(cookie), 'lou', 'the secret the client holds is still current')
        } finally {
          time.restore()
        }
      })
    }
  }

  for (const first of ['the same key', 'another key'] as const) {
    race(`late. a patch that answers after its 503 never lands over a newer write of the session (${first})`, async (store, r) => {
      const late = new LateStore(store)
      await r.start(late.store, { rotationInterval: null, storeTimeout: STORE_TIMEOUT })
      const cookie = await r.login('pat')
      const held = late.hold('patch')
      const failed = await r.send('POST', '/w/none/note/older', cookie)
      assert.equal(failed.status, 503, 'the write answered before its patch')
      await held.entered
      const newer = first === 'the same key' ? await r.send('POST', '/w/none/note/newer', cookie) : await r.send('POST', '/w/none/a/newer', cookie)
      assert.equal(newer.status, 200, 'a newer write of the session, after the 503')
      held.release()
      await late.settled()
      const stored = await store.get(idOf(cookie))
      if (first === 'the same key') assert.equal(stored?.data.note, 'newer', 'the late patch did not put the older value over the newer one')
      else {
        assert.equal(stored?.data.a, 'newer', 'the newer write is kept')
        assert.equal(stored?.data.note, undefined, 'the late patch, written against a version that is gone, wrote nothing')
      }
      assert.equal(await r.userOf(cookie), 'pat', 'the session is intact')
    })
  }

  race('late. another server whose clock runs a minute ahead wrote the session last: a write here still lands (the fence moves to that write), and a patch held past its 503 still does not', async (store, r) => {
    const late = new LateStore(store)
    await r.start(late.store, { rotationInterval: null, storeTimeout: STORE_TIMEOUT })
    const cookie = await r.login('sky')
    const id = idOf(cookie)
    const ahead = Date.now() + 60_000
    assert.equal(await store.patch(id, { set: { note: 'from the fast server' }, unset: [], meta: { lastAccessAt: ahead } }), 'ok')
    const here = await r.send('POST', '/w/none/a/from-here', cookie)
    assert.equal(here.status, 200, 'not refused as late: its store call answered in time')
    let stored = await store.get(id)
    assert.equal(stored?.data.a, 'from-here')
    assert.equal(stored?.data.note, 'from the fast server', 'the other server\'s write is kept')
    const held = late.hold('patch')
    const failed = await r.send('POST', '/w/none/a/older', cookie)
    assert.equal(failed.status, 503)
    await held.entered
    assert.equal(await store.patch(id, { set: { note: 'newest' }, unset: [], meta: { lastAccessAt: ahead + 120_000 } }), 'ok', 'a newer write, from the fast server')
    held.release()
    await late.settled()
    stored = await store.get(id)
    assert.equal(stored?.data.a, 'from-here', 'the late patch wrote nothing')
    assert.equal(stored?.data.note, 'newest')
  })
}
