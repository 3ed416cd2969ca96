// `expired` events for sessions Redis times out by itself (keyspace notifications), on a real
// redis-server: reported once with their id, only under the store's prefix, only while something
// listens; a server that sends no notifications starts the app with a warning naming the setting.
import t, { type Test } from 'tap'
import { Writable } from 'node:stream'
import { createServer, type AddressInfo } from 'node:net'
import { Redis } from 'ioredis'
import { RedisStore } from '../../stores/redis.js'
import type { ExpiredSession, FastifyZodSessionOptions, SessionEvent } from '../../lib/index.js'
import { startRedis } from '../helpers/servers.js'
import { buildApp, idOf, sessionCookie } from '../helpers/app.js'

const server = await startRedis()
t.teardown(() => server.stop())
const redis = new Redis(server.url, { maxRetriesPerRequest: 1 })
t.teardown(async () => { await redis.quit().catch(() => redis.disconnect()) })

/** resolves with the first value `wanted` accepts; fails the test when none comes within `ms` (a deadline, not a wait) */
function waitFor<T> (ms: number, what: string): { push: (value: T) => void, until: (wanted: (value: T) => boolean) => Promise<T> } {
  const seen: T[] = []
  const waiting: Array<{ wanted: (value: T) => boolean, resolve: (value: T) => void }> = []
  return {
    push: value => {
      seen.push(value)
      for (const w of waiting) if (w.wanted(value)) w.resolve(value)
    },
    until: async wanted => {
      const already = seen.find(wanted)
      if (already !== undefined) return already
      return await new Promise<T>((resolve, reject) => {
        const timer = setTimeout(() => { reject(new Error(`no ${what} within ${ms} ms; saw ${JSON.stringify(seen)}`)) }, ms)
        waiting.push({ wanted, resolve: value => { clearTimeout(timer); resolve(value) } })
      })
    }
  }
}

/**
 * Connections in subscribe mode on the server, once it shows `expected` or 5 s have passed: a closed
 * connection (an earlier test's app included) leaves the list a moment after its QUIT reply, longer on
 * a loaded machine
 */
async function subscribers (expected: number): Promise<number> {
  let count = -1
  for (const until = Date.now() + 5_000; count !== expected && Date.now() < until;) {
    const list = await redis.client('LIST') as string
    count = list.split('\n').filter(line => /\bsub=[1-9]/.test(line)).length
  }
  return count
}

t.test('a session Redis expires raises one expired event with its id; other prefixes and owner sets do not', async t => {
  await redis.config('SET', 'notify-keyspace-events', 'Ex')
  const events = waitFor<SessionEvent>(10_000, 'expired event')
  const seen: SessionEvent[] = []
  const store = new RedisStore({ client: redis, prefix: 'ks:' })
  const app = await buildApp(t, { store, owner: data => data.userId as string | undefined, events: { expired: event => { seen.push(event); events.push(event) } } })
  const cookie = sessionCookie(await app.inject({ method: 'POST', url: '/login/ann' }))!
  const id = idOf(cookie)
  await redis.set('other:x', '1', 'PX', 20)
  await redis.pexpire('ks:owner:ann', 30)
  t.equal(await store.touch(id, Date.now() + 40), true)
  const event = await events.until(e => e.id === id)
  t.equal(event.reason, 'idle')
  t.equal(event.ip, undefined, 'no request caused it')
  // Redis finds expired keys by sampling, in no set order; reading one expires it at once. So: read the
  // other two (their expiry has passed), then expire a marker by reading it: its event comes after theirs
  t.equal(await redis.exists('other:x', 'ks:owner:ann'), 0)
  await redis.set('ks:marker', '1', 'PX', 1)
  while (await redis.exists('ks:marker') === 1);
  await events.until(e => e.id === 'marker')
  t.same(seen.map(e => e.id), [id, 'marker'], 'the session once; nothing for the other prefix or the owner set')
  t.equal((await app.inject({ url: '/read', headers: { cookie } })).json().userId, null)
})

t.test('no listener, no subscription; closing the app ends it', async t => {
  await redis.config('SET', 'notify-keyspace-events', 'Ex')
  const before = await subscribers(0)
  const quiet = await buildApp(t, { store: new RedisStore({ client: redis, prefix: 'quiet:' }) })
  t.equal(await subscribers(before), before, 'nobody listens for expired: no connection is opened')
  await quiet.close()
  const listening = await buildApp(t, { store: new RedisStore({ client: redis, prefix: 'loud:' }), events: { expired: () => {} } })
  t.equal(await subscribers(before + 1), before + 1)
  await listening.close()
  t.equal(await subscribers(before), before, 'the subscriber is closed with the app')
})

t.test('a server without expiry notifications: the app starts and says which setting to change', async t => {
  await redis.config('SET', 'notify-keyspace-events', '')
  const lines: string[] = []
  const stream = new Writable({ write (chunk, _enc, done) { lines.push(String(chunk)); done() } })
  await buildApp(t, { store: new RedisStore({ client: redis, prefix: 'off:' }), events: { expired: () => {} }, fastify: { logger: { level: 'warn', stream } } })
  const warning = lines.map(line => JSON.parse(line) as { level: number, msg: string }).find(l => l.msg.includes('notify-keyspace-events'))
  t.ok(warning, 'a warning names notify-keyspace-events')
  t.match(warning?.msg, /include "Ex"/)
})

