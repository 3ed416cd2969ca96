// Late answers: fastify.sessions and the periodic prune when the store hangs. The rules a late
// answer must leave on every store (a login saved after its 503, a rotation answering late) are in the
// race suite (testing/late-races.ts), run against every store on its real backend.
import t from 'tap'
import { MemoryStore } from '../lib/index.js'
import { LateStore } from '../testing/late-races.js'
import { buildApp } from './helpers/app.js'

const owner = (d: { userId?: string }): string | undefined => d.userId

const calls = {
  'list() (its listByOwner)': ['listByOwner', '/list'],
  'list() (its reads)': ['get', '/list'],
  'revoke()': ['destroyByOwner', '/revoke'],
  'prune()': ['prune', '/prune'],
  'stats()': ['stats', '/stats']
} as const

for (const [name, [method, url]] of Object.entries(calls)) {
  t.test(`fastify.sessions.${name} answers FST_SESSION_STORE_UNAVAILABLE when the store hangs, not never`, { timeout: 20_000 }, async t => {
    const late = new LateStore(new MemoryStore())
    const app = await buildApp(t, { store: late.store, owner: owner as never, storeTimeout: '100ms', pruneInterval: null }, app => {
      app.get('/list', async () => await app.sessions.list('ann'))
      app.get('/revoke', async () => ({ removed: await app.sessions.revoke('ann') }))
      app.get('/prune', async () => ({ removed: await app.sessions.prune() }))
      app.get('/stats', async () => await app.sessions.stats())
    })
    await app.inject({ method: 'POST', url: '/login/ann' })
    t.equal((await app.inject({ url })).statusCode, 200, 'answers while the store does')
    const held = late.hold(method)
    const res = await app.inject({ url })
    t.equal(res.statusCode, 503)
    t.equal(res.json().code, 'FST_SESSION_STORE_UNAVAILABLE')
    held.release()
    await late.settled()
  })
}

t.test('fastify.sessions.stats() counts the live sessions and their owners; a store that cannot count answers FST_SESSION_UNSUPPORTED', async t => {
  const app = await buildApp(t, { owner: owner as never })
  await app.inject({ method: 'POST', url: '/login/ann' })
  await app.inject({ method: 'POST', url: '/login/ann' })
  await app.inject({ method: 'POST', url: '/login/bob' })
  t.same(await app.sessions.stats(), { sessions: 3, owners: { ann: 2, bob: 1 } })
  const store = new MemoryStore() as unknown as Record<string, unknown>
  store.stats = undefined
  const uncounted = await buildApp(t, { store: store as never })
  await t.rejects(uncounted.sessions.stats(), { code: 'FST_SESSION_UNSUPPORTED', statusCode: 501 })
})

t.test('the periodic prune never piles up behind a hung one: ticks are skipped while it is in flight, its wait is bounded, and pruning resumes once it answers', { timeout: 20_000 }, async t => {
  // the prune timer is unref'd: keep the process up while the test waits for its ticks
  const alive = setInterval(() => {}, 60_000)
  t.teardown(() => { clearInterval(alive) })
  const late = new LateStore(new MemoryStore())
  const held = late.hold('prune')
  const logged: Array<{ level: number, msg: string }> = []
  let check = (): void => {}
  const until = async (done: () => boolean): Promise<void> => {
    await new Promise<void>(resolve => { check = () => { if (done()) resolve() }; check() })
  }
  late.onCall = () => { check() }
  const stream = { write (line: string) { logged.push(JSON.parse(line)); check() } }
  const skipped = (): number => logged.filter(l => /session prune skipped/.test(l.msg)).length
  const bounded = (): boolean => logged.some(l => l.level === 40 && /session prune got no answer within 500 ms/.test(l.msg))
  const prunes = (): number => late.calls.get('prune') ?? 0
  await buildApp(t, { store: late.store, pruneInterval: '20ms', storeTimeout: '50ms', fastify: { logger: { level: 'debug', stream } } })
  await held.entered
  await until(() => (skipped() >= 3 && bounded()) || prunes() > 1)
  t.equal(prunes(), 1, 'no second prune while the first is in flight')
  t.ok(skipped() >= 3, 'the ticks meanwhile are skipped')
  t.ok(bounded(), 'a warning once it is past its bound (10 × storeTimeout)')
  held.release()
  await until(() => prunes() > 1)
  t.pass('once it answered, the next tick prunes')
  await late.settled()
})
