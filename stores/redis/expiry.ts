import type { ExpiredSession, ExpiryWatch } from '../../types/index.js'
import type { RedisLink, RedisNode } from './link.js'

/** the plugin's session ids: 1 to 128 characters A-Z a-z 0-9 _ - */
const SESSION_ID_RE = /^[A-Za-z0-9_-]{1,128}$/

/** `notify-keyspace-events` publishes key-event notifications (E) for expiries (x, or A for all) */
function publishesExpiries (flags: string): boolean {
  return flags.includes('E') && (flags.includes('x') || flags.includes('A'))
}

/** CONFIG GET's answer: [name, value] in RESP2, a map in RESP3 */
async function notifyFlags (node: RedisNode): Promise<string> {
  const answer = await node.send(['CONFIG', 'GET', 'notify-keyspace-events'])
  if (Array.isArray(answer)) return String(answer[1] ?? '')
  if (answer instanceof Map) return String(answer.get('notify-keyspace-events') ?? '')
  return String((answer as Record<string, unknown> | null)?.['notify-keyspace-events'] ?? '')
}

/** how often the expiry watch of a Cluster compares the client's masters with the ones it watches (in memory: no command) */
export const TOPOLOGY_CHECK_MS = 1000
/** the slot map re-read every 5 checks (5 s) for clients that do not refresh it themselves (ioredis's slotsRefreshInterval default) */
const REFRESH_EVERY_CHECKS = 5

/** `notify-keyspace-events` with the flags of `wanted` added */
function withFlags (flags: string, wanted: string): string {
  return [...new Set([...flags, ...wanted])].join('')
}

const at = (ms: number): string => new Date(ms).toISOString()

/** a gap in the watch: a process warning (stores have no logger), one per change */
function warnGap (message: string): void {
  process.emitWarning(`RedisStore: ${message}`, { code: 'FST_SESSION_EXPIRY_GAP' })
}

interface Watched {
  stop: () => Promise<void>
  /** when its subscription's connection was lost; undefined while it is subscribed */
  downSince?: number
}

/**
 * Sessions Redis expired by itself, from keyspace notifications (`__keyevent@<db>__:expired`), on a
 * connection of their own (a subscribed connection runs no other commands); on a Cluster, one per
 * master. Only the id is known: the record is gone when the event comes.
 *
 * A Cluster's masters change (a failover promotes a replica, a master is added): every
 * TOPOLOGY_CHECK_MS the watch compares the masters the client knows with the ones it subscribed to,
 * subscribes to each new one (setting `notify-keyspace-events` there to the flags the first masters had,
 * when it lacks expiries: a replica configured with CONFIG SET on the masters only has none) and drops
 * the ones gone. Events in between may be lost, and a lost subscription's connection loses the events
 * until it is back: each such gap is a `FST_SESSION_EXPIRY_GAP` process warning naming its start and
 * end, never silent.
 */
