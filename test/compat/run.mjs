// Runs @fastify/session's own test suite against this plugin, through test/compat/fastify-session-adapter.cjs.
// `node test/compat/run.mjs <checkout of github.com/fastify/session>` (or FASTIFY_SESSION_CHECKOUT).
// Nothing of the checkout is copied into the project: its test/ and lib/ go to a temp folder whose
// index.js is our adapter. Prints pass/fail per file, and the failing tests' names.
import { execFileSync, spawnSync } from 'node:child_process'
import { cpSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const checkout = process.argv[2] ?? process.env.FASTIFY_SESSION_CHECKOUT
if (!checkout) {
  console.error('usage: node test/compat/run.mjs <path of a checkout of github.com/fastify/session>')
  process.exit(2)
}
const root = new URL('../..', import.meta.url).pathname
execFileSync('npm', ['run', 'build'], { cwd: root, stdio: 'ignore' })
const dir = mkdtempSync(join(tmpdir(), 'fzs-compat-'))
try {
  cpSync(join(checkout, 'test'), join(dir, 'test'), { recursive: true })
  cpSync(join(checkout, 'lib'), join(dir, 'lib'), { recursive: true })
  symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'), 'dir')
  writeFileSync(join(dir, 'package.json'), '{ "type": "commonjs" }\n')
  writeFileSync(join(dir, 'index.js'), `module.exports = require(${JSON.stringify(join(root, 'test/compat/fastify-session-adapter.cjs'))})\n`)
  let pass = 0
  let fail = 0
  const files = readdirSync(join(dir, 'test')).filter(f => f.endsWith('.test.js')).sort()
  for (const file of files) {
    const run = spawnSync(process.execPath, ['--test', '--test-force-exit', '--test-timeout=30000', '--test-reporter=tap', join('test', file)], { cwd: dir, encoding: 'utf8', timeout: 120_000 })
    const out = run.stdout ?? ''
    const count = (what) => Number(new RegExp(`^# ${what} (\\d+)`, 'm').exec(out)?.[1] ?? 0)
    const [p, f] = [count('pass'), count('fail') + count('cancelled')]
    pass += p
    fail += f
    console.log(`${file}: ${p} passed, ${f} failed`)
    for (const m of out.matchAll(/^not ok \d+ - (.*)\n(?:.*\n){0,4}?\s+error: (?:\|-\n\s+)?(.*)$/gm)) console.log(`  ✗ ${m[1]}: ${m[2].slice(0, 160)}`)
  }
  console.log(`total: ${pass} passed, ${fail} failed`)
} finally {
  rmSync(dir, { recursive: true, force: true })
}
