// Runs @fastify/session's own test suite against this plugin, through test/compat/fastify-session-adapter.cjs.
// `node test/compat/run.mjs <checkout of github.com/fastify/session> [--timeout=<ms per test>] [--no-build] [--control] [--only=<file name part>]`
// (or FASTIFY_SESSION_CHECKOUT). Nothing of the checkout is copied into the project: its test/ and lib/
// go to a temp folder whose index.js is our adapter. `--control` runs the suite against @fastify/session
// itself (the checkout's own index.js) instead, with the same dependencies: a test failing there fails
// because of this machine (the Node.js version), not because of this plugin.
//
// Every peer test is counted on its own: each runs alone in its own process (test/compat/isolate.cjs
// keeps only the n-th top-level test of its file), so a test that never finishes is a `hang` after
// --timeout (default 10 s) and the next test still runs. Prints one row per test (file, test,
// pass / fail / hang, reason) as a Markdown table, then the totals.
import { execFileSync, spawnSync } from 'node:child_process'
import { cpSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const args = process.argv.slice(2)
const flag = name => args.find(a => a.startsWith(`--${name}`))
const checkout = args.find(a => !a.startsWith('--')) ?? process.env.FASTIFY_SESSION_CHECKOUT
if (!checkout) {
  console.error('usage: node test/compat/run.mjs <path of a checkout of github.com/fastify/session> [--timeout=10000] [--no-build] [--control] [--only=<file name part>]')
  process.exit(2)
}
const timeout = Number(flag('timeout=')?.split('=')[1] ?? 10_000)
const root = new URL('../..', import.meta.url).pathname
const control = flag('control') !== undefined
if (!flag('no-build') && !control) execFileSync('npm', ['run', 'build'], { cwd: root, stdio: 'ignore' })

/** the YAML block after a TAP result line, as { key: text } (block scalars joined into one line) */
function yamlBlock (lines, from) {
  const fields = {}
  const indent = /^(\s*)/.exec(lines[from])[1].length + 2
  if (lines[from + 1]?.trim() !== '---') return fields
  let key = null
  for (let i = from + 2; i < lines.length; i++) {
    const line = lines[i]
    if (line.trim() === '...') break
    const field = new RegExp(`^ {${indent}}(\\w+): ?(.*)$`).exec(line)
    if (field !== null) {
      key = field[1]
      fields[key] = field[2] === '|-' || field[2] === '>-' ? '' : field[2].replace(/^'(.*)'$/, '$1')
    } else if (key !== null && line.trim() !== '') {
      fields[key] = `${fields[key]} ${line.trim()}`.trim()
    }
  }
  return fields
}

/** why a failed test failed: its error (the first failing subtest's when the test only counts them) */
function reasonOf (lines, at) {
  const fields = yamlBlock(lines, at)
  let error = fields.error ?? 'failed'
  if (/^\d+ subtests? failed$/.test(error)) {
    const sub = lines.findIndex((line, i) => i < at && /^\s+not ok \d+ - /.test(line))
    if (sub !== -1) return `subtest "${/not ok \d+ - (.*)$/.exec(lines[sub])[1]}": ${reasonOf(lines, sub)}`
  }
  if (fields.expected !== undefined && fields.actual !== undefined && error.startsWith('Expected values')) {
    error = `${error.split(':')[0]}: expected ${fields.expected}, got ${fields.actual}`
  }
  return error
}

function runOne (dir, file, index, isolate) {
  const started = Date.now()
  const run = spawnSync(process.execPath, ['--require', isolate, '--test-reporter=tap', join('test', file)], {
    cwd: dir, encoding: 'utf8', timeout, killSignal: 'SIGKILL', env: { ...process.env, FZS_COMPAT_ONLY: String(index) }
  })
  const lines = (run.stdout ?? '').split('\n')
  const at = lines.findIndex(line => /^(not )?ok \d+ - /.test(line))
  const ms = Date.now() - started
  if (at !== -1) {
    if (lines[at].startsWith('ok ')) return { result: /# SKIP/.test(lines[at]) ? 'skip' : 'pass', reason: '', ms }
    return { result: 'fail', reason: reasonOf(lines, at), ms }
  }
  if (run.error?.code === 'ETIMEDOUT' || run.signal === 'SIGKILL') return { result: 'hang', reason: `not finished after ${timeout} ms`, ms }
  const stderr = (run.stderr ?? '').trim().split('\n').filter(Boolean)
  const cause = stderr.find(line => /Error|error/.test(line)) ?? stderr.at(-1) ?? ''
  return { result: 'fail', reason: `the process ended (code ${run.status}) before the test did: ${cause}`, ms }
}

const cell = text => String(text).replace(/\|/g, '\\|').replace(/\s+/g, ' ').slice(0, 220)

const dir = mkdtempSync(join(tmpdir(), 'fzs-compat-'))
try {
  cpSync(join(checkout, 'test'), join(dir, 'test'), { recursive: true })
  cpSync(join(checkout, 'lib'), join(dir, 'lib'), { recursive: true })
  symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'), 'dir')
  writeFileSync(join(dir, 'package.json'), '{ "type": "commonjs" }\n')
  if (control) cpSync(join(checkout, 'index.js'), join(dir, 'index.js'))
  else writeFileSync(join(dir, 'index.js'), `module.exports = require(${JSON.stringify(join(root, 'test/compat/fastify-session-adapter.cjs'))})\n`)
  const isolate = join(root, 'test/compat/isolate.cjs')
  const totals = { pass: 0, fail: 0, hang: 0, skip: 0 }
  const byFile = []
  console.log('| file | test | result | reason |\n|---|---|---|---|')
  const only = flag('only=')?.split('=')[1]
  const files = readdirSync(join(dir, 'test')).filter(f => f.endsWith('.test.js') && (only === undefined || f.includes(only))).sort()
  for (const file of files) {
    const list = spawnSync(process.execPath, ['--require', isolate, join('test', file)], { cwd: dir, encoding: 'utf8', timeout: 30_000, env: { ...process.env, FZS_COMPAT_LIST: '1' } })
    const listed = /^FZS_COMPAT_TESTS (.*)$/m.exec(list.stdout ?? '')
    if (listed === null) {
      console.log(`| ${file} | (the file could not be loaded) | fail | ${cell((list.stderr ?? '').trim().split('\n').at(-1))} |`)
      totals.fail++
      continue
    }
    const names = JSON.parse(listed[1])
    const seen = new Map()
    const counts = { pass: 0, fail: 0, hang: 0, skip: 0 }
    names.forEach((name, index) => {
      const nth = (seen.get(name) ?? 0) + 1
      seen.set(name, nth)
      const { result, reason } = runOne(dir, file, index, isolate)
      counts[result]++
      totals[result]++
      console.log(`| ${file.replace(/\.test\.js$/, '')} | ${cell(nth > 1 ? `${name} (#${nth})` : name)} | ${result} | ${cell(reason)} |`)
    })
    byFile.push(`${file.replace(/\.test\.js$/, '')} ${counts.pass}/${names.length}${counts.hang > 0 ? ` (${counts.hang} hang)` : ''}`)
  }
  const all = totals.pass + totals.fail + totals.hang + totals.skip
  console.log(`\nby file (passed/tests): ${byFile.join(', ')}`)
  console.log(`total: ${all} tests, ${totals.pass} passed, ${totals.fail} failed, ${totals.hang} hung${totals.skip > 0 ? `, ${totals.skip} skipped` : ''}`)
} finally {
  rmSync(dir, { recursive: true, force: true })
}
