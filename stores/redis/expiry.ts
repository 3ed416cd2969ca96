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

/**
 * Sessions Redis expired by itself, from keyspace notifications (`__keyevent@<db>__:expired`), on a
 * connection of their own (a subscribed connection runs no other commands); on a Cluster, one per
 * master known now. Only the id is known: the record is gone when the event comes.
 */
export async function watchRedisExpiries (link: RedisLink, prefix: string, listener: (sessions: ExpiredSession[]) => void): Promise<ExpiryWatch> {
  const stops: Array<() => Promise<void>> = []
  const notices: string[] = []
  const stop = async (): Promise<void> => {
    await Promise.all(stops.map(async s => { await s() }))
  }
  const onExpired = (key: string): void => {
    if (!key.startsWith(prefix)) return
    const id = key.slice(prefix.length)
    // only what can be a session id of the plugin (lib/cookie.ts ID_RE): not the owner sets, nor (under a
    // prefix '' or 'app') another store's 'sess:…' or any other key expiring in the database
    if (SESSION_ID_RE.test(id)) listener([{ id }])
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
      stops.push(await node.subscribe(`__keyevent@${node.db}__:expired`, onExpired))
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
