// `npm run bench`: every contender in its own server process, autocannon in this one; warm-up, then
// several measured rounds, medians reported. Options: --json, --out results.json (also write the JSON
// there, for `npm run bench:chart`), --rounds N, --duration S, --connections N, --only a,b,
// --scenarios read,write,create
import { spawn, execFileSync } from 'node:child_process'
import { createInterface } from 'node:readline'
import { mkdtempSync, rmSync, readFileSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir, cpus } from 'node:os'
import { join } from 'node:path'
import autocannon from 'autocannon'

const args = process.argv.slice(2)
const opt = (name, fallback) => args.includes(`--${name}`) ? args[args.indexOf(`--${name}`) + 1] : fallback
const json = args.includes('--json')
const rounds = Number(opt('rounds', 3))
const duration = Number(opt('duration', 5))
const connections = Number(opt('connections', 50))
const scenarios = opt('scenarios', 'read,write,create').split(',')
const ALL = ['bare', 'signed-cookie', 'secure-session', 'fastify-session-memory', 'fzs-memory',
  'fastify-session-connect-redis', 'fastify-session-redis-store', 'fzs-redis', 'fzs-directory', 'fzs-file']
const only = opt('only', null)?.split(',') ?? ALL
const log = (...m) => { if (!json) console.error(...m) }

const freePort = () => new Promise(resolve => { const s = createServer().listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)) }) })
const median = (values) => { const s = [...values].sort((a, b) => a - b); return s[Math.floor(s.length / 2)] }
const rss = (pid) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) * 1024

// one redis-server for the Redis contenders
const redisPort = await freePort()
const redis = spawn('redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' })
await new Promise(resolve => setTimeout(resolve, 300))
const redisCli = (...a) => execFileSync('redis-cli', ['-p', String(redisPort), ...a], { encoding: 'utf8' })

/** Commands the server's clients sent per request (MONITOR, with a script's inner calls left out), over a short extra run. */
async function redisCommandsPerRequest (port, path, headers) {
  const { Redis } = await import('ioredis')
  const client = new Redis({ port: redisPort, host: '127.0.0.1' })
  const monitor = await client.monitor()
  let commands = 0
  monitor.on('monitor', (_time, _args, source) => { if (!String(source).startsWith('lua')) commands++ })
  await new Promise(resolve => setTimeout(resolve, 100))
  const result = await new Promise((resolve, reject) => autocannon({ url: `http://127.0.0.1:${port}${path}`, connections: 5, amount: 500, headers }, (err, r) => err ? reject(err) : resolve(r)))
  await new Promise(resolve => setTimeout(resolve, 200))
  monitor.disconnect()
  client.disconnect()
  return Math.round((commands / result.requests.total) * 100) / 100
}

async function startServer (contender, dir) {
  const child = spawn(process.execPath, [join(import.meta.dirname, 'server.mjs'), contender, String(redisPort), dir], { stdio: ['ignore', 'pipe', 'inherit'] })
  const line = await new Promise((resolve, reject) => {
    createInterface({ input: child.stdout }).once('line', resolve)
    child.once('exit', code => reject(new Error(`${contender} server exited with ${code}`)))
  })
  return { child, port: JSON.parse(line).port }
}

function load (port, path, headers, seconds) {
  return new Promise((resolve, reject) => {
    autocannon({ url: `http://127.0.0.1:${port}${path}`, connections, duration: seconds, headers }, (err, result) => err ? reject(err) : resolve(result))
  })
}

async function cookieFor (port) {
  const res = await fetch(`http://127.0.0.1:${port}/create`)
  const setCookie = res.headers.getSetCookie()
  if (setCookie.length === 0) throw new Error('no cookie from /create')
  return setCookie.map(c => c.split(';')[0]).join('; ')
}