export async function watchRedisExpiries (link: RedisLink, prefix: string, listener: (sessions: ExpiredSession[]) => void): Promise<ExpiryWatch> {
  const watched = new Map<string, Watched>()
  const notices: string[] = []
  /** the flags of the first master that publishes expiries: what a new master gets */
  let reference: string | null = null
  let stopped = false
  let timer: NodeJS.Timeout | undefined
  const stop = async (): Promise<void> => {
    stopped = true
    clearInterval(timer)
    const all = [...watched.values()]
    watched.clear()
    await Promise.all(all.map(async w => { await w.stop() }))
  }
  const onExpired = (key: string): void => {
    if (!key.startsWith(prefix)) return
    const id = key.slice(prefix.length)
    // only what can be a session id of the plugin (lib/cookie.ts ID_RE): not the owner sets, nor (under a
    // prefix '' or 'app') another store's 'sess:…' or any other key expiring in the database
    if (SESSION_ID_RE.test(id)) listener([{ id }])
  }
  const watch = async (node: RedisNode): Promise<void> => {
    const entry: Watched = { stop: async () => {} }
    entry.stop = await node.subscribe(`__keyevent@${node.db}__:expired`, onExpired, state => {
      if (state === 'down') {
        entry.downSince = Date.now()
        link.refreshTopology?.() // a dead master: its promoted replica is watched once the client knows it
        return
      }
      const since = entry.downSince ?? Date.now()
      entry.downSince = undefined
      warnGap(`the expiry notifications of ${node.label} were cut off from ${at(since)} to ${at(Date.now())}: 'expired' events of sessions Redis timed out there in between may be missing`)
    })
    if (stopped) await entry.stop()
    else watched.set(node.label, entry)
  }
  try {
    const masters = await link.masters()
    if (masters.length === 0) notices.push('the client knows no Redis server to subscribe to')
    for (const node of masters) {
      await node.ready()
      const flags = await notifyFlags(node).catch((err: Error) => {
        notices.push(`could not read notify-keyspace-events (${err.message})`)
        return null
      })
      if (flags !== null && !publishesExpiries(flags)) notices.push(`notify-keyspace-events is "${flags}" on ${node.label}`)
      else if (flags !== null) reference ??= flags
      await watch(node)
    }
  } catch (err) {
    await stop()
    throw err
  }
  if (link.cluster) {
    /** the last check that found the watched masters still the client's */
    let unchangedAt = Date.now()
    /** the set of masters last warned about: one warning per change */
    let warned = ''
    /** since when masters are gone with no new master watched in their place (a client that drops a dead master before the promotion) */
    let openSince: number | null = null
    let checking = false
    let checks = 0
    const follow = async (): Promise<void> => {
      // a client that learns of new masters only from a request's MOVED reply is made to look for them
      if (++checks % REFRESH_EVERY_CHECKS === 0) link.refreshTopology?.()
      const masters = await link.masters()
      if (stopped) return
      const now = Date.now()
      const labels = new Set(masters.map(node => node.label))
      const gone = [...watched.keys()].filter(label => !labels.has(label))
      const added = masters.filter(node => !watched.has(node.label))
      if (gone.length === 0 && added.length === 0) {
        unchangedAt = now
        return
      }
      const from = Math.min(openSince ?? Infinity, unchangedAt, ...gone.map(label => watched.get(label)?.downSince ?? Infinity))
      for (const label of gone) {
        const entry = watched.get(label)!
        watched.delete(label)
        entry.stop().catch(() => {})
      }
      const problems: string[] = []
      for (const node of added) {
        try {
          const flags = await notifyFlags(node)
          if (!publishesExpiries(flags)) {
            if (reference === null) problems.push(`notify-keyspace-events is "${flags}" on ${node.label}`)
            else await node.send(['CONFIG', 'SET', 'notify-keyspace-events', withFlags(flags, reference)])
          }
          await watch(node)
        } catch (err) {
          problems.push(`${node.label} is not watched yet (${(err as Error).message}): retried every ${TOPOLOGY_CHECK_MS} ms`)
        }
      }
      const change = [...labels].sort().join(',')
      const changed = `the Redis Cluster's masters changed${gone.length > 0 ? ` (gone: ${gone.join(', ')})` : ''}${added.length > 0 ? ` (new: ${added.map(n => n.label).join(', ')})` : ''}`
      const unsolved = problems.length > 0 ? `; ${problems.join('; ')}` : ''
      if (added.length === 0) {
        // the client dropped a master before another took its slots: the gap is open until one does
        openSince ??= from
        if (change !== warned) warnGap(`${changed}: 'expired' events of sessions Redis times out on the slots it served are missing from ${at(from)} until a new master is watched`)
      } else {
        if (change !== warned) warnGap(`${changed}: 'expired' events of sessions Redis timed out between ${at(from)} and ${at(Date.now())} may be missing${unsolved}`)
        if (problems.length === 0) openSince = null
      }
      warned = change
      if (problems.length === 0) unchangedAt = Date.now()
    }
    timer = setInterval(() => {
      if (checking) return
      checking = true
      follow().catch(() => {}).finally(() => { checking = false })
    }, TOPOLOGY_CHECK_MS)
    timer.unref()
  }
  const notice = notices.length === 0
    ? undefined
    : `Redis sends no expiry notifications, so sessions that time out there raise no 'expired' event: ${notices.join('; ')}. Set notify-keyspace-events to include "Ex" (CONFIG SET notify-keyspace-events Ex; managed Redis: its parameter group or settings)`
  return { notice, stop }
}
