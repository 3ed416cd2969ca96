// `npm run bench`: measures the SERVER. Every contender runs in its own process pinned to core 0; wrk
// (C, cheap per request), Redis and PostgreSQL are pinned to core 1. The primary figure is server CPU
// time per request (user + sys of the server process over the measured window, from /proc, ÷ requests);
// req/s, p50/p99, errors and RSS are reported beside it, with the server's CPU share so that a run where
// the load generator was the bottleneck shows itself. Rounds go round-robin over the contenders; a round
// during which the hypervisor stole more than 3% of the machine's CPU is run again. Each store and the
// @fastify/session store of the same backend (PAIRS) are measured back to back, in turn first: their
// ratio is also taken per round (`pairs` in the JSON), which the machine's drift between rounds spares.
// Each round is preceded by an unmeasured warm-up of the same server (--warmup S, 1): a server idles while
// the others run their rounds (~30 s), and V8 shrinks its heap meanwhile (the memory reducer); a round
// measured straight after that measures the regrowth (more scavenges, an early full mark), not the
// server under load. 0 measures each round cold, as before.
// Options: --json, --out results.json, --rounds N (5), --duration S (5), --warmup S (1), --connections N (32),
// --only a,b (a contender may be `name@/path/to/checkout`: that checkout's build), --scenarios read,write,create
// (or update: /write through session.update(), fzs-* contenders only)
import { spawn, execFileSync, spawnSync } from 'node:child_process'
import { createInterface } from 'node:readline'
import { mkdtempSync, rmSync, readFileSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir, cpus } from 'node:os'
import { join } from 'node:path'

const args = process.argv.slice(2)
const opt = (name, fallback) => args.includes(`--${name}`) ? args[args.indexOf(`--${name}`) + 1] : fallback
const json = args.includes('--json')
const rounds = Number(opt('rounds', 5))
const duration = Number(opt('duration', 5))
const warmup = Number(opt('warmup', 1))
const connections = Number(opt('connections', 32))
const scenarios = opt('scenarios', 'read,write,create').split(',')
const ALL = ['bare', 'signed-cookie', 'secure-session', 'fzs-memory', 'fastify-session-memory',
  'fzs-redis', 'fastify-session-connect-redis', 'fzs-ioredis', 'fastify-session-redis-store', 'fzs-postgres', 'fastify-session-pg', 'fzs-directory', 'fzs-file']
/** each store and what a user of the same backend would otherwise run */
const PAIRS = [
  ['fzs-memory', 'fastify-session-memory', '@fastify/session MemoryStore'],
  ['fzs-ioredis', 'fastify-session-redis-store', '@fastify/session + fastify-session-redis-store (ioredis)'],
  ['fzs-redis', 'fastify-session-connect-redis', '@fastify/session + connect-redis (node-redis)'],
  ['fzs-postgres', 'fastify-session-pg', '@fastify/session + connect-pg-simple']
]
const only = opt('only', null)?.split(',') ?? ALL
const partner = new Map(PAIRS.flatMap(([ours, theirs]) => [[ours, theirs], [theirs, ours]]))
const log = (...m) => { if (!json) console.error(...m) }

// what the harness needs; it installs nothing
const missing = [['wrk', 'wrk'], ['taskset', 'util-linux'], ['redis-server', 'redis-server'], ['redis-cli', 'redis-server']]
  .filter(([bin]) => spawnSync('sh', ['-c', `command -v ${bin}`]).status !== 0)
if (missing.length > 0) {
  console.error(`npm run bench needs: ${missing.map(([bin, pkg]) => `${bin} (apt-get install ${pkg})`).join(', ')}`)
  process.exit(1)
}
const SERVER_CORE = '0'
const LOAD_CORE = cpus().length > 1 ? '1' : '0'
if (cpus().length < 2) log('warning: one core only, server and load share it: figures are not comparable')
const TICK_US = 1e6 / Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }))

