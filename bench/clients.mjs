// `npm run bench:clients`: the CPU a database CLIENT spends per command in this process, before any
// session work: the floor under a store's per-request cost. The process is pinned to core 0, Redis and
// PostgreSQL to core 1 (as in `npm run bench`); 10 commands in flight at a time, like concurrent requests.
// Options: --json, --commands N (30000), --rounds N (3, round-robin over the cases; the median is reported)
import { spawn, execFileSync } from 'node:child_process'
import { createServer } from 'node:net'
import { cpus } from 'node:os'

const args = process.argv.slice(2)
const opt = (name, fallback) => args.includes(`--${name}`) ? args[args.indexOf(`--${name}`) + 1] : fallback
const json = args.includes('--json')
const COMMANDS = Number(opt('commands', 30_000))
const ROUNDS = Number(opt('rounds', 3))
const IN_FLIGHT = 10
const LOAD_CORE = cpus().length > 1 ? '1' : '0'
const pin = (core, pid) => execFileSync('taskset', ['-a', '-p', '-c', core, String(pid)], { stdio: 'ignore' })
pin('0', process.pid)

const freePort = () => new Promise(resolve => { const s = createServer().listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)) }) })
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]

/** µs of this process's CPU per command, `command` run COMMANDS times with IN_FLIGHT at once */
async function cpuPerCommand (command) {
  for (let i = 0; i < 2_000; i++) await command(i) // warm-up: JIT, prepared statements on every connection
  const start = process.cpuUsage()
  let issued = 0
  await Promise.all(Array.from({ length: IN_FLIGHT }, async () => { while (issued < COMMANDS) await command(issued++) }))
  const used = process.cpuUsage(start)
  return (used.user + used.system) / COMMANDS
}

// a session-sized hash: the fields RedisStore's `layout: 'fields'` (0.2's) writes for the benchmark's session
const HASH = { _c: '1764860000000', _e: '1764860960000', _v: '0', _a: '{"current":["' + 'h'.repeat(43) + '"],"replaced":[]}', 'd:user': JSON.stringify({ id: 'u_8f14e45fceea167a5a36dedd4bea2543', name: 'Ada Lovelace', email: 'ada.lovelace@example.com', roles: ['admin', 'editor', 'billing'] }), 'd:counter': '3', _b: '180', 'm:ip': '"127.0.0.1"', 'm:userAgent': '"wrk"', 'm:lastAccessAt': '1764860000000', 'm:lastAccessIp': '"127.0.0.1"', 'm:createdAtHr': '1764860000000.123' }

// the same session in the packed layout (the default): the data's fields, `_h` and `_r`
const PACKED = { _h: '0 180 1764860960000 1764860000000', _r: JSON.stringify(['1764860000000', 'sess:', HASH._a, { ip: HASH['m:ip'], userAgent: HASH['m:userAgent'], lastAccessIp: HASH['m:lastAccessIp'], createdAtHr: HASH['m:createdAtHr'] }]), 'd:user': HASH['d:user'], 'd:counter': HASH['d:counter'] }

const redisPort = await freePort()
const redis = spawn('taskset', ['-c', LOAD_CORE, 'redis-server', '--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' })
await new Promise(resolve => setTimeout(resolve, 300))
const { startPostgres, postgresPids } = await import('../test/helpers/pg-server.mjs')
const postgres = await startPostgres()
for (const pid of postgresPids(postgres.process.pid)) pin(LOAD_CORE, pid)

