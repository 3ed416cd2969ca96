// Checks the SQL stores share, written once: a corrupt row is reported once, and a killed server's
// sessions come back through the pool after its restart.
import type { Test } from 'tap'
import type { SessionStore } from '../../types/index.js'
import type { Server } from './servers.js'
import { buildApp, sessionCookie } from './app.js'

/** process warnings emitted while the test runs */
export function collectWarnings (t: Test): string[] {
  const warnings: string[] = []
  const onWarning = (w: Error): void => { warnings.push(w.message) }
  process.on('warning', onWarning)
  t.teardown(() => process.off('warning', onWarning))
  return warnings
}

/**
 * `corrupt()` spoils the stored row of session 'bad': it reads as missing and is reported once. A store
 * whose patch is one UPDATE never decodes the row (`patchDecodes: false`): its patch lands, and the row
 * stays unreadable.
 */
export async function corruptRowReportedOnce (t: Test, store: SessionStore, corrupt: () => Promise<void>, patchDecodes = true): Promise<void> {
  await store.set('bad', { data: { a: 1 }, createdAt: 1, expiresAt: null, version: 0, auth: { current: ['h'], replaced: [] }, meta: {} })
  await corrupt()
  const warnings = collectWarnings(t)
  t.equal(await store.get('bad'), undefined)
  t.equal(await store.get('bad'), undefined)
  t.equal(await store.patch('bad', { set: { a: 2 }, unset: [], expiresAt: null }), patchDecodes ? 'missing' : 'ok')
  t.equal(await store.get('bad'), undefined, 'still unreadable')
  await new Promise(resolve => setImmediate(resolve))
  t.equal(warnings.filter(w => w.includes('corrupt session row')).length, 1)
}

/** the server killed: a fast 503; restarted: the session (on disk) is read again within 5 s */
export async function recoversAfterRestart (t: Test, server: Server, store: SessionStore): Promise<void> {
  const app = await buildApp(t, { store })
  const cookie = sessionCookie(await app.inject({ method: 'POST', url: '/login/alice' }))!
  await server.kill()
  const down = await app.inject({ url: '/read', headers: { cookie } })
  t.equal(down.statusCode, 503)
  t.equal(down.json().code, 'FST_SESSION_STORE_UNAVAILABLE')
  await server.restart()
  const deadline = Date.now() + 5000
  let res = await app.inject({ url: '/read', headers: { cookie } })
  while (res.statusCode !== 200 && Date.now() < deadline) {
    await new Promise(resolve => setTimeout(resolve, 100))
    res = await app.inject({ url: '/read', headers: { cookie } })
  }
  t.equal(res.json().userId, 'alice', 'the session survived the restart (it is on disk)')
}