const freePort = () => new Promise(resolve => { const s = createServer().listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)) }) })
const median = (values) => { const s = [...values].sort((a, b) => a - b); return s[Math.floor(s.length / 2)] }
const rss = (pid) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) * 1024
/** user + sys CPU of a process so far, in µs */
const cpuUs = (pid) => {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '').split(' ')
  return (Number(fields[11]) + Number(fields[12])) * TICK_US
}
/** the machine's CPU time so far, and the part of it the hypervisor gave to other guests (steal), in ticks */
const machineTicks = () => {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number)
  return { steal: fields[7] ?? 0, total: fields.reduce((sum, n) => sum + n, 0) }
}
/** a round in which more of the machine's CPU than this was stolen is run again (up to 3 times) */
const MAX_STEAL = 0.03
const pin = (core, pid) => execFileSync('taskset', ['-a', '-p', '-c', core, String(pid)], { stdio: 'ignore' })

// Redis and PostgreSQL on the load generator's core
const redisPort = await freePort()
const redis = spawn('taskset', ['-c', LOAD_CORE, 'redis-server', '--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' })
await new Promise(resolve => setTimeout(resolve, 300))
const redisCli = (...a) => execFileSync('redis-cli', ['-p', String(redisPort), ...a], { encoding: 'utf8' })
const postgres = only.some(c => c.startsWith('fzs-postgres') || c.startsWith('fastify-session-pg')) ? await (await import('../test/helpers/pg-server.mjs')).startPostgres() : null
if (postgres !== null) {
  process.env.FZS_BENCH_POSTGRES_URL = postgres.url
  const { postgresPids } = await import('../test/helpers/pg-server.mjs')
  for (const pid of postgresPids(postgres.process.pid)) pin(LOAD_CORE, pid) // backends forked later inherit it
}
async function dropPostgresTable () {
  if (postgres === null) return
  const { default: pg } = await import('pg')
  const client = new pg.Client({ connectionString: postgres.url })
  await client.connect()
  await client.query('DROP TABLE IF EXISTS sessions')
  await client.query('DROP TABLE IF EXISTS session') // connect-pg-simple's
  await client.end()
}

/** `name@/path/to/checkout` runs that checkout's server and build (an A/B of two versions in one run) */
async function startServer (contender, dir) {
  const [name, checkout] = contender.split('@')
  const script = checkout === undefined ? join(import.meta.dirname, 'server.mjs') : join(checkout, 'bench', 'server.mjs')
  const child = spawn('taskset', ['-c', SERVER_CORE, process.execPath, script, name, String(redisPort), dir], { stdio: ['ignore', 'pipe', 'inherit'] })
  const line = await new Promise((resolve, reject) => {
    createInterface({ input: child.stdout }).once('line', resolve)
    child.once('exit', code => reject(new Error(`${contender} server exited with ${code}`)))
  })
  return { child, port: JSON.parse(line).port }
}

const UNIT = { us: 0.001, ms: 1, s: 1000 }
const ms = (text) => { const m = /([\d.]+)(us|ms|s)/.exec(text); return m === null ? null : Math.round(Number(m[1]) * UNIT[m[2]] * 1000) / 1000 }

