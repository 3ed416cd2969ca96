// Lifecycle events: the `events` option and the diagnostics channels, one test per event, and a
// handler that throws or rejects never breaks a request.
import t from 'tap'
import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import { z } from 'zod'
import { buildApp, sessionCookie, idOf } from './helpers/app.js'
import { MemoryStore, type PruneOptions, type SessionEvent, type SessionEventHandlers } from '../lib/index.js'
import { FileStore } from '../stores/file.js'
import { tempDir } from './helpers/tmp.js'
import { join } from 'node:path'

function recorder (): { events: SessionEvent[], handlers: SessionEventHandlers } {
  const events: SessionEvent[] = []
  const push = (event: SessionEvent): void => { events.push(event) }
  return { events, handlers: { created: push, regenerated: push, rotated: push, destroyed: push, revoked: push, expired: push, bindingMismatch: push, rejected: push } }
}
const types = (events: SessionEvent[]): string[] => events.map(e => e.reason === undefined ? e.type : `${e.type}:${e.reason}`)

t.test('created, regenerated, destroyed: with the id, owner, client and time; never a cookie', async t => {
  const { events, handlers } = recorder()
  const app = await buildApp(t, { events: handlers, owner: data => data.userId as string | undefined })
  const first = sessionCookie(await app.inject({ method: 'POST', url: '/visit', headers: { 'user-agent': 'ua-1' } }))!
  const login = sessionCookie(await app.inject({ method: 'POST', url: '/login/ann', headers: { cookie: first, 'user-agent': 'ua-1' } }))!
  await app.inject({ method: 'POST', url: '/logout', headers: { cookie: login } })
  t.same(types(events), ['created', 'regenerated', 'destroyed:destroy'])
  t.equal(events[0].id, idOf(first))
  t.equal(events[0].userAgent, 'ua-1')
  t.equal(events[0].ip, '127.0.0.1')
  t.equal(events[1].id, idOf(login))
  t.equal(events[1].owner, 'ann')
  t.equal(events[1].previousId, idOf(first), 'a login names the anonymous session it replaced')
  t.equal(events[0].previousId, undefined)
  t.equal(events[2].owner, 'ann')
  t.ok(events.every(e => e.at instanceof Date))
  const secret = login.split('=')[1].split('.')[1]
  t.notOk(JSON.stringify(events).includes(secret), 'no event carries the secret')
})

t.test('rejected: a bad signature, an unknown id, a secret no longer valid', async t => {
  const { events, handlers } = recorder()
  const store = new MemoryStore()
  const app = await buildApp(t, { events: handlers, store, rotationInterval: '1s', rotationGrace: '1s' })
  const cookie = sessionCookie(await app.inject({ method: 'POST', url: '/visit' }))!
  await app.inject({ url: '/read', headers: { cookie: cookie.slice(0, -2) + 'xx' } })
  await store.destroy(idOf(cookie))
  await app.inject({ url: '/read', headers: { cookie } })
  t.same(types(events).slice(1), ['rejected:signature', 'rejected:unknown'])
  t.equal(events[2].id, idOf(cookie))
  const other = sessionCookie(await app.inject({ method: 'POST', url: '/visit' }))!
  const record = (await store.get(idOf(other)))!
  await store.set(idOf(other), { ...record, auth: { current: ['not-this-secret'], replaced: [] } })
  await app.inject({ url: '/read', headers: { cookie: other } })
  t.same(types(events).at(-1), 'rejected:secret')
})

t.test('rotated, expired (absolute) and revoked', async t => {
  const { events, handlers } = recorder()
  const store = new MemoryStore()
  const app = await buildApp(t, { events: handlers, store, owner: data => data.userId as string | undefined })
  const cookie = sessionCookie(await app.inject({ method: 'POST', url: '/login/ann' }))!
  const record = (await store.get(idOf(cookie)))!
  await store.set(idOf(cookie), { ...record, auth: { ...record.auth, rotateAt: Date.now() - 1000 } })
  const rotated = await app.inject({ method: 'POST', url: '/visit', headers: { cookie } })
  t.ok(sessionCookie(rotated))
  t.same(types(events), ['regenerated', 'rotated'])
  t.equal(events[1].owner, 'ann')
  const old = sessionCookie(await app.inject({ method: 'POST', url: '/login/ann' }))!
  const stale = (await store.get(idOf(old)))!
  await store.set(idOf(old), { ...stale, meta: { ...stale.meta, absoluteExpiresAt: Date.now() - 1 } })
  await app.inject({ url: '/read', headers: { cookie: old } })
  t.same(types(events).at(-1), 'expired:absolute')
  sessionCookie(await app.inject({ method: 'POST', url: '/login/ann' }))
  t.equal(await app.sessions.revoke('ann'), 2)
  const revoked = events.at(-1)!
  t.same([revoked.type, revoked.owner, revoked.count, revoked.reason], ['revoked', 'ann', 2, 'all'])
})

