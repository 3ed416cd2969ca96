// A master added to a Redis Cluster by resharding is watched for expiries although no request ever met
// it: node-redis's createCluster() re-reads its slot map only on a MOVED or ASK reply, so the expiry
// watch makes it re-read the map (RedisLink.refreshTopology) and subscribes to the new master, whose
// 'expired' notifications (local to each node: the cluster bus does not carry them) then reach the listener.
import t from 'tap'
import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { createClient, createCluster } from 'redis'
import { RedisStore } from '../../stores/redis.js'
import type { SessionRecord } from '../../types/index.js'
import { binary, startRedisCluster, startServer } from '../helpers/servers.js'
import { collectWarnings } from '../helpers/warnings.js'

const redisCli = binary('redis-cli', 'redis-tools')
const cli = (port: number, ...args: string[]): string => execFileSync(redisCli, ['-p', String(port), ...args], { encoding: 'utf8', timeout: 5000 }).trim()

/** polls `check` every 100 ms until it holds; fails after `ms` with what was awaited */
async function until (what: string, ms: number, check: () => boolean | Promise<boolean>): Promise<number> {
  const start = Date.now()
  while (!await check()) {
    if (Date.now() - start > ms) throw new Error(`${what}: not within ${ms} ms`)
    await new Promise(resolve => setTimeout(resolve, 100))
  }
  return Date.now() - start
}

/** the id of the node owning `slot`, from `port`'s CLUSTER NODES (migration markers "[slot->-id]" skipped) */
function ownerOf (port: number, slot: number): string | undefined {
  for (const line of cli(port, 'cluster', 'nodes').split('\n')) {
    const [id, , , , , , , , ...ranges] = line.split(' ')
    const owns = ranges.some(range => {
      if (range.startsWith('[')) return false
      const [from, to = from] = range.split('-').map(Number)
      return slot >= from && slot <= to
    })
    if (owns) return id
  }
  return undefined
}

t.test('an expired session on a master added by resharding reaches a node-redis cluster\'s watch, no request sent there', async t => {
  t.setTimeout(120_000)
  const cluster = await startRedisCluster()
  t.teardown(async () => { await cluster.stop() })
  const added = await startServer('redis-server', 'redis-server', (port, dir, busPort) => [
    '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
    '--cluster-enabled', 'yes', '--cluster-config-file', join(dir, 'nodes.conf'), '--cluster-node-timeout', '2000', '--cluster-port', String(busPort)
  ], 'redis')
  t.teardown(async () => { await added.stop() })
  const ports = cluster.nodes.map(n => n.port)
  const all = [...ports, added.port]
  for (const port of ports) cli(port, 'config', 'set', 'notify-keyspace-events', 'Ex')
  execFileSync(redisCli, ['--cluster', 'add-node', `127.0.0.1:${added.port}`, `127.0.0.1:${ports[0]}`], { stdio: 'ignore', timeout: 30_000 })
  await until('the added node known everywhere', 20_000, () => all.every(port => {
    const info = cli(port, 'cluster', 'info')
    return info.includes('cluster_state:ok') && info.includes('cluster_known_nodes:4')
  }))

  const warnings = collectWarnings(t, 'FST_SESSION_EXPIRY_GAP')
  const client = createCluster({ rootNodes: cluster.nodes.map(n => ({ url: `redis://${n.host}:${n.port}` })) })
  client.on('error', () => {})
  await client.connect()
  t.teardown(async () => { await client.close().catch(() => {}) })
  t.equal(client.masters.length, 3, 'the client knows the 3 original masters')
  const store = new RedisStore({ client, prefix: 'rs:' })
  const expired: string[] = []
  const watch = await store.watchExpired(sessions => { for (const s of sessions) expired.push(s.id) })
  t.teardown(async () => { await watch.stop() })
  t.equal(watch.notice, undefined, 'every original master publishes expiries')

  // a session id whose (empty) slot moves to the added node
  const id = randomBytes(16).toString('base64url')
  const slot = Number(cli(ports[0], 'cluster', 'keyslot', `rs:${id}`))
  const srcId = ownerOf(ports[0], slot)!
  const srcPort = ports.find(port => cli(port, 'cluster', 'myid') === srcId)!
  const dstId = cli(added.port, 'cluster', 'myid')
  t.ok(srcPort, `slot ${slot} is on 127.0.0.1:${srcPort}`)
  cli(added.port, 'cluster', 'setslot', String(slot), 'importing', srcId)
  cli(srcPort, 'cluster', 'setslot', String(slot), 'migrating', dstId)
  for (const port of [added.port, srcPort, ...ports.filter(p => p !== srcPort)]) cli(port, 'cluster', 'setslot', String(slot), 'node', dstId)
  await until('every node agreeing that the added node owns the slot', 20_000, () => all.every(port => ownerOf(port, slot) === dstId))

  const label = `127.0.0.1:${added.port}`
  const followedIn = await until(`an FST_SESSION_EXPIRY_GAP warning naming ${label} (the watch following the added master)`, 20_000,
    () => warnings.some(w => w.includes('masters changed') && w.includes(`(new: ${label}`)))
  t.comment(`watch followed the added master ${followedIn} ms after the slot moved`)
  t.ok(client.masters.some(m => m.port === added.port), 'the client learned the added master')
  t.match(cli(added.port, 'config', 'get', 'notify-keyspace-events'), /E/, 'the watch turned on expiry notifications on the added master')

  // the session written on the added node directly, not through the cluster client: no request meets it there
  const writer = createClient({ url: `redis://127.0.0.1:${added.port}` })
  writer.on('error', () => {})
  await writer.connect()
  t.teardown(async () => { await writer.close().catch(() => {}) })
  const now = Date.now()
  const record: SessionRecord = { data: {}, createdAt: now, expiresAt: now + 400, version: 0, auth: { current: ['h'], replaced: [] }, meta: {} }
  await new RedisStore({ client: writer, prefix: 'rs:' }).set(id, record)
  t.equal(await writer.exists(`rs:${id}`), 1, 'the session is on the added node')
  // reading an expired key expires it at once: no waiting for Redis's own sampling
  await until('the session expiring on the added node', 10_000, async () => await writer.exists(`rs:${id}`) === 0)
  await until(`the 'expired' event of ${id}`, 10_000, () => expired.includes(id))
  t.same(expired, [id], 'reported once')
})
