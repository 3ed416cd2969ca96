// An ioredis client made with `keyPrefix` (as apps sharing one Redis often make theirs): ioredis puts it
// before every key it is sent, but SCAN answers, and expiry notifications name, keys as Redis holds
// them. stats() and `expired` events must see the store's sessions through it, on a server and on a
// Cluster (whose keyPrefix is the Cluster's own option, or its nodes' through redisOptions).
import t from 'tap'
import { Cluster, Redis } from 'ioredis'
import { RedisStore } from '../../stores/redis.js'
import type { ExpiredSession, SessionRecord } from '../../types/index.js'
import { conformance } from './conformance.js'
import { startRedis, startRedisCluster } from '../helpers/servers.js'
import { redisCorruptions } from '../helpers/redis-corrupt.js'
import { expiriesReportedOnce } from '../helpers/cluster-expiry.js'

const server = await startRedis()
t.teardown(() => server.stop())
const plain = new Redis(server.url, { maxRetriesPerRequest: 1 })
const prefixed = new Redis(server.url, { maxRetriesPerRequest: 1, keyPrefix: 'app1:' })
t.teardown(async () => { for (const c of [plain, prefixed]) await c.quit().catch(() => c.disconnect()) })

const record = (owner: string, expiresAt = Date.now() + 60_000): SessionRecord => ({
  data: { n: 1 }, createdAt: Date.now(), expiresAt, version: 0, auth: { current: ['h'], replaced: [] }, meta: { owner, lastAccessAt: Date.now() }
})

t.test('conformance through a client with keyPrefix (every key under it)', async t => {
  conformance(t, { create: async ({ prefix }) => new RedisStore({ client: prefixed, prefix }), corruptions: redisCorruptions(async (...args) => await prefixed.call(...args as [string, ...string[]])) })
})

t.test('stats() counts the sessions under the client\'s keyPrefix, and only those', async t => {
  const inside = new RedisStore({ client: prefixed, prefix: 'kp:' })
  const outside = new RedisStore({ client: plain, prefix: 'kp:' })
  await inside.set('a1', record('ann'))
  await inside.set('a2', record('ann'))
  await outside.set('b1', record('bob'))
  t.same(await plain.keys('*kp:*').then(keys => keys.sort()), ['app1:kp:a1', 'app1:kp:a2', 'app1:kp:owner:ann', 'kp:b1', 'kp:owner:bob'])
  t.same(await inside.stats(), { sessions: 2, owners: { ann: 2 } })
  t.same(await outside.stats(), { sessions: 1, owners: { bob: 1 } })
  t.same(await inside.listByOwner('ann').then(ids => ids.sort()), ['a1', 'a2'])
  t.equal(await inside.destroyByOwner('ann'), 2)
  t.same(await inside.stats(), { sessions: 0, owners: {} })
})

t.test('stats() counts what the store reads: keys named alike through keyPrefix and prefix are the same sessions; another keyPrefix that extends this one is not', async t => {
  const a = new Redis(server.url, { maxRetriesPerRequest: 1, keyPrefix: 'ov:' })
  const app = new Redis(server.url, { maxRetriesPerRequest: 1, keyPrefix: 'ovapp' })
  const app2 = new Redis(server.url, { maxRetriesPerRequest: 1, keyPrefix: 'ovapp2' })
  t.teardown(async () => { for (const c of [a, app, app2]) await c.quit().catch(() => c.disconnect()) })
  const split = new RedisStore({ client: a, prefix: 'b:' })
  const whole = new RedisStore({ client: plain, prefix: 'ov:b:' })
  await split.set('s1', record('ann'))
  await whole.set('s2', record('ann'))
  for (const store of [split, whole]) {
    t.same(await store.listByOwner('ann').then(ids => ids.sort()), ['s1', 's2'])
    t.same(await store.stats(), { sessions: 2, owners: { ann: 2 } }, 'both sessions, as it reads and lists both')
  }
  await whole.touch('s1', Date.now() + 60_000)
  t.same(await split.stats(), { sessions: 2, owners: { ann: 2 } }, 'a touch by the other store moves nothing')
  const short = new RedisStore({ client: app, prefix: '' })
  const long = new RedisStore({ client: app2, prefix: '' })
  await short.set('x1', record('ann'))
  await long.set('x2', record('bob'))
  t.same(await short.stats(), { sessions: 1, owners: { ann: 1 } }, '\'ovapp\' does not count \'ovapp2\'\'s session, whose key it matches')
  t.same(await long.stats(), { sessions: 1, owners: { bob: 1 } })
})

