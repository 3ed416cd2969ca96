// One check for every Redis Cluster client: 12 logins spread over the masters, each timed out by
// Redis, each reported once as an `expired` event.
import type { Test } from 'tap'
import type { SessionStore } from '../../types/index.js'
import { buildApp, idOf, sessionCookie } from './app.js'

/**
 * `store` (a store or a storage URL) writes under `prefix` (default 'expiry:'); `keysPerMaster` counts
 * its keys on each master; `exists` is EXISTS through the cluster; `beforeLogins` runs once the app is
 * ready (and its expiry watch started), before the first request
 */
export async function expiriesReportedOnce (t: Test, store: SessionStore | string, keysPerMaster: () => Promise<number[]>, exists: (key: string) => Promise<number>,
  { prefix = 'expiry:', beforeLogins }: { prefix?: string, beforeLogins?: () => Promise<void> } = {}): Promise<void> {
  const reported: string[] = []
  let all: () => void = () => {}
  const allIn = new Promise<void>(resolve => { all = resolve })
  const ids: string[] = []
  const app = await buildApp(t, { store, events: { expired: event => { reported.push(event.id!); if (ids.length > 0 && ids.every(id => reported.includes(id))) all() } } })
  await beforeLogins?.()
  for (let i = 0; i < 12; i++) ids.push(idOf(sessionCookie(await app.inject({ method: 'POST', url: `/login/user${i}` }))!))
  const perNode = await keysPerMaster()
  const opened = app.sessionStore as SessionStore
  t.ok(perNode.filter(n => n > 0).length >= 2, `sessions on several masters: ${perNode.join(', ')}`)
  // far enough ahead that the deadline has not passed when Redis runs the script on a loaded machine: a
  // PEXPIREAT in the past deletes the key at once, raising a 'del' event, not 'expired'
  for (const id of ids) t.equal(await opened.touch(id, Date.now() + 300), true)
  // reading an expired key expires it at once: no waiting for Redis's own sampling
  for (const id of ids) while (await exists(`${prefix}${id}`) === 1);
  let timer: NodeJS.Timeout | undefined
  await Promise.race([allIn, new Promise((_resolve, reject) => { timer = setTimeout(() => { reject(new Error(`reported only ${reported.length} of ${ids.length}`)) }, 10_000) })])
  clearTimeout(timer)
  t.same([...reported].sort(), [...ids].sort(), 'every session once, whichever master held it')
}
