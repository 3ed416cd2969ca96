import type { Cluster, Redis } from 'ioredis'
import type { ExpiredSession, ExpiryWatch } from '../types/index.js'

/** `notify-keyspace-events` publishes key-event notifications (E) for expiries (x, or A for all) */
function publishesExpiries (flags: string): boolean {
  return flags.includes('E') && (flags.includes('x') || flags.includes('A'))
}

async function notifyFlags (node: Redis): Promise<string> {
  const answer = await node.config('GET', 'notify-keyspace-events') as unknown as string[]
  return answer[1] ?? ''
}

/**
 * Sessions Redis expired by itself, from keyspace notifications (`__keyevent@<db>__:expired`), on a
 * connection of their own (a subscribed connection runs no other commands); on a Cluster, one per
 * master known now. Only the id is known: the record is gone when the event comes.
 */
export async function watchRedisExpiries (client: Redis | Cluster, prefix: string, listener: (sessions: ExpiredSession[]) => void): Promise<ExpiryWatch> {
  const cluster = 'nodes' in client && typeof client.nodes === 'function' && client.isCluster
  const nodes = cluster ? (client as Cluster).nodes('master') : [client as Redis]
  const subscribers: Redis[] = []
  const notices: string[] = []
  const stop = async (): Promise<void> => {
    await Promise.all(subscribers.map(async s => { await s.quit().catch(() => { s.disconnect() }) }))
  }
  try {
    for (const node of nodes) {
      const flags = await notifyFlags(node).catch((err: Error) => {
        notices.push(`could not read notify-keyspace-events (${err.message})`)
        return null
      })
      if (flags !== null && !publishesExpiries(flags)) notices.push(`notify-keyspace-events is "${flags}" on ${node.options.host ?? ''}:${node.options.port ?? ''}`)
      const subscriber = node.duplicate()
      subscribers.push(subscriber)
      subscriber.on('error', () => {}) // it reconnects and resubscribes by itself
      subscriber.on('message', (_channel: string, key: string) => {
        if (!key.startsWith(prefix)) return
        const id = key.slice(prefix.length)
        if (id.length > 0 && !id.startsWith('owner:')) listener([{ id }])
      })
      await subscriber.subscribe(`__keyevent@${cluster ? 0 : node.options.db ?? 0}__:expired`)
    }
  } catch (err) {
    await stop()
    throw err
  }
  const notice = notices.length === 0
    ? undefined
    : `Redis sends no expiry notifications, so sessions that time out there raise no 'expired' event: ${notices.join('; ')}. Set notify-keyspace-events to include "Ex" (CONFIG SET notify-keyspace-events Ex; managed Redis: its parameter group or settings)`
  return { notice, stop }
}
