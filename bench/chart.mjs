// `npm run bench:chart`: draws docs/benchmark.svg from the JSON `npm run bench` wrote (bench/results.json)
// with Apache ECharts' server-side SVG renderer. Usage: node bench/chart.mjs [results.json] [out.svg]
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs'
import { dirname, join } from 'node:path'
import * as echarts from 'echarts'

const input = process.argv[2] ?? join(import.meta.dirname, 'results.json')
const output = process.argv[3] ?? join(import.meta.dirname, '..', 'docs', 'benchmark.svg')
const report = JSON.parse(readFileSync(input, 'utf8'))

const LABELS = {
  bare: 'bare Fastify (no session)',
  'signed-cookie': '@fastify/cookie, one signed cookie',
  'secure-session': '@fastify/secure-session (stateless)',
  'fastify-session-memory': '@fastify/session + MemoryStore',
  'fzs-memory': 'fastify-zod-session + MemoryStore',
  'fzs-memory-encrypted': 'fastify-zod-session + MemoryStore, encrypted',
  'fzs-redis-encrypted': 'fastify-zod-session + RedisStore (node-redis), encrypted',
  'fastify-session-connect-redis': '@fastify/session + connect-redis',
  'fastify-session-redis-store': '@fastify/session + fastify-session-redis-store',
  'fzs-redis': 'fastify-zod-session + RedisStore (node-redis)',
  'fzs-ioredis': 'fastify-zod-session + RedisStore (ioredis)',
  'fzs-postgres': 'fastify-zod-session + PostgresStore',
  'fzs-file': 'fastify-zod-session + FileStore',
  'fzs-directory': 'fastify-zod-session + DirectoryStore'
}
const scenarios = ['read', 'write', 'create'].filter(s => report.results.some(r => r.scenario === s))
// bottom to top in the chart: references first, ours last in each group
const contenders = Object.keys(LABELS).filter(c => report.results.some(r => r.contender === c)).reverse()
const value = (c, s) => report.results.find(r => r.contender === c && r.scenario === s)?.cpuUsPerRequest ?? null
const ours = c => c.startsWith('fzs-')

const width = 960
const height = 130 + contenders.length * 58
const chart = echarts.init(null, null, { renderer: 'svg', ssr: true, width, height })
chart.setOption({
  animation: false,
  backgroundColor: '#ffffff',
  title: {
    text: 'Server CPU µs per request (lower is better)',
    subtext: `${report.date.slice(0, 10)} · Node ${report.node} · ${report.cpus} vCPU · ${report.connections} connections · ${report.load ?? 'wrk'}, server and load on separate cores · median of ${report.rounds} × ${report.duration} s · npm run bench`,
    left: 'center',
    textStyle: { fontSize: 16 },
    subtextStyle: { fontSize: 11, color: '#555' }
  },
  legend: { top: 62, data: scenarios },
  grid: { left: 300, right: 70, top: 96, bottom: 24 },
  xAxis: { type: 'value', splitLine: { lineStyle: { color: '#eee' } } },
  yAxis: {
    type: 'category',
    data: contenders.map(c => LABELS[c]),
    axisLabel: { fontSize: 12, formatter: label => Object.entries(LABELS).some(([c, l]) => l === label && ours(c)) ? `{ours|${label}}` : label, rich: { ours: { fontWeight: 'bold', color: '#0b5394' } } }
  },
  color: ['#4e79a7', '#f28e2b', '#59a14f'],
  series: scenarios.map(s => ({
    name: s,
    type: 'bar',
    barGap: '10%',
    data: contenders.map(c => value(c, s)),
    label: { show: true, position: 'right', fontSize: 10, formatter: ({ value }) => value === null ? '' : Number(value).toFixed(1) }
  }))
})
mkdirSync(dirname(output), { recursive: true })
writeFileSync(output, chart.renderToSVGString())
chart.dispose()
console.error(`wrote ${output}`)
