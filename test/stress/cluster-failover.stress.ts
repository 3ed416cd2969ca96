import t, { type Test } from 'tap'
import { createRequire } from 'node:module'
import { Cluster } from 'ioredis'
import { createCluster } from 'redis'
import { createCluster as createCluster6 } from 'redis6'
import { RedisStore } from '../../stores/redis.js'
import { startRedisClusterWithReplicas, type ClusterNode, type ReplicatedCluster } from '../helpers/servers.js'
import { buildApp, idOf, sessionCookie } from '../helpers/app.js'

t.setTimeout(900_000)

// Failover: a Redis Cluster with replicas (3 masters + 3 replicas, cluster-node-timeout 2000), USERS
// logged-in users with one request loop each, one master SIGKILLed under load, for each client the
// README offers (configured as the README says). After the promotion plus RECOVERY_MS every user's
// requests succeed with their data; list/revoke/stats work; `expired` events come from the promoted
// master; the killed node restarted rejoins as a replica while requests go on succeeding (the same with
// the master frozen by SIGSTOP and thawed, a network partition's look). The seconds
// measured are printed as comments (promotion, the 503 window, the expiry watch's recovery).

const USERS = Number(process.env.FZS_FAILOVER_USERS ?? 100)
/** after the promotion, every request succeeds within this (generous: a loaded 2-core machine) */
const RECOVERY_MS = 5_000
/** the ioredis Cluster's and node-redis's command/connect timeouts, as in the README */
const TIMEOUT_MS = 1000
/**
 * a user's counter never goes backwards (a lower value answered 200 after a higher one): the late
 * writes that can land around a failover, fixed in lib/ separately. While false, backwards counters
 * are reported (a comment), not failed on.
 */
const ASSERT_MONOTONIC = true

const keySlot = createRequire(import.meta.url)('cluster-key-slot') as (key: string) => number
const rejections: unknown[] = []
process.on('unhandledRejection', reason => { rejections.push(reason) })
const gapWarnings: Array<{ at: number, message: string }> = []
process.on('warning', warning => { if ((warning as { code?: string }).code === 'FST_SESSION_EXPIRY_GAP') gapWarnings.push({ at: Date.now(), message: warning.message }) })

const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }
const seconds = (ms: number): string => (ms / 1000).toFixed(1)

/** polls `check` until it is true, failing after `ms` with `what` */
async function until (what: string, ms: number, check: () => boolean | Promise<boolean>, every = 100): Promise<void> {
  const deadline = Date.now() + ms
  while (!await check()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`)
    await sleep(every)
  }
}

/** the slot ranges `node` serves as a master, from its own CLUSTER NODES line */
function slotsOf (cluster: ReplicatedCluster, node: ClusterNode): Array<[number, number]> {
  const mine = cluster.cli(node.port, 'cluster', 'nodes').split('\n').find(line => line.split(' ')[2]?.includes('myself'))
  return (mine?.split(' ').slice(8) ?? []).filter(r => /^\d/.test(r)).map(r => {
    const [from, to] = r.split('-').map(Number)
    return [from, to ?? from]
  })
}
const inSlots = (ranges: Array<[number, number]>, key: string): boolean => {
  const slot = keySlot(key)
  return ranges.some(([from, to]) => slot >= from && slot <= to)
}

interface Sample { user: number, at: number, ms: number, status: number, visits?: number, userId?: string | null }
interface Client { store: RedisStore, exists: (key: string) => Promise<number>, errors: () => number, close: () => Promise<void> }

const CLIENTS: Record<string, (cluster: ReplicatedCluster) => Promise<Client>> = {
  'ioredis Cluster': async cluster => {
    // the README's settings
    const client = new Cluster(cluster.nodes.map(n => ({ host: n.host, port: n.port })), {
      enableOfflineQueue: false,
      redisOptions: { maxRetriesPerRequest: 1, commandTimeout: TIMEOUT_MS }
    })
    let errors = 0
    client.on('error', () => { errors++ })
    await new Promise(resolve => client.once('ready', resolve))
    return {
      store: new RedisStore({ client, prefix: 'fo:' }),
      exists: async key => await client.exists(key),
      errors: () => errors,
      close: async () => { await client.quit().catch(() => { client.disconnect() }) }
    }
  },
  'node-redis 5 createCluster': async cluster => await nodeRedis(cluster, createCluster),
  'node-redis 6 createCluster': async cluster => await nodeRedis(cluster, createCluster6 as unknown as typeof createCluster)
}

async function nodeRedis (cluster: ReplicatedCluster, make: typeof createCluster): Promise<Client> {
  // the README's settings
  const client = make({
    rootNodes: cluster.nodes.map(n => ({ url: `redis://${n.host}:${n.port}` })),
    defaults: {
      disableOfflineQueue: true,
      socket: { connectTimeout: TIMEOUT_MS, reconnectStrategy: (retries: number) => Math.min(retries * 100, 500) }
    }
  })
  let errors = 0
  client.on('error', () => { errors++ })
  await client.connect()
  return {
    store: new RedisStore({ client, prefix: 'fo:' }),
    exists: async key => await client.exists(key),
    errors: () => errors,
    close: async () => { await client.close().catch(() => { client.destroy() }) }
  }
}