const { createClient } = await import('redis')
const { Redis } = await import('ioredis')
const { default: pg } = await import('pg')
const nodeRedis = createClient({ url: `redis://127.0.0.1:${redisPort}` })
await nodeRedis.connect()
const ioredis = new Redis({ port: redisPort, host: '127.0.0.1', enableAutoPipelining: true })
await nodeRedis.sendCommand(['HSET', 'session', ...Object.entries(HASH).flat()])
await nodeRedis.sendCommand(['HSET', 'packed', ...Object.entries(PACKED).flat()])
const pool = new pg.Pool({ connectionString: postgres.url, max: IN_FLIGHT })
await pool.query('CREATE TABLE t (id TEXT PRIMARY KEY, data JSONB NOT NULL, meta JSONB NOT NULL, version BIGINT NOT NULL, expires BIGINT)')
await pool.query("INSERT INTO t VALUES ('session', $1, $2, 0, NULL)", [HASH['d:user'], '{"ip":"127.0.0.1","userAgent":"wrk"}'])

/** a named statement as a pg Query object */
const named = (name, text, values) => Object.assign(new pg.Query(text, values), { name })

const cases = [
  ['node-redis', 'GET of a missing key', () => nodeRedis.sendCommand(['GET', 'missing'])],
  ['node-redis', 'HGETALL of a 12-field session hash', () => nodeRedis.sendCommand(['HGETALL', 'session'])],
  ['node-redis', 'HSET of a 12-field session hash', (i) => nodeRedis.sendCommand(['HSET', `s:${i % 1000}`, ...Object.entries(HASH).flat()])],
  ['node-redis', 'HGETALL of the same session packed (4 fields)', () => nodeRedis.sendCommand(['HGETALL', 'packed'])],
  ['ioredis', 'GET of a missing key', () => ioredis.get('missing')],
  ['ioredis', 'HGETALL of a 12-field session hash', () => ioredis.hgetall('session')],
  ['ioredis', 'HSET of a 12-field session hash', (i) => ioredis.hset(`s:${i % 1000}`, HASH)],
  ['ioredis', 'HGETALL of the same session packed (4 fields)', () => ioredis.hgetall('packed')],
  ['pg', 'SELECT $1::int (prepared)', () => pool.query({ name: 'one', text: 'SELECT $1::int AS x', values: [1] })],
  ['pg', 'SELECT of one session row (prepared)', () => pool.query({ name: 'get', text: 'SELECT data::text AS data, meta, version, expires FROM t WHERE id = $1 AND (expires IS NULL OR expires > $2)', values: ['session', Date.now()] })],
  ['pg', 'UPDATE of one session row (prepared)', () => pool.query({ name: 'bump', text: 'UPDATE t SET version = version + 1 WHERE id = $1', values: ['session'] })],
  // as PostgresStore sends them: a pg Query object (pg copies a config object and wraps it in two promises)
  ['pg', 'SELECT of one session row (prepared), as a Query object', () => pool.query(named('get', 'SELECT data::text AS data, meta, version, expires FROM t WHERE id = $1 AND (expires IS NULL OR expires > $2)', ['session', Date.now()]))],
  ['pg', 'UPDATE of one session row (prepared), as a Query object', () => pool.query(named('bump', 'UPDATE t SET version = version + 1 WHERE id = $1', ['session']))]
]

const results = []
try {
  // rounds go round-robin over the cases: a slow minute on the machine hits every case alike
  const figures = cases.map(() => [])
  for (let r = 0; r < ROUNDS; r++) for (const [i, [, , run]] of cases.entries()) figures[i].push(await cpuPerCommand(run))
  for (const [i, [client, command]] of cases.entries()) {
    results.push({ client, command, cpuUsPerCommand: Math.round(median(figures[i]) * 10) / 10 })
    if (!json) console.error(`${client} ${command}: ${figures[i].map(f => f.toFixed(1)).join(' / ')} µs`)
  }
} finally {
  await nodeRedis.quit()
  await ioredis.quit()
  await pool.end()
  await postgres.stop()
  redis.kill()
}

if (json) console.log(JSON.stringify(results, null, 2))
else {
  console.log(`\n| client | command | client µs CPU per command (median of ${ROUNDS}) |\n|---|---|---:|`)
  for (const r of results) console.log(`| ${r.client} | ${r.command} | ${r.cpuUsPerCommand} |`)
}
