// Checks the SQL stores share, written once: names validated and values kept out of SQL text, a table
// made before the prefix column, a corrupt row reported once, and a killed server's sessions coming back
// through the pool after its restart.
import type { Test } from 'tap'
import type { SessionStore } from '../../types/index.js'
import type { Server } from './servers.js'
import { buildApp, sessionCookie } from './app.js'
import { collectWarnings } from './warnings.js'

/** each bad table name is refused by the constructor with a TypeError; an id full of SQL is just an id */
export async function sqlInjection (t: Test, badNames: string[], store: (table: string) => SessionStore): Promise<void> {
  for (const bad of badNames) t.throws(() => store(bad), TypeError, bad)
  const inject = store('inject')
  const id = "x' OR '1'='1"
  await inject.set('victim', { data: { a: 1 }, createdAt: 1, expiresAt: null, version: 0, auth: { current: ['h'], replaced: [] }, meta: {} })
  t.equal(await inject.get(id), undefined)
  await inject.destroy(id)
  t.ok(await inject.get('victim'), 'an id full of SQL is just an id')
}

export interface BeforePrefixColumn {
  /** makes the table before_prefix as the version before the prefix column did, with a row per id (owner 'ann') */
  makeOldTable: (ids: string[]) => Promise<void>
  /** a store on before_prefix */
  store: (options: { prefix: string, createTable?: false }) => SessionStore
  /** the message of ready()'s refusal with createTable false */
  refusal: string
}

/**
 * A table made before the prefix column: ready() adds it (createTable false names the ALTER); its rows
 * are matched by their id's start until written.
 */
export async function tableBeforePrefixColumn (t: Test, { makeOldTable, store, refusal }: BeforePrefixColumn): Promise<void> {
  // sessions the previous version wrote under the prefixes 'app' and 'app2'
  await makeOldTable(['appold', 'app2other'])
  const refused = store({ createTable: false, prefix: 'app' })
  await t.rejects(refused.ready!(), { message: refusal })
  const app = store({ prefix: 'app' })
  const app2 = store({ prefix: 'app2' })
  await Promise.all([app.ready!(), app2.ready!()])
  t.same((await app.listByOwner!('ann')).sort(), ['2other', 'old'], 'unlabelled rows: matched by the start of the id, as before')
  t.same(await app2.listByOwner!('ann'), ['other'])
  t.equal(await app.touch('old', null), true)
  t.equal(await app2.touch('other', null), true)
  t.same(await app.listByOwner!('ann'), ['old'], 'once written, each row is its own store\'s only')
  await refused.ready!()
  t.pass('ready() succeeds once the column is there')
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
