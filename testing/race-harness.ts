// The race suite's harness, shared by races.ts and the *-races.ts files it composes: the gated app,
// the frozen clock and the case builder's types. It imports none of them.
import assert from 'node:assert/strict'
import Fastify, { type FastifyInstance } from 'fastify'
import { z } from 'zod'
import fastifyZodSession, { type FastifyZodSessionOptions } from '../lib/index.js'
import type { SessionStore } from '../types/index.js'

export interface RaceOptions {
  /** a store for one case; closed after it */
  create: () => Promise<SessionStore>
  /** the store lists sessions by owner (fastify.sessions.revoke); default true */
  ownerIndex?: boolean
}

const SECRET = 'race-suite-secret-race-suite-secret-0123456789'
/** the race app's schema (start() takes another) */
export const Schema = z.object({
  userId: z.string().optional(),
  a: z.string().optional(),
  b: z.string().optional(),
  c: z.string().optional(),
  note: z.string().optional(),
  n: z.number().int().optional(),
  cart: z.array(z.string()).default([])
}).catchall(z.string())

interface Gate { name: string, entered: Promise<void>, open: () => void }
interface Sent { status: number, cookie: string | undefined, setCookie: string[], body: any }

/** A gated app: `/w/:gate/:key/:value` waits for the named gate after loading, then sets the key. */
export class RaceApp {
  readonly gates = new Map<string, { enter: () => void, wait: Promise<void> }>()
  app!: FastifyInstance

  #gate (): Gate {
    const name = `g${this.gates.size}`
    let enter!: () => void
    let open!: () => void
    const entered = new Promise<void>(resolve => { enter = resolve })
    const wait = new Promise<void>(resolve => { open = resolve })
    this.gates.set(name, { enter, wait })
    return { name, entered, open }
  }

  /**
   * Sends the requests (`{gate}` in a URL names its gate), holds each in its handler after its session
   * loaded, runs `meanwhile`, then lets them all finish together.
   */
  async held (requests: Array<[method: 'GET' | 'POST', url: string, cookie?: string]>, meanwhile?: () => Promise<void>): Promise<Sent[]> {
    const gates = requests.map(() => this.#gate())
    const pending = requests.map(([method, url, cookie], i) => this.send(method, url.replace('{gate}', gates[i].name), cookie))
    await Promise.all(gates.map(g => g.entered))
    await meanwhile?.()
    for (const g of gates) g.open()
    return await Promise.all(pending)
  }

  async #hold (name: string): Promise<void> {
    const gate = this.gates.get(name)
    if (gate === undefined) return
    gate.enter()
    await gate.wait
  }

  async start (store: SessionStore, options: Partial<FastifyZodSessionOptions> = {}, schema: z.ZodType = Schema): Promise<this> {
    const app = Fastify()
    await app.register(fastifyZodSession, { secret: SECRET, schema: schema as never, store, pruneInterval: null, owner: (d: { userId?: string }) => d.userId, ...options })
    app.post('/login/:user', async request => {
      await request.session.regenerate()
      request.session.set('userId', (request.params as { user: string }).user)
      return { ok: true }
    })
    app.post('/login-held/:gate/:user', async request => {
      await request.session.regenerate()
      request.session.set('userId', (request.params as { user: string }).user)
      await this.#hold((request.params as { gate: string }).gate)
      return { ok: true }
    })
    app.post('/w/:gate/:key/:value', async request => {
      const { gate, key, value } = request.params as Record<string, string>
      await this.#hold(gate)
      request.session.set(key as never, value as never)
      return { ok: true }
    })
    app.post('/inc/:gate', async request => {
      await this.#hold((request.params as { gate: string }).gate)
      return { n: request.session.update('n' as never, ((n: number | undefined) => (n ?? 0) + 1) as never) }
    })
    app.get('/r/:gate', async request => {
      await this.#hold((request.params as { gate: string }).gate)
      return { userId: request.session.get('userId') ?? null }
    })
    app.post('/clear/:gate', async request => {
      await this.#hold((request.params as { gate: string }).gate)
      request.session.clear()
      return { ok: true }
    })
    app.post('/logout', async request => {
      await request.session.destroy()
      return { ok: true }
    })
    app.post('/revoke/:user', async request => {
      const removed = await app.sessions.revoke((request.params as { user: string }).user, { except: request.session })
      return { removed }
    })
    app.post('/refresh/:seconds', async request => {
      await request.session.refresh({ idleTimeout: Number((request.params as { seconds: string }).seconds) })
      return { ok: true }
    })
    app.post('/regenerate-keep', async request => {
      await request.session.regenerate(['cart'])
      return { ok: true }
    })
    app.post('/regenerate-then-fail', async (request, reply) => {
      await request.session.regenerate()
      request.session.set('userId', 'mallory')
      return reply.code(500).send({ error: 'user database down' })
    })
    app.post('/save-then-mutate', async request => {
      request.session.data.cart.push('first')
      await request.session.save()
      request.session.data.cart.push('after-save')
      return { ok: true }
    })
    app.get('/read', async request => ({ ...request.session.data, isNew: request.session.isNew, id: request.session.id, createdAt: request.session.createdAt.getTime() }))
    await app.ready()
    this.app = app
    return this
  }

  async send (method: 'GET' | 'POST', url: string, cookie?: string): Promise<Sent> {
    const res = await this.app.inject({ method, url, headers: cookie === undefined ? {} : { cookie } })
    const header = res.headers['set-cookie']
    const setCookie = header === undefined ? [] : Array.isArray(header) ? header : [header]
    const session = setCookie.find(c => c.startsWith('session_id='))
    const value = session?.split(';')[0]
    return { status: res.statusCode, cookie: value === 'session_id=' ? undefined : value, setCookie, body: res.json() }
  }

  async userOf (cookie: string): Promise<string | null> {
    return (await this.send('GET', '/r/none', cookie)).body.userId
  }

  async login (user: string): Promise<string> {
    const res = await this.send('POST', `/login/${user}`)
    assert.ok(res.cookie, 'login sets a cookie')
    return res.cookie
  }
}

/** the session id a `session_id=…` cookie carries */
export const idOf = (cookie: string): string => decodeURIComponent(cookie.split('=')[1]).slice(0, 22)

export type FrozenClock = () => { advance: (ms: number) => void, restore: () => void }

/** Date.now frozen at the real time and moved only by the test (stores with native TTLs agree within minutes) */
export const clock: FrozenClock = () => {
  const real = Date.now
  let now = real()
  Date.now = () => now
  return { advance: ms => { now += ms }, restore: () => { Date.now = real } }
}

/** adds one race case: `body` gets a store of its own and a RaceApp, both closed afterwards */
export type Race = (name: string, body: (store: SessionStore, r: RaceApp) => Promise<void>) => void