/** wrk on the load core for `seconds`; the server's CPU time over exactly that window */
async function load (server, path, headers, seconds, conns = connections) {
  const header = Object.entries(headers).flatMap(([k, v]) => ['-H', `${k}: ${v}`])
  const before = cpuUs(server.child.pid)
  const ticks = machineTicks()
  const started = process.hrtime.bigint()
  const out = await new Promise((resolve, reject) => {
    const wrk = spawn('taskset', ['-c', LOAD_CORE, 'wrk', '-t1', `-c${conns}`, `-d${seconds}s`, '--latency', ...header, `http://127.0.0.1:${server.port}${path}`], { stdio: ['ignore', 'pipe', 'inherit'] })
    let text = ''
    wrk.stdout.on('data', d => { text += d })
    wrk.once('exit', code => code === 0 ? resolve(text) : reject(new Error(`wrk exited with ${code}`)))
  })
  const wallUs = Number(process.hrtime.bigint() - started) / 1000
  const serverUs = cpuUs(server.child.pid) - before
  const after = machineTicks()
  const requests = Number(/(\d+) requests in/.exec(out)?.[1] ?? 0)
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out)
  return {
    requests,
    reqPerSec: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? 0),
    cpuUsPerRequest: requests === 0 ? null : serverUs / requests,
    cpuShare: serverUs / wallUs,
    steal: after.total === ticks.total ? 0 : (after.steal - ticks.steal) / (after.total - ticks.total),
    p50: ms(/\s50%\s+(\S+)/.exec(out)?.[1] ?? ''),
    p99: ms(/\s99%\s+(\S+)/.exec(out)?.[1] ?? ''),
    errors: socket === null ? 0 : socket.slice(1).reduce((sum, n) => sum + Number(n), 0),
    non2xx: Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0)
  }
}

/**
 * Commands the server's clients sent per request (MONITOR, a script's inner calls left out), over a
 * short extra run. redis-cli does the monitoring: an ioredis client in MONITOR mode can take a monitor
 * line for a command reply and throw ("Command queue state error").
 */
async function redisCommandsPerRequest (server, path, headers) {
  const monitor = spawn('redis-cli', ['-p', String(redisPort), 'monitor'], { stdio: ['ignore', 'pipe', 'ignore'] })
  let commands = 0
  const started = new Promise(resolve => {
    createInterface({ input: monitor.stdout }).on('line', line => {
      if (line === 'OK') resolve()
      else if (/^\d+\.\d+ \[\d+ [^\]]*\]/.test(line) && !/^\S+ \[\d+ lua\]/.test(line)) commands++
    })
  })
  await started
  const result = await load(server, path, headers, 1, 4)
  await new Promise(resolve => setTimeout(resolve, 200))
  monitor.kill()
  return Math.round((commands / result.requests) * 100) / 100
}

async function cookieFor (port) {
  const res = await fetch(`http://127.0.0.1:${port}/create`)
  const setCookie = res.headers.getSetCookie()
  if (setCookie.length === 0) throw new Error('no cookie from /create')
  return setCookie.map(c => c.split(';')[0]).join('; ')
}

async function freshCookie (server, scenario) {
  if (scenario !== 'create' && server.contender !== 'bare') server.headers = { cookie: await cookieFor(server.port) }
}

/** a contender's name without its `@/path/to/checkout` */
const base = (contender) => contender.split('@')[0]

/**
 * the servers in round `r`'s order: a pair's members (and any `name@checkout` of either) back to back,
 * the group rotated each round (so none is always measured on the warmer or the more throttled side)
 */
function roundOrder (servers, r) {
  const order = []
  for (const s of servers) {
    if (order.includes(s)) continue
    const group = servers.filter(o => base(o.contender) === base(s.contender) || base(o.contender) === partner.get(base(s.contender)))
    const k = r % group.length
    order.push(...group.slice(k), ...group.slice(0, k))
  }
  return order
}