t.test('bindingMismatch, then the session destroyed', async t => {
  const { events, handlers } = recorder()
  const app = await buildApp(t, { events: handlers, bind: { userAgent: true } })
  const cookie = sessionCookie(await app.inject({ method: 'POST', url: '/login/ann', headers: { 'user-agent': 'phone' } }))!
  await app.inject({ url: '/read', headers: { cookie, 'user-agent': 'thief' } })
  t.same(types(events), ['regenerated', 'bindingMismatch:userAgent', 'destroyed:binding'])
  t.equal(events[1].userAgent, 'thief')
})

t.test('a handler that throws or rejects is logged; the request goes on', async t => {
  const warned: unknown[] = []
  const app = await buildApp(t, {
    events: { created: () => { throw new Error('audit log down') }, regenerated: async () => { throw new Error('mail down') } },
    fastify: { logger: { level: 'warn', stream: { write: (line: string) => { warned.push(JSON.parse(line)) } } } }
  })
  const created = await app.inject({ method: 'POST', url: '/visit' })
  t.equal(created.statusCode, 200)
  const login = await app.inject({ method: 'POST', url: '/login/ann' })
  t.equal(login.statusCode, 200)
  await new Promise(resolve => setImmediate(resolve))
  t.equal(warned.filter(w => (w as { msg: string }).msg === 'a session event handler failed').length, 2)
})

t.test('diagnostics_channel: every event is published on fastify-zod-session:<type>, handlers or not', async t => {
  const seen: SessionEvent[] = []
  const onCreated = (message: unknown): void => { seen.push(message as SessionEvent) }
  subscribe('fastify-zod-session:created', onCreated)
  t.teardown(() => unsubscribe('fastify-zod-session:created', onCreated))
  const app = await buildApp(t)
  const cookie = sessionCookie(await app.inject({ method: 'POST', url: '/visit' }))!
  t.equal(seen.length, 1)
  t.equal(seen[0].id, idOf(cookie))
})

t.test('events: an unknown event or a handler that is not a function fails app.ready() naming it', async t => {
  await t.rejects(buildApp(t, { events: { loggedIn: () => {} } as never }), /"events\.loggedIn": is not an event/)
  await t.rejects(buildApp(t, { events: { created: 'audit' } as never }), /"events\.created": must be a function/)
  await t.rejects(buildApp(t, { events: [] as never, schema: z.object({}) as never }), /"events": must be an object of handlers/)
})

t.test('expired: the sessions a prune removes are reported (MemoryStore and FileStore), with id and owner', async t => {
  for (const store of [new MemoryStore({ prefix: 'p:' }), new FileStore({ path: join(tempDir(t), 'sessions.jsonl') })]) {
    const { events, handlers } = recorder()
    const app = await buildApp(t, { events: handlers, store, owner: data => data.userId as string | undefined })
    const gone = sessionCookie(await app.inject({ method: 'POST', url: '/login/ann' }))!
    const kept = sessionCookie(await app.inject({ method: 'POST', url: '/login/bob' }))!
    t.equal(await store.touch(idOf(gone), Date.now() - 1), true)
    t.equal(await app.sessions.prune(), 1, store.constructor.name)
    const expired = events.filter(e => e.type === 'expired')
    t.same(expired.map(e => [e.id, e.owner, e.reason]), [[idOf(gone), 'ann', 'idle']], store.constructor.name)
    t.equal((await app.inject({ url: '/read', headers: { cookie: kept } })).json().userId, 'bob')
  }
})

t.test('prunes ask the store what it removed only while someone listens for expired (naming it costs the stores more)', async t => {
  const asked: boolean[] = []
  class Recording extends MemoryStore {
    override async prune (options?: PruneOptions): Promise<number> {
      asked.push(options?.onExpired !== undefined)
      return await super.prune(options)
    }
  }
  const quiet = await buildApp(t, { store: new Recording() })
  await quiet.sessions.prune()
  const listening = await buildApp(t, { store: new Recording(), events: { expired: () => {} } })
  await listening.sessions.prune()
  const onChannel = (): void => {}
  subscribe('fastify-zod-session:expired', onChannel)
  await quiet.sessions.prune()
  unsubscribe('fastify-zod-session:expired', onChannel)
  t.same(asked, [false, true, true], 'no listener: no onExpired; a handler or a channel subscriber: onExpired')
})