t.test('RedisStore.watchExpired directly: ids without the prefix, stop() ends the reports', async t => {
  await redis.config('SET', 'notify-keyspace-events', 'KEA')
  const store = new RedisStore({ client: redis, prefix: 'direct:' })
  const reports = waitFor<ExpiredSession>(10_000, 'report')
  const watch = await store.watchExpired(sessions => { for (const s of sessions) reports.push(s) })
  t.equal(watch.notice, undefined, '"A" includes expiries')
  await redis.set('direct:abc', '1', 'PX', 10)
  t.same(await reports.until(s => s.id === 'abc'), { id: 'abc' })
  await watch.stop()
  await watch.stop() // idempotent
})

t.test('Redis unreachable at startup: app.ready() does not wait past storeTimeout, and closing the app ends the attempt', async t => {
  const closed = await new Promise<number>(resolve => { const s = createServer(); s.listen(0, '127.0.0.1', () => { const { port } = s.address() as AddressInfo; s.close(() => { resolve(port) }) }) })
  const down = new Redis({ port: closed, host: '127.0.0.1', maxRetriesPerRequest: null, retryStrategy: () => 20 })
  down.on('error', () => {})
  t.teardown(() => { down.disconnect() })
  const lines: string[] = []
  const stream = new Writable({ write (chunk, _enc, done) { lines.push(String(chunk)); done() } })
  const app = await buildApp(t, { store: new RedisStore({ client: down, prefix: 'down:' }), storeTimeout: '200ms', events: { expired: () => {} }, fastify: { logger: { level: 'warn', stream } } })
  t.ok(lines.some(line => line.includes('did not start within 200 ms')), 'the app started and says the watch is pending')
  await app.close()
})

/**
 * Logs in, lets Redis expire the session, and waits for its `expired` event; fails on any warning that
 * the watch did not start (the subscriber must not inherit fail-fast settings it cannot subscribe with).
 */
async function expiresThrough (t: Test, store: FastifyZodSessionOptions['store'], read: Redis, prefix: string): Promise<void> {
  await redis.config('SET', 'notify-keyspace-events', 'Ex')
  const lines: string[] = []
  const stream = new Writable({ write (chunk, _enc, done) { lines.push(String(chunk)); done() } })
  const events = waitFor<SessionEvent>(10_000, 'expired event')
  const app = await buildApp(t, { store, events: { expired: event => { events.push(event) } }, fastify: { logger: { level: 'warn', stream } } })
  const cookie = sessionCookie(await app.inject({ method: 'POST', url: '/login/ann' }))!
  const id = idOf(cookie)
  t.equal(await read.pexpire(`${prefix}${id}`, 20), 1, 'the session is in Redis under the prefix')
  t.same(lines.filter(line => line.includes('expiry notifications')), [], 'no "notifications unavailable" warning')
  const event = await events.until(e => e.id === id)
  t.equal(event.reason, 'idle')
}

t.test('expired events through a redis:// storage URL: the subscriber does not inherit the opener\'s fail-fast settings', async t => {
  await expiresThrough(t, `${server.url}/0?prefix=url:`, redis, 'url:')
})

t.test('expired events with an ioredis client configured as the README recommends (enableOfflineQueue: false)', async t => {
  const client = new Redis(server.url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    commandTimeout: 1000,
    enableAutoPipelining: true
  })
  t.teardown(async () => { await client.quit().catch(() => client.disconnect()) })
  // registered at once, as the README does: the client may still be connecting when the app starts
  await expiresThrough(t, new RedisStore({ client, prefix: 'readme:' }), redis, 'readme:')
})

t.test('watchExpired called before a README-configured client has connected waits for it: no false "no notifications" notice', async t => {
  await redis.config('SET', 'notify-keyspace-events', 'Ex')
  const client = new Redis(server.url, { enableOfflineQueue: false, maxRetriesPerRequest: 1, commandTimeout: 1000, enableAutoPipelining: true })
  t.teardown(async () => { await client.quit().catch(() => client.disconnect()) })
  const store = new RedisStore({ client, prefix: 'early:' })
  const reports = waitFor<ExpiredSession>(10_000, 'report')
  const watch = await store.watchExpired(sessions => { for (const s of sessions) reports.push(s) })
  t.teardown(() => watch.stop())
  t.equal(watch.notice, undefined, 'the notify-keyspace-events check ran once the client was connected')
  await redis.set('early:abc', '1', 'PX', 10)
  t.same(await reports.until(s => s.id === 'abc'), { id: 'abc' })
})

t.test('a store with the prefix \'\' reports only keys that can be its session ids: not another store\'s \'sess:…\' nor other keys', async t => {
  await redis.config('SET', 'notify-keyspace-events', 'Ex')
  const store = new RedisStore({ client: redis, prefix: '' })
  const reports = waitFor<ExpiredSession>(10_000, 'report')
  const seen: string[] = []
  const watch = await store.watchExpired(sessions => { for (const s of sessions) { seen.push(s.id); reports.push(s) } })
  t.teardown(() => watch.stop())
  for (const key of ['sess:abc', 'cache:user:1', 'owner:bob', 'a.b']) await redis.set(key, '1', 'PX', 1)
  while (await redis.exists('sess:abc', 'cache:user:1', 'owner:bob', 'a.b') > 0); // reading an expired key expires it at once
  await redis.set('Mine_1-x', '1', 'PX', 1)
  while (await redis.exists('Mine_1-x') === 1);
  await reports.until(s => s.id === 'Mine_1-x')
  t.same(seen, ['Mine_1-x'])
})