const results = []
/** per pair and scenario: the ratio of the two members' CPU per request in each round */
const pairRounds = []
for (const scenario of scenarios) {
  redisCli('flushall')
  await dropPostgresTable()
  const servers = []
  try {
    for (const contender of only) {
      const dir = mkdtempSync(join(tmpdir(), 'fzs-bench-'))
      const server = await startServer(contender, dir)
      servers.push({ contender, dir, headers: {}, measured: [], idleRss: rss(server.child.pid), ...server })
      await freshCookie(servers.at(-1), scenario)
    }
    const path = `/${scenario}`
    for (const s of servers) await load(s, path, s.headers, 2) // warm-up (JIT, pools)
    for (let r = 0; r < rounds; r++) {
      for (const s of roundOrder(servers, r)) {
        // a new session per round: wrk never takes a Set-Cookie, so a session older than rotationInterval
        // (4 min) would rotate its secret on every request, which no browser makes us do
        await freshCookie(s, scenario)
        if (warmup > 0) await load(s, path, s.headers, warmup)
        let m = await load(s, path, s.headers, duration)
        for (let again = 0; again < 3 && m.steal > MAX_STEAL; again++) {
          log(`${s.contender} ${scenario}: ${Math.round(m.steal * 100)}% of the machine's CPU stolen by the hypervisor: round run again`)
          await freshCookie(s, scenario)
          m = await load(s, path, s.headers, duration)
        }
        s.measured.push(m)
      }
    }
    for (const [ours, theirs] of PAIRS) {
      const a = servers.find(s => s.contender === ours)
      const b = servers.find(s => s.contender === theirs)
      if (a === undefined || b === undefined) continue
      const each = a.measured.map((m, i) => Math.round((b.measured[i].cpuUsPerRequest / m.cpuUsPerRequest) * 100) / 100)
      pairRounds.push({ ours, theirs, scenario, ratio: median(each), rounds: each })
    }
    for (const s of servers) {
      const { contender, measured } = s
      await freshCookie(s, scenario)
      const row = {
        contender,
        scenario,
        cpuUsPerRequest: Math.round(median(measured.map(m => m.cpuUsPerRequest)) * 10) / 10,
        /** each round's, in order (an A/B compares these round by round) */
        cpuRounds: measured.map(m => Math.round(m.cpuUsPerRequest * 10) / 10),
        /** the rounds' lowest and highest server CPU per request: the run's noise */
        cpuSpread: [Math.min(...measured.map(m => m.cpuUsPerRequest)), Math.max(...measured.map(m => m.cpuUsPerRequest))].map(v => Math.round(v * 10) / 10),
        cpuShare: Math.round(median(measured.map(m => m.cpuShare)) * 100) / 100,
        /** the most of the machine's CPU stolen by the hypervisor in a kept round */
        steal: Math.round(Math.max(...measured.map(m => m.steal)) * 1000) / 1000,
        reqPerSec: Math.round(median(measured.map(m => m.reqPerSec))),
        p50: median(measured.map(m => m.p50)),
        p99: median(measured.map(m => m.p99)),
        /** each round's p99, in order: the tail moves between rounds far more than the CPU does */
        p99Rounds: measured.map(m => m.p99),
        errors: measured.reduce((sum, m) => sum + m.errors, 0),
        non2xx: measured.reduce((sum, m) => sum + m.non2xx, 0),
        idleRssMB: Math.round(s.idleRss / 1048576),
        rssMB: Math.round(rss(s.child.pid) / 1048576),
        redisCommandsPerRequest: contender.includes('redis') ? await redisCommandsPerRequest(s, path, s.headers) : null
      }
      results.push(row)
      log(`${contender} ${scenario}: ${row.cpuUsPerRequest} µs CPU/req (server at ${Math.round(row.cpuShare * 100)}% of a core), ${row.reqPerSec} req/s, p99 ${row.p99} ms, steal ≤ ${Math.round(row.steal * 100)}%`)
    }
  } finally {
    for (const { child, dir } of servers) {
      child.kill('SIGTERM')
      await new Promise(resolve => child.once('exit', resolve))
      rmSync(dir, { recursive: true, force: true })
    }
  }
}
redis.kill('SIGKILL')
await postgres?.stop()

const find = (c, s) => results.find(r => r.contender === c && r.scenario === s)
/** how many times less server CPU per request `a` needs than `b` (> 1: a is cheaper) */
const ratio = (a, b) => (a && b ? Math.round((b.cpuUsPerRequest / a.cpuUsPerRequest) * 100) / 100 : null)

