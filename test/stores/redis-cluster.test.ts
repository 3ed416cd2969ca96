import t from 'tap'
import { Cluster } from 'ioredis'
import { RedisStore } from '../../stores/redis.js'
import { conformance } from './conformance.js'
import { startRedisCluster } from '../helpers/servers.js'
import { buildApp, sessionCookie } from '../helpers/app.js'
import { expiriesReportedOnce } from '../helpers/cluster-expiry.js'
import { redisCorruptions } from '../helpers/redis-corrupt.js'

const cluster = await startRedisCluster()
t.teardown(() => cluster.stop())
const client = new Cluster(cluster.nodes, { redisOptions: { maxRetriesPerRequest: 1 } })
t.teardown(async () => { await client.quit().catch(() => client.disconnect()) })

t.test('conformance on a 3-master Redis Cluster', async t => {
  conformance(t, { create: async ({ prefix }) => new RedisStore({ client, prefix }), corruptions: redisCorruptions(async (...args) => await client.call(...args as [string, ...string[]])) })
})

t.test('sessions spread over the masters and work through the plugin', async t => {
  const store = new RedisStore({ client, prefix: 'plugin:' })
  const app = await buildApp(t, { store })
  const cookies: string[] = []
  for (let i = 0; i < 30; i++) cookies.push(sessionCookie(await app.inject({ method: 'POST', url: `/login/user${i}` }))!)
  for (const [i, cookie] of cookies.entries()) {
    t.equal((await app.inject({ url: '/read', headers: { cookie } })).json().userId, `user${i}`)
  }
  const perNode = await Promise.all(client.nodes('master').map(async node => (await node.keys('plugin:*')).length))
  t.equal(perNode.reduce((a, b) => a + b, 0), 30)
  t.ok(perNode.filter(n => n > 0).length >= 2, `keys on several masters: ${perNode.join(', ')}`)
})

t.test('expired events from every master: each session Redis Cluster times out is reported once', async t => {
  const masters = client.nodes('master')
  await Promise.all(masters.map(async node => { await node.config('SET', 'notify-keyspace-events', 'Ex') }))
  const store = new RedisStore({ client, prefix: 'expiry:' })
  await expiriesReportedOnce(t, store, async () => await Promise.all(masters.map(async node => (await node.keys('expiry:*')).length)), async key => await client.exists(key))
})

t.test('expired events through a redis+cluster:// storage URL and a Cluster configured as the README recommends (no offline queue)', async t => {
  await client.ping() // connected, so that it knows the masters
  const masters = client.nodes('master')
  await Promise.all(masters.map(async node => { await node.config('SET', 'notify-keyspace-events', 'Ex') }))
  const count = (prefix: string) => async () => await Promise.all(masters.map(async node => (await node.keys(`${prefix}*`)).length))
  const exists = async (key: string): Promise<number> => await client.exists(key)
  t.test('redis+cluster://', async t => {
    const url = `redis+cluster://${cluster.nodes.map(n => `${n.host}:${n.port}`).join(',')}?prefix=urlexp:`
    await expiriesReportedOnce(t, url, count('urlexp:'), exists, { prefix: 'urlexp:' })
  })
  t.test('the README\'s Cluster', async t => {
    const readme = new Cluster(cluster.nodes, { enableOfflineQueue: false, redisOptions: { maxRetriesPerRequest: 1, commandTimeout: 1000 } })
    t.teardown(async () => { await readme.quit().catch(() => readme.disconnect()) })
    // the app starts while the Cluster is still connecting (it knows no masters yet), as in the README
    const ready = new Promise(resolve => readme.once('ready', resolve))
    await expiriesReportedOnce(t, new RedisStore({ client: readme, prefix: 'readmeexp:' }), count('readmeexp:'), exists, { prefix: 'readmeexp:', beforeLogins: async () => { await ready } })
  })
})
