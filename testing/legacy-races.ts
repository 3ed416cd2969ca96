// The `legacy` import (moving from @fastify/session) through the plugin, for any store: parallel
// requests carrying one old cookie, held inside the old store's get so that they all import at once,
// and the old cookie's death with the session it was imported into.
import assert from 'node:assert/strict'
import Fastify, { type FastifyInstance, type LightMyRequestResponse } from 'fastify'
import { Signer } from '@fastify/cookie'
import { z } from 'zod'
import fastifyZodSession from '../lib/index.js'
import type { SessionStore } from '../types/index.js'
import type { TestCase } from './conformance.js'
import type { RaceOptions } from './race-harness.js'

const SECRET = 'legacy-race-secret-legacy-race-secret-0123456789'
const OLD_SECRET = 'the-secret-the-old-fastify-session-app-used'
const PARALLEL = 4
const Schema = z.object({ userId: z.string().optional(), cart: z.array(z.string()).default([]) })

/**
 * An express-session store answering through callbacks only (as connect-redis did before v7), holding
 * every get() at a gate while `held` is set, until the test releases them.
 */
export class GatedOldStore {
  readonly sessions = new Map<string, Record<string, unknown>>()
  #held: Promise<void> | null = null
  #release: () => void = () => {}
  #entered = 0
  #waiters: Array<{ count: number, resolve: () => void }> = []

  /** from now on, get() waits until release() */
  hold (): void {
    this.#held = new Promise(resolve => { this.#release = resolve })
  }