const report = { date: new Date().toISOString(), node: process.version, cpus: cpus().length, cpu: cpus()[0]?.model, load: 'wrk', rounds, duration, warmup, connections, results, pairs: pairRounds }
const out = opt('out', null)
if (out !== null) writeFileSync(out, JSON.stringify(report, null, 2) + '\n')
if (json) {
  console.log(JSON.stringify(report, null, 2))
} else {
  console.log(`\n${new Date().toISOString().slice(0, 10)}, Node ${process.version}, ${cpus().length}× ${cpus()[0]?.model}; wrk, ${connections} connections, server on core ${SERVER_CORE}, load/Redis/PostgreSQL on core ${LOAD_CORE}; median of ${rounds} × ${duration} s, each after a ${warmup} s unmeasured warm-up (2 s before the first)\n`)
  console.log('| contender | scenario | server µs CPU/req (range of rounds) | server CPU share | req/s | p50 ms | p99 ms | errors | non-2xx | RSS MB (idle → after) | Redis cmds/req |')
  console.log('|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|')
  for (const r of results) console.log(`| ${r.contender} | ${r.scenario} | ${r.cpuUsPerRequest} (${r.cpuSpread.join('–')}) | ${Math.round(r.cpuShare * 100)}% | ${r.reqPerSec} | ${r.p50} | ${r.p99} | ${r.errors} | ${r.non2xx} | ${r.idleRssMB} → ${r.rssMB} | ${r.redisCommandsPerRequest ?? ''} |`)
  // each store against what a user of the same backend would otherwise run; p99 side by side
  const p99s = (a, b, s) => { const x = find(a, s); const y = find(b, s); return x && y ? `${x.p99} / ${y.p99}` : '' }
  console.log('\n| same backend: server CPU per request, times less than … (ratio of the medians; median of the rounds\' ratios, their range) | read | write | create | p99 ms ours / theirs (read, write, create) |\n|---|---:|---:|---:|---|')
  for (const [ours, theirs, label] of PAIRS) {
    if (find(ours, scenarios[0]) === undefined || find(theirs, scenarios[0]) === undefined) continue
    const cell = s => {
      const paired = pairRounds.find(p => p.ours === ours && p.scenario === s)
      return scenarios.includes(s) ? `${ratio(find(ours, s), find(theirs, s)) ?? ''}; ${paired.ratio} (${Math.min(...paired.rounds)}–${Math.max(...paired.rounds)})` : ''
    }
    console.log(`| ${ours} vs ${label} | ${cell('read')} | ${cell('write')} | ${cell('create')} | ${scenarios.map(s => p99s(ours, theirs, s)).join('; ')} |`)
  }
  console.log('\n| server CPU per request, times less than … | read | write | create |\n|---|---:|---:|---:|')
  const bestRedis = (s) => [find('fastify-session-connect-redis', s), find('fastify-session-redis-store', s)].filter(Boolean).sort((a, b) => a.cpuUsPerRequest - b.cpuUsPerRequest)[0]
  const lines = [
    ['fzs-memory vs @fastify/session memory', s => ratio(find('fzs-memory', s), find('fastify-session-memory', s))],
    ['fzs-memory vs the signed-cookie floor', s => ratio(find('fzs-memory', s), find('signed-cookie', s))],
    ['fzs-memory vs @fastify/secure-session', s => ratio(find('fzs-memory', s), find('secure-session', s))],
    ['fzs-redis vs best @fastify/session + Redis', s => ratio(find('fzs-redis', s), bestRedis(s))],
    ['fzs-ioredis vs best @fastify/session + Redis', s => ratio(find('fzs-ioredis', s), bestRedis(s))],
    ['fzs-postgres vs best @fastify/session + Redis', s => ratio(find('fzs-postgres', s), bestRedis(s))]
  ]
  for (const [name, f] of lines) console.log(`| ${name} | ${scenarios.includes('read') ? f('read') ?? '' : ''} | ${scenarios.includes('write') ? f('write') ?? '' : ''} | ${scenarios.includes('create') ? f('create') ?? '' : ''} |`)
}
process.exit(0)