t.test('a hash that recorded the store\'s prefix without the client\'s keyPrefix (written before hashes recorded it) still counts', async t => {
  const store = new RedisStore({ client: prefixed, prefix: 'old:' })
  await store.set('o1', record('ann'))
  const cold = JSON.parse(await prefixed.hget('old:o1', '_r') as string) as [string, string, string, Record<string, string>]
  t.equal(cold[1], 'app1:old:', 'a hash records the prefix its key is held under')
  cold[1] = 'old:'
  await prefixed.hset('old:o1', '_r', JSON.stringify(cold))
  t.same(await store.stats(), { sessions: 1, owners: { ann: 1 } })
  const fields = new RedisStore({ client: prefixed, prefix: 'old:', layout: 'fields' })
  await fields.set('o2', record('bob'))
  t.equal(await prefixed.hget('old:o2', '_p'), 'app1:old:')
  await prefixed.hset('old:o2', '_p', 'old:')
  t.same(await fields.stats(), { sessions: 2, owners: { ann: 1, bob: 1 } })
})

t.test('a session Redis expires under the client\'s keyPrefix raises its expired event', async t => {
  await plain.config('SET', 'notify-keyspace-events', 'Ex')
  const store = new RedisStore({ client: prefixed, prefix: 'kx:' })
  const other = new RedisStore({ client: plain, prefix: 'kx:' })
  const seen: ExpiredSession[] = []
  let done: () => void = () => {}
  const reported = new Promise<void>(resolve => { done = resolve })
  const watch = await store.watchExpired(list => { seen.push(...list); if (seen.some(s => s.id === 'gone')) done() })
  t.teardown(() => watch.stop())
  // far enough ahead that a loaded machine still sets it in the future (a PEXPIREAT in the past is a 'del')
  await other.set('notmine', record('x', Date.now() + 300))
  await store.set('gone', record('ann', Date.now() + 300))
  while (await plain.exists('app1:kx:gone', 'kx:notmine') > 0); // reading an expired key expires it
  let timer: NodeJS.Timeout | undefined
  await Promise.race([reported, new Promise((_resolve, reject) => { timer = setTimeout(() => { reject(new Error(`no expired event: ${JSON.stringify(seen)}`)) }, 10_000) })])
  clearTimeout(timer)
  t.same(seen, [{ id: 'gone' }], 'its own session, not the one of the client without the keyPrefix')
})

t.test('a keyPrefix the store cannot compare as text is refused when the store is made', async t => {
  const buffer = new Redis(server.url, { lazyConnect: true, keyPrefix: Buffer.from('b:') as unknown as string })
  t.throws(() => new RedisStore({ client: buffer }), { name: 'TypeError', message: /keyPrefix/ })
  const surrogate = new Redis(server.url, { lazyConnect: true, keyPrefix: 'x\ud800:' })
  t.throws(() => new RedisStore({ client: surrogate }), { name: 'TypeError', message: /keyPrefix.*lone surrogate/ })
  buffer.disconnect()
  surrogate.disconnect()
})

t.test('a Cluster with keyPrefix: stats() over every master, expired events from each', async t => {
  const cluster = await startRedisCluster()
  t.teardown(() => cluster.stop())
  const raw = new Cluster(cluster.nodes, { redisOptions: { maxRetriesPerRequest: 1 } })
  t.teardown(async () => { await raw.quit().catch(() => raw.disconnect()) })
  await raw.ping()
  await Promise.all(raw.nodes('master').map(async node => { await node.config('SET', 'notify-keyspace-events', 'Ex') }))
  const perMaster = (pattern: string) => async () => await Promise.all(raw.nodes('master').map(async node => (await node.keys(pattern)).length))
  const clients = {
    'the Cluster\'s own keyPrefix': new Cluster(cluster.nodes, { keyPrefix: 'c1:', redisOptions: { maxRetriesPerRequest: 1 } }),
    'its nodes\' keyPrefix (redisOptions)': new Cluster(cluster.nodes, { redisOptions: { maxRetriesPerRequest: 1, keyPrefix: 'c2:' } }),
    // the Cluster's applies to what goes through it; its nodes' clients add theirs
    'both, different': new Cluster(cluster.nodes, { keyPrefix: 'c3:', redisOptions: { maxRetriesPerRequest: 1, keyPrefix: 'other:' } })
  }
  for (const [name, client] of Object.entries(clients)) {
    t.teardown(async () => { await client.quit().catch(() => client.disconnect()) })
    const keyPrefix = client.options.keyPrefix as string
    t.test(name, async t => {
      const store = new RedisStore({ client, prefix: 'st:' })
      for (let i = 0; i < 12; i++) await store.set(`s${i}`, record(i % 2 === 0 ? 'ann' : 'bob'))
      const keys = await perMaster(`${keyPrefix}st:s*`)()
      t.ok(keys.filter(n => n > 0).length >= 2, `sessions on several masters: ${keys.join(', ')}`)
      t.same(await store.stats(), { sessions: 12, owners: { ann: 6, bob: 6 } })
      await expiriesReportedOnce(t, new RedisStore({ client, prefix: 'ex:' }), perMaster(`${keyPrefix}ex:*`), async key => await raw.exists(keyPrefix + key), { prefix: 'ex:' })
    })
  }
})