  /** resolves once `count` get() calls are held */
  async entered (count: number): Promise<void> {
    if (this.#entered >= count) return
    await new Promise<void>(resolve => { this.#waiters.push({ count, resolve }) })
  }

  release (): void {
    this.#held = null
    this.#release()
  }

  get (sid: string, callback: (err: unknown, session?: Record<string, unknown> | null) => void): void {
    const answer = (): void => {
      const found = this.sessions.get(sid)
      callback(null, found === undefined ? null : structuredClone(found))
    }
    if (this.#held === null) {
      setImmediate(answer)
      return
    }
    this.#entered++
    for (const w of this.#waiters.filter(w => this.#entered >= w.count)) w.resolve()
    this.#held.then(answer, () => {})
  }

  destroy (sid: string, callback: (err?: unknown) => void): void {
    this.sessions.delete(sid)
    setImmediate(callback)
  }
}

let counter = 0

/** an @fastify/session login: the old store's record and the signed cookie the browser holds */
export function oldLogin (old: GatedOldStore, userId: string, expires: Date | null = new Date(Date.now() + 86_400_000)): { sid: string, cookie: string } {
  const sid = `old${process.pid}x${Date.now().toString(36)}x${(counter++).toString(36)}`
  old.sessions.set(sid, { userId, cart: ['book'], cookie: { originalMaxAge: expires === null ? null : 86_400_000, expires: expires?.toISOString() ?? null, httpOnly: true, path: '/' } })
  return { sid, cookie: `sessionId=${encodeURIComponent(new Signer(OLD_SECRET, 'sha256').sign(sid))}` }
}

function setCookies (res: LightMyRequestResponse): string[] {
  const header = res.headers['set-cookie']
  return header === undefined ? [] : Array.isArray(header) ? header : [header]
}

/** the `name=value` our response set, or undefined */
export function cookieOf (res: LightMyRequestResponse, name = 'session_id'): string | undefined {
  const found = setCookies(res).find(c => c.startsWith(`${name}=`))?.split(';')[0]
  return found === `${name}=` ? undefined : found
}

/** the response deletes the @fastify/session cookie */
export function clearsOld (res: LightMyRequestResponse): boolean {
  return setCookies(res).some(c => c.startsWith('sessionId=;') && /Expires=Thu, 01 Jan 1970/i.test(c))
}

export async function legacyApp (store: SessionStore, old: GatedOldStore, options: Record<string, unknown> = {}): Promise<FastifyInstance> {
  const app = Fastify()
  await app.register(fastifyZodSession, {
    secret: SECRET,
    schema: Schema as never,
    store,
    pruneInterval: null,
    owner: (d: { userId?: string }) => d.userId,
    legacy: { secret: OLD_SECRET, store: old },
    ...options
  })
  app.get('/me', async request => ({ userId: request.session.get('userId') ?? null }))
  app.post('/logout', async request => { await request.session.destroy(); return { ok: true } })
  app.post('/revoke/:user', async request => ({ removed: await app.sessions.revoke((request.params as { user: string }).user) }))
  app.post('/login/:user', async request => {
    await request.session.regenerate()
    request.session.set('userId', (request.params as { user: string }).user)
    return { ok: true }
  })
  await app.ready()
  return app
}

export function legacyRaces (options: RaceOptions): TestCase[] {
  const cases: TestCase[] = []
  const legacy = (name: string, body: (store: SessionStore, old: GatedOldStore, apps: FastifyInstance[]) => Promise<void>): void => {
    cases.push({
      name,
      run: async () => {
        const store = await options.create()
        const apps: FastifyInstance[] = []
        try {
          await body(store, new GatedOldStore(), apps)
        } finally {
          for (const app of apps) await app.close()
          await store.close?.()
        }
      }
    })
  }
  const me = async (app: FastifyInstance, cookie: string): Promise<LightMyRequestResponse> => await app.inject({ url: '/me', headers: { cookie } })

  legacy(`legacy. ${PARALLEL} requests carrying one @fastify/session cookie, held so that they import at once, get one session and one cookie; a logout from any kills it and the old cookie`, async (store, old, apps) => {
    if (store.create === undefined) return // the import needs create-if-absent for this
    const app = await legacyApp(store, old)
    apps.push(app)
    const { sid, cookie: legacyCookie } = oldLogin(old, 'ada')
    old.hold()
    const pending = Array.from({ length: PARALLEL }, async () => await me(app, legacyCookie))
    await old.entered(PARALLEL) // every request has read its cookie, found nothing of ours, and waits for the old store
    old.release()
    const responses = await Promise.all(pending)
    for (const res of responses) {
      assert.equal(res.statusCode, 200)
      assert.deepEqual(res.json(), { userId: 'ada' }, 'every request is logged in')
      assert.ok(clearsOld(res), 'and clears the old cookie')
    }
    const cookies = responses.map(res => cookieOf(res))
    assert.ok(cookies.every(c => c !== undefined), 'every response carries our cookie')
    assert.equal(new Set(cookies).size, 1, 'the same cookie: one session of ours')
    if (options.ownerIndex !== false) assert.equal((await app.sessions.list('ada')).length, 1, 'one session in the store')
    const logout = await app.inject({ method: 'POST', url: '/logout', headers: { cookie: cookies[0] as string } })
    assert.equal(logout.statusCode, 200)
    for (const cookie of cookies) assert.deepEqual((await me(app, cookie as string)).json(), { userId: null }, 'logged out everywhere')
    const replay = await me(app, legacyCookie)
    assert.deepEqual(replay.json(), { userId: null }, 'the old cookie no longer logs in')
    assert.ok(clearsOld(replay))
    assert.equal(cookieOf(replay), undefined)
    if (options.ownerIndex !== false) assert.deepEqual(await app.sessions.list('ada'), [])
    assert.ok(old.sessions.has(sid), 'nothing was deleted from the old store')
  })

  for (const end of ['destroy', 'revoke', 'regenerate'] as const) {
    if (end === 'revoke' && options.ownerIndex === false) continue
    legacy(`legacy. ${end === 'destroy' ? 'logging out of' : end === 'revoke' ? 'fastify.sessions.revoke() of' : 'regenerate() (a login) in'} an imported session kills the old cookie too, without deleteAfterImport`, async (store, old, apps) => {
      const app = await legacyApp(store, old, { legacy: { secret: OLD_SECRET, store: old, deleteAfterImport: false } })
      apps.push(app)
      const { sid, cookie: legacyCookie } = oldLogin(old, 'ada')
      const first = await me(app, legacyCookie)
      assert.deepEqual(first.json(), { userId: 'ada' }, 'imported')
      const ours = cookieOf(first) as string
      assert.ok(ours)
      if (options.ownerIndex !== false) {
        const listed = await app.sessions.list('ada')
        assert.deepEqual(listed.map(s => s.id), [decodeURIComponent(ours.split('=')[1]).slice(0, 22)], 'the owner has the imported session and nothing else (no tombstone)')
      }
      assert.deepEqual((await me(app, legacyCookie)).json(), { userId: 'ada' }, 'before the end the old cookie still opens the same session')
      let after: string | undefined
      if (end === 'destroy') {
        assert.equal((await app.inject({ method: 'POST', url: '/logout', headers: { cookie: ours } })).statusCode, 200)
      } else if (end === 'revoke') {
        assert.deepEqual((await app.inject({ method: 'POST', url: '/revoke/ada' })).json(), { removed: 1 })
      } else {
        after = cookieOf(await app.inject({ method: 'POST', url: '/login/bob', headers: { cookie: ours } }))
        assert.ok(after, 'the login got a new cookie')
      }
      assert.deepEqual((await me(app, ours)).json(), { userId: null }, 'the imported session is gone')
      for (let i = 0; i < 2; i++) {
        const replay = await me(app, legacyCookie)
        assert.deepEqual(replay.json(), { userId: null }, 'replaying the pre-switch cookie logs nobody back in')
        assert.ok(clearsOld(replay), 'and clears it')
        assert.equal(cookieOf(replay), undefined)
      }
      assert.ok(old.sessions.has(sid), 'though the old store still has the session')
      if (after !== undefined) assert.deepEqual((await me(app, after)).json(), { userId: 'bob' }, 'the new login is untouched')
      if (options.ownerIndex !== false) assert.deepEqual(await app.sessions.list('ada'), [])
    })
  }
  return cases
}