async function failover (t: Test, name: string, signal: Signal): Promise<void> {
  const cluster = await startRedisClusterWithReplicas()
  t.teardown(() => cluster.stop())
  const masters = cluster.nodes.filter(n => cluster.role(n) === 'master')
  t.equal(masters.length, 3, '3 masters')
  // notify-keyspace-events set on the masters only: the promoted replica has none until the store sets it
  for (const node of masters) cluster.cli(node.port, 'config', 'set', 'notify-keyspace-events', 'Ex')
  const client = await CLIENTS[name](cluster)
  t.teardown(() => client.close())
  const expired = new Map<string, number>()
  const app = await buildApp(t, {
    store: client.store,
    pruneInterval: null,
    owner: (data: { userId?: string }) => data.userId,
    events: { expired: (event: { id?: string }) => { expired.set(event.id!, Date.now()) } }
  } as never)
  await app.listen({ port: 0, host: '127.0.0.1' })
  const base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`

  const victim = masters[0]
  const victimSlots = slotsOf(cluster, victim)
  const replica = cluster.nodes.find(n => n !== victim && new RegExp(`master_port:${victim.port}\\b`).test(cluster.cli(n.port, 'info', 'replication')))!
  t.ok(replica !== undefined, `the victim ${victim.port} has a replica`)

  const cookies: string[] = []
  for (let i = 0; i < USERS; i++) cookies.push(sessionCookie(await app.inject({ method: 'POST', url: `/login/u${i}` }))!)
  const onVictim = new Set(cookies.map((c, i) => inSlots(victimSlots, `fo:${idOf(c)}`) ? i : -1).filter(i => i >= 0))
  t.ok(onVictim.size > 0 && onVictim.size < USERS, `${onVictim.size} of ${USERS} sessions on the master to be killed`)

  const samples: Sample[] = []
  const load = { running: true }
  const workers = cookies.map(async (cookie, user) => {
    for (let n = 0; load.running; n++) {
      const started = Date.now()
      const visit = n % 2 === 0
      try {
        const res = await fetch(`${base}${visit ? '/visit' : '/read'}`, { method: visit ? 'POST' : 'GET', headers: { cookie } })
        const body = await res.json().catch(() => ({})) as { visits?: number, userId?: string | null }
        samples.push({ user, at: started, ms: Date.now() - started, status: res.status, visits: body.visits, userId: body.userId })
      } catch {
        samples.push({ user, at: started, ms: Date.now() - started, status: 0 })
      }
      await sleep(50)
    }
  })

  await sleep(2000)
  if (signal === 'SIGKILL') await victim.kill()
  else process.kill(victim.process!.pid!, 'SIGSTOP')
  const diedAt = Date.now()
  await until('the replica promoted', 30_000, () => cluster.role(replica) === 'master', 50)
  const promotedAt = Date.now()
  t.comment(`${name}: replica promoted ${seconds(promotedAt - diedAt)} s after the kill`)
  await sleep(RECOVERY_MS + 3000)
  const boundAt = promotedAt + RECOVERY_MS

  const failed = samples.filter(s => s.at >= diedAt && s.status !== 200)
  const lastFailure = failed.reduce((last, s) => Math.max(last, s.at + s.ms), diedAt)
  const others = failed.filter(s => !onVictim.has(s.user))
  const onDead = failed.filter(s => onVictim.has(s.user))
  if (onDead.length > 0) t.comment(`${name}: the dead master's sessions answered non-200 from ${seconds(Math.min(...onDead.map(s => s.at)) - diedAt)} s to ${seconds(Math.max(...onDead.map(s => s.at + s.ms)) - diedAt)} s after the kill`)
  if (others.length > 0) t.comment(`${name}: the other masters' sessions answered non-200 from ${seconds(Math.min(...others.map(s => s.at)) - diedAt)} s to ${seconds(Math.max(...others.map(s => s.at + s.ms)) - diedAt)} s after the kill (the cluster refuses every command while a master is failed and not yet replaced)`)
  t.comment(`${name}: ${failed.length} failed requests (${others.length} of sessions on other masters), statuses ${[...new Set(failed.map(s => s.status))].join(', ') || 'none'}; the last ended ${seconds(lastFailure - diedAt)} s after the kill (${seconds(lastFailure - promotedAt)} s after the promotion); slowest failure ${Math.max(0, ...failed.map(s => s.ms))} ms`)
  t.ok(lastFailure <= boundAt, `every request succeeds from ${seconds(RECOVERY_MS)} s after the promotion on (last failure ${seconds(lastFailure - promotedAt)} s after it)`)
  const after = samples.filter(s => s.at >= boundAt)
  const wrong = after.filter(s => s.status !== 200 || (s.userId !== undefined && s.userId !== `u${s.user}`))
  t.same(wrong.slice(0, 5), [], `after the bound: ${after.length} requests, all 200 with the user's own data`)
  const served = new Set(after.filter(s => s.status === 200).map(s => s.user))
  t.equal(served.size, USERS, 'every user served after the failover')

  // the killed node comes back (the frozen one thaws) and rejoins as a replica while the load goes on
  const restartingAt = Date.now()
  if (signal === 'SIGKILL') await victim.restart()
  else process.kill(victim.process!.pid!, 'SIGCONT')
  await cluster.settled(60_000)
  t.equal(cluster.role(victim), 'slave', 'the killed node rejoined as a replica')
  await sleep(3000)
  load.running = false
  await Promise.all(workers)
  const rejoin = samples.filter(s => s.at >= restartingAt)
  t.same(rejoin.filter(s => s.status !== 200).slice(0, 5), [], `while the killed node rejoined: ${rejoin.length} requests, all 200`)

  // every user logged in with their data: read once more, counters never behind
  const backwards: string[] = []
  const highest = new Map<number, number>()
  for (const s of [...samples].sort((a, b) => a.at - b.at)) {
    if (s.status !== 200 || s.visits === undefined) continue
    const top = highest.get(s.user) ?? 0
    if (s.visits < top) backwards.push(`u${s.user}: ${s.visits} after ${top} (${seconds(s.at - diedAt)} s after the kill, ${seconds(s.at - restartingAt)} s after the restart or thaw)`)
    else highest.set(s.user, s.visits)
  }
  if (backwards.length > 0) t.comment(`${name}: ${backwards.length} answers showed a counter lower than an earlier one: ${backwards.slice(0, 5).join('; ')}`)
  if (ASSERT_MONOTONIC) t.same(backwards, [], 'no counter goes backwards')
  const reads = await Promise.all(cookies.map(async cookie => (await app.inject({ url: '/read', headers: { cookie } })).json() as { userId: string | null, isNew: boolean }))
  t.same(reads.map((r, i) => r.userId === `u${i}` && !r.isNew ? null : i).filter(i => i !== null), [], 'every user still logged in with their data')

  // list, stats and revoke on the topology after the failover
  const lists = await Promise.all(cookies.map(async (_, i) => await app.sessions.list(`u${i}`)))
  t.same(lists.map((l, i) => l.length === 1 && l[0].id === idOf(cookies[i]) ? null : i).filter(i => i !== null), [], 'list: each user has their one session')
  const stats = await app.sessions.stats()
  t.same(cookies.map((_, i) => stats.owners?.[`u${i}`] === 1 ? null : i).filter(i => i !== null), [], `stats: ${stats.sessions} sessions, each user's counted`)
  const revoked = cookies.map((_, i) => i).filter(i => i % 10 === 0)
  t.same(await Promise.all(revoked.map(async i => await app.sessions.revoke(`u${i}`))), revoked.map(() => 1), 'revoke: one session each')
  for (const i of revoked) {
    t.equal((await app.inject({ url: '/read', headers: { cookie: cookies[i] } })).json().isNew, true, `u${i} logged out`)
    t.same(await app.sessions.list(`u${i}`), [], `u${i} lists nothing`)
  }

  // `expired` events from the promoted master: sessions created now whose keys it holds, timed out
  const promotedSlots = slotsOf(cluster, replica)
  const fresh: string[] = []
  for (let i = 0; fresh.length < 5 && i < 500; i++) {
    const id = idOf(sessionCookie(await app.inject({ method: 'POST', url: `/login/e${i}` }))!)
    if (inSlots(promotedSlots, `fo:${id}`)) fresh.push(id)
  }
  t.equal(fresh.length, 5, '5 new sessions on the promoted master')
  t.match(cluster.cli(replica.port, 'config', 'get', 'notify-keyspace-events'), /E.*x|x.*E|A/, 'the store set notify-keyspace-events on the promoted master')
  const expiring = Date.now()
  // a deadline far enough ahead that Redis runs the script before it passes (else a 'del', not 'expired')
  for (const id of fresh) t.equal(await client.store.touch(id, Date.now() + 300), true)
  // reading an expired key expires it at once
  await until('the sessions expired in Redis', 15_000, async () => (await Promise.all(fresh.map(async id => await client.exists(`fo:${id}`)))).every(n => n === 0))
  await until(`'expired' events for the promoted master's sessions (got ${fresh.filter(id => expired.has(id)).length} of 5)`, 15_000, () => fresh.every(id => expired.has(id)))
  t.comment(`${name}: expired events arrived ${Math.max(...fresh.map(id => expired.get(id)! - expiring))} ms after the touch`)
  // the warning naming the promoted replica (ioredis may first drop the dead master, and re-add it from a slot map read before the promotion)
  const gap = gapWarnings.find(w => w.at >= diedAt && w.message.includes(`(new: ${replica.host}:${replica.port}`))
  t.ok(gap !== undefined, `the expiry watch's gap was warned: ${gap?.message ?? 'none'}`)
  if (gap !== undefined) t.comment(`${name}: the expiry watch followed the promotion ${seconds(gap.at - promotedAt)} s after it`)
  t.comment(`${name}: ${client.errors()} client 'error' events`)
  t.same(rejections, [], 'no unhandled rejection')
  gapWarnings.length = 0
}

// SIGKILL: the node's connections close at once. SIGSTOP: it hangs with them open (a network
// partition), so nothing fails but the commands' wait; the killed node is restarted, the frozen one thawed.
// FZS_FAILOVER_SIGNALS (SIGKILL,SIGSTOP) and FZS_FAILOVER_CLIENTS (name prefixes: ioredis,node-redis 5) pick the runs.
type Signal = 'SIGKILL' | 'SIGSTOP'
const SIGNALS = (process.env.FZS_FAILOVER_SIGNALS ?? 'SIGKILL,SIGSTOP').split(',') as Signal[]
for (const signal of SIGNALS) {
  for (const name of Object.keys(CLIENTS).filter(name => process.env.FZS_FAILOVER_CLIENTS === undefined || process.env.FZS_FAILOVER_CLIENTS.split(',').some(c => name.startsWith(c)))) {
    t.test(`a master of a Redis Cluster with replicas ${signal === 'SIGKILL' ? 'SIGKILLed' : 'frozen (SIGSTOP)'} under load: ${name}`, async t => { await failover(t, name, signal) })
  }
}
