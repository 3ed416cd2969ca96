import t from 'tap'
import { createPool, type Pool } from 'mysql2/promise'
import { MySQLStore, sessionsPrefixColumnDDL, sessionsTableDDL } from '../../stores/mysql.js'
import type { SessionRecord } from '../../types/index.js'
import { conformance } from './conformance.js'
import { startMariaDB } from '../helpers/servers.js'
import { corruptRowReportedOnce, recoversAfterRestart, sqlInjection, tableBeforePrefixColumn } from '../helpers/sql-checks.js'

const server = await startMariaDB()
t.teardown(() => server.stop())
const admin = createPool({ uri: server.url, connectionLimit: 2 })
await admin.query('CREATE DATABASE IF NOT EXISTS fzs_test')
await admin.end()
const pools: Pool[] = []
const pool = (): Pool => {
  const p = createPool({ uri: `${server.url}fzs_test`, connectionLimit: 10, connectTimeout: 2000 })
  pools.push(p)
  return p
}
t.teardown(async () => { await Promise.all(pools.map(p => p.end().catch(() => {}))) })

t.test('conformance on a real MariaDB', async t => {
  const shared = pool()
  const spoil = (column: string, value: string) => async ({ prefix, id }: { prefix: string, id: string }) => { await shared.query(`UPDATE sessions SET ${column} = ? WHERE id = ?`, [value, prefix + id]) }
  conformance(t, {
    create: async ({ prefix }) => new MySQLStore({ pool: shared, prefix }),
    prune: true,
    corruptions: { 'meta that is not JSON': spoil('meta', '{"owner": '), 'data that is not JSON': spoil('data', '{"a":') }
  })
})

t.test('the table is created on first use with its indexes; createTable false checks it exists', async t => {
  const p = pool()
  const store = new MySQLStore({ pool: p, table: 'fzs_test.created_here' })
  await store.ready()
  const [indexes] = await p.query('SHOW INDEX FROM created_here') as [Array<{ Column_name: string }>, unknown]
  t.same([...new Set(indexes.map(i => i.Column_name))].sort(), ['expires', 'id', 'owner'])
  const missing = new MySQLStore({ pool: p, table: 'not_there', createTable: false })
  await t.rejects(missing.ready(), /not_there/)
  await p.query(sessionsTableDDL('made_by_hand'))
  await new MySQLStore({ pool: p, table: 'made_by_hand', createTable: false }).ready()
  t.pass('a table made from the documented DDL is accepted')
})

t.test('a table made before the prefix column: ready() adds it (createTable false names the ALTER); its rows are matched by their id\'s start until written', async t => {
  const p = pool()
  await tableBeforePrefixColumn(t, {
    makeOldTable: async ids => {
      await p.query('DROP TABLE IF EXISTS before_prefix')
      await p.query(sessionsTableDDL('before_prefix').replace('  prefix VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL,\n', ''))
      for (const id of ids) {
        await p.query('INSERT INTO before_prefix (id, data, meta, auth, secret, version, created_at, expires, owner) VALUES (?, \'{}\', \'{"owner": "ann"}\', \'{"current": ["h"], "replaced": []}\', \'h\', 0, 1, NULL, \'ann\')', [id])
      }
    },
    store: options => new MySQLStore({ pool: p, table: 'before_prefix', ...options }),
    refusal: `MySQLStore: before_prefix lacks the prefix column (added in this version, createTable is false): run ${sessionsPrefixColumnDDL('before_prefix')}`
  })
})

t.test('a table made by 0.1 fails ready() naming the table and the fix; a retry after the fix succeeds', async t => {
  const p = pool()
  await p.query('DROP TABLE IF EXISTS old_01')
  await p.query('CREATE TABLE old_01 (id VARCHAR(255) NOT NULL PRIMARY KEY, data LONGTEXT NOT NULL, meta TEXT NOT NULL, created_at BIGINT NOT NULL, expires BIGINT NULL, owner VARCHAR(255) NULL)')
  const store = new MySQLStore({ pool: p, table: 'old_01' })
  await t.rejects(store.ready(), /old_01 was made by fastify-zod-session 0\.1.*DROP TABLE `old_01`/)
  await p.query('DROP TABLE old_01')
  await store.ready()
  t.pass('ready() is retried after a failure, not stuck on it')
})

t.test('the table name is validated; values never reach SQL text', async t => {
  const p = pool()
  await sqlInjection(t, ['x; DROP TABLE sessions', 'a-b', '`x`', '1abc', 'a.b.c', ''], table => new MySQLStore({ pool: p, table }))
})

t.test('a row with corrupt JSON is treated as missing and reported once', async t => {
  const p = pool()
  const store = new MySQLStore({ pool: p, table: 'corrupt' })
  await corruptRowReportedOnce(t, store, async () => { await p.query('UPDATE corrupt SET data = ? WHERE id = ?', ['{"a":', 'bad']) })
})

t.test('the server restarted mid-run: the store recovers through the pool', async t => {
  const p = pool()
  const store = new MySQLStore({ pool: p, table: 'restart' })
  await recoversAfterRestart(t, server, store)
})

t.test('rows written before the prefix column, under a prefix of astral characters, are matched by their id\'s start (LEFT counts characters)', async t => {
  const p = pool()
  await p.query('DROP TABLE IF EXISTS astral_legacy')
  const store = new MySQLStore({ pool: p, table: 'astral_legacy', prefix: '😀:' })
  await store.ready()
  await p.query('INSERT INTO astral_legacy (id, data, meta, auth, secret, version, created_at, expires, owner, prefix) VALUES (?, \'{}\', \'{"owner": "ann"}\', \'{"current": ["h"], "replaced": []}\', \'h\', 0, 1, NULL, \'ann\', NULL)', ['😀:x1'])
  t.same(await store.stats(), { sessions: 1, owners: { ann: 1 } })
  t.same(await store.listByOwner('ann'), ['x1'])
})

t.test('owners that differ by a trailing space are two owners (utf8mb4_bin compares them as one): listed, counted and revoked apart', async t => {
  const p = pool()
  const store = new MySQLStore({ pool: p, prefix: 'pad:' })
  const record = (owner: string): SessionRecord => ({ data: {}, createdAt: Date.now(), expiresAt: Date.now() + 60_000, version: 0, auth: { current: ['h'], replaced: [] }, meta: { owner } })
  await store.set('a1', record('ann'))
  await store.set('a2', record('ann '))
  t.same(await store.listByOwner('ann'), ['a1'])
  t.same(await store.listByOwner('ann '), ['a2'])
  t.same(await store.stats(), { sessions: 2, owners: { ann: 1, 'ann ': 1 } })
  t.equal(await store.destroyByOwner('ann'), 1)
  t.ok(await store.get('a2'), '\'ann \'\'s session is still there')
})
