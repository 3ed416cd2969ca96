// Store micro-benchmark: ops/s of get, set, patch and touch with 1k, 10k and 100k sessions already
// stored, to show whether the cost grows with size. `npm run bench:stores [-- --json] [-- --sizes 1000,10000]`
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { MemoryStore } from '../dist/esm/stores/memory.js'
import { FileStore } from '../dist/esm/stores/file.js'
import { DirectoryStore } from '../dist/esm/stores/directory.js'

const args = process.argv.slice(2)
const json = args.includes('--json')
const sizesArg = args[args.indexOf('--sizes') + 1]
const sizes = args.includes('--sizes') ? sizesArg.split(',').map(Number) : [1_000, 10_000, 100_000]
const onlyArg = args.includes('--stores') ? args[args.indexOf('--stores') + 1].split(',') : null
const OPS = 2_000

let postgres = null
const makers = {
  memory: (n) => new MemoryStore({ maxEntries: n + OPS * 2 }),
  postgres: async (n) => {
    // a throw-away server (the test harness's), one table per size
    postgres ??= await (await import('../test/helpers/pg-server.mjs')).startPostgres()
    const { default: pg } = await import('pg')
    const { PostgresStore } = await import('../dist/esm/stores/postgres.js')
    const pool = new pg.Pool({ connectionString: postgres.url, max: 10 })
    const store = new PostgresStore({ pool, table: `bench_${n}` })
    store.close = async () => { await pool.end() }
    return store
  },
  file: (_n, dir) => new FileStore({ path: join(dir, 'sessions.jsonl') }),
  directory: (_n, dir) => new DirectoryStore({ path: join(dir, 'sessions') })
}

const session = (i) => ({
  data: { user: { id: `user-${i}`, name: 'Ada Lovelace', email: 'ada@example.com', roles: ['admin', 'editor'] }, visits: i, cart: [{ sku: 'A-1', qty: 2 }, { sku: 'B-22', qty: 1 }], theme: 'dark', csrf: 'x'.repeat(43) },
  createdAt: Date.now(),
  expiresAt: Date.now() + 3_600_000,
  version: 0,
  auth: { current: ['x'.repeat(43)], replaced: [] },
  meta: { ip: '203.0.113.7', userAgent: 'Mozilla/5.0 (X11; Linux x86_64) bench', owner: `user-${i % 1000}` }
})

async function measure (fn) {
  const start = process.hrtime.bigint()
  for (let i = 0; i < OPS; i++) await fn(i)
  const seconds = Number(process.hrtime.bigint() - start) / 1e9
  return Math.round(OPS / seconds)
}

const results = []
for (const [name, make] of Object.entries(makers)) {
  if (onlyArg !== null && !onlyArg.includes(name)) continue
  for (const size of sizes) {
    const dir = mkdtempSync(join(tmpdir(), `fzs-bench-${name}-`))
    const store = await make(size, dir)
    await store.ready?.()
    const fillStart = Date.now()
    for (let i = 0; i < size; i += 500) await Promise.all(Array.from({ length: Math.min(500, size - i) }, (_, j) => store.set(`s${i + j}`, session(i + j))))
    const fillMs = Date.now() - fillStart
    const pick = () => `s${Math.floor(Math.random() * size)}`
    const exp = Date.now() + 3_600_000
    const row = { store: name, sessions: size, fillMs }
    row.get = await measure(() => store.get(pick()))
    row.set = await measure((i) => store.set(`new${i}`, session(i)))
    row.patch = await measure((i) => store.patch(pick(), { set: { visits: i }, unset: [], expiresAt: exp, meta: { lastAccessAt: Date.now() } }))
    row.touch = await measure(() => store.touch(pick(), exp))
    if (typeof store.prune === 'function') {
      const start = Date.now()
      await store.prune()
      row.pruneMs = Date.now() - start
    }
    if (name === 'memory') {
      global.gc?.()
      const before = process.memoryUsage().heapUsed
      const probe = new MemoryStore({ maxEntries: 20_000 })
      for (let i = 0; i < 10_000; i++) await probe.set(`m${i}`, session(i))
      global.gc?.()
      row.bytesPerSession = global.gc ? Math.round((process.memoryUsage().heapUsed - before) / 10_000) : null
      if (probe.size !== 10_000) throw new Error('probe store lost entries') // keeps it alive through the measurement
    }
    await store.close?.()
    rmSync(dir, { recursive: true, force: true })
    results.push(row)
    if (!json) console.error(`done: ${name} at ${size}`)
  }
}

await postgres?.stop()
if (json) {
  console.log(JSON.stringify(results, null, 2))
} else {
  console.log('| store | sessions | get/s | set/s | patch/s | touch/s | prune ms | fill ms |')
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|')
  for (const r of results) console.log(`| ${r.store} | ${r.sessions} | ${r.get} | ${r.set} | ${r.patch} | ${r.touch} | ${r.pruneMs ?? '-'} | ${r.fillMs} |`)
  const mem = results.find(r => r.bytesPerSession != null)
  if (mem) console.log(`\nMemoryStore: ~${mem.bytesPerSession} bytes per session (heap, ${JSON.stringify(session(1).data).length}-byte data)`)
}