// Per scenario, every contender's server runs at once and the measured rounds go round-robin over
// them, so a slow minute on the machine hits every contender alike instead of one.
const results = []
for (const scenario of scenarios) {
  redisCli('flushall')
  const servers = []
  try {
    for (const contender of only) {
      const dir = mkdtempSync(join(tmpdir(), 'fzs-bench-'))
      const server = await startServer(contender, dir)
      const headers = scenario === 'create' || contender === 'bare' ? {} : { cookie: await cookieFor(server.port) }
      servers.push({ contender, dir, headers, measured: [], ...server })
    }
    const path = `/${scenario}`
    for (const s of servers) await load(s.port, path, s.headers, 2) // warm-up
    for (let r = 0; r < rounds; r++) {
      for (const s of servers) s.measured.push(await load(s.port, path, s.headers, duration))
    }
    for (const { contender, child, port, headers, measured } of servers) {
      const row = {
        contender,
        scenario,
        reqPerSec: Math.round(median(measured.map(m => m.requests.average))),
        p50: median(measured.map(m => m.latency.p50)),
        p99: median(measured.map(m => m.latency.p99)),
        errors: measured.reduce((sum, m) => sum + m.errors + m.timeouts, 0),
        non2xx: measured.reduce((sum, m) => sum + m.non2xx, 0),
        rssMB: Math.round(rss(child.pid) / 1048576),
        redisCommandsPerRequest: contender.includes('redis') ? await redisCommandsPerRequest(port, path, headers) : null
      }
      results.push(row)
      log(`${contender} ${scenario}: ${row.reqPerSec} req/s, p99 ${row.p99} ms${row.redisCommandsPerRequest === null ? '' : `, ${row.redisCommandsPerRequest} redis cmds/req`}`)
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

const find = (c, s) => results.find(r => r.contender === c && r.scenario === s)
const ratio = (a, b) => (a && b ? Math.round((a.reqPerSec / b.reqPerSec) * 100) / 100 : null)

const report = { date: new Date().toISOString(), node: process.version, cpus: cpus().length, cpu: cpus()[0]?.model, rounds, duration, connections, results }
const out = opt('out', null)
if (out !== null) writeFileSync(out, JSON.stringify(report, null, 2) + '\n')
if (json) {
  console.log(JSON.stringify(report, null, 2))
} else {
  console.log(`\n${new Date().toISOString().slice(0, 10)}, Node ${process.version}, ${cpus().length}× ${cpus()[0]?.model}; ${connections} connections, median of ${rounds} × ${duration} s after a 2 s warm-up\n`)
  console.log('| contender | scenario | req/s | p50 ms | p99 ms | errors | non-2xx | RSS MB | Redis cmds/req |')
  console.log('|---|---|---:|---:|---:|---:|---:|---:|---:|')
  for (const r of results) console.log(`| ${r.contender} | ${r.scenario} | ${r.reqPerSec} | ${r.p50} | ${r.p99} | ${r.errors} | ${r.non2xx} | ${r.rssMB} | ${r.redisCommandsPerRequest ?? ''} |`)
  console.log('\n| ratio | read | write | create |\n|---|---:|---:|---:|')
  const bestRedis = (s) => [find('fastify-session-connect-redis', s), find('fastify-session-redis-store', s)].filter(Boolean).sort((a, b) => b.reqPerSec - a.reqPerSec)[0]
  const lines = [
    ['fzs-memory / @fastify/session memory', s => ratio(find('fzs-memory', s), find('fastify-session-memory', s))],
    ['fzs-memory / signed-cookie floor', s => ratio(find('fzs-memory', s), find('signed-cookie', s))],
    ['fzs-memory / @fastify/secure-session', s => ratio(find('fzs-memory', s), find('secure-session', s))],
    ['fzs-redis / best @fastify/session + Redis', s => ratio(find('fzs-redis', s), bestRedis(s))]
  ]
  for (const [name, f] of lines) console.log(`| ${name} | ${scenarios.includes('read') ? f('read') ?? '' : ''} | ${scenarios.includes('write') ? f('write') ?? '' : ''} | ${scenarios.includes('create') ? f('create') ?? '' : ''} |`)
}
process.exit(0)
