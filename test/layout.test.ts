import t, { type Test } from 'tap'
import { spawnSync } from 'node:child_process'
import { appendFileSync, cpSync, readdirSync, readFileSync, symlinkSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { tempDir } from './helpers/tmp.js'

// The layout's rules (.dependency-cruiser.cjs, docs/layout.md): they pass on the tree, and they
// fail when someone breaks them, which is what makes them worth running.
const ROOT = process.cwd()
const CONFIG = join(ROOT, '.dependency-cruiser.cjs')
const FOLDERS = ['lib', 'stores', 'testing', 'bin', 'types']
const LIB_FLOORS = (createRequire(import.meta.url)(CONFIG) as { LIB_FLOORS: string[][] }).LIB_FLOORS

function cruise (cwd: string): { status: number | null, out: string } {
  const bin = join(ROOT, 'node_modules', 'dependency-cruiser', 'bin', 'dependency-cruise.mjs')
  const run = spawnSync(process.execPath, [bin, ...FOLDERS, '--config', '.dependency-cruiser.cjs', '--output-type', 'err'], { cwd, encoding: 'utf8', timeout: 120_000 })
  return { status: run.status, out: `${run.stdout}${run.stderr}` }
}

/** a copy of the sources to break on purpose */
function copyOfTree (t: Test): string {
  const dir = tempDir(t, 'fzs-layout-')
  for (const folder of FOLDERS) cpSync(join(ROOT, folder), join(dir, folder), { recursive: true })
  for (const file of ['tsconfig.json', '.dependency-cruiser.cjs', 'package.json']) cpSync(join(ROOT, file), join(dir, file))
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir')
  return dir
}

t.test('the tree keeps the layout rules', async t => {
  const { status, out } = cruise(ROOT)
  t.equal(status, 0, out)
})

t.test('a circular import, an import up a floor and a secrets.ts that is no leaf each fail the rules', async t => {
  const dir = copyOfTree(t)
  // the credential importing the plugin: a circle, a leaf that is not one, and lib's ground pointing up
  appendFileSync(join(dir, 'lib', 'secrets.ts'), "\nexport type { SessionManager } from './manager.js'\n")
  // a store importing the plugin: up a package floor
  appendFileSync(join(dir, 'stores', 'memory.ts'), "\nexport type { ResolvedOptions } from '../lib/options.js'\n")
  const { status, out } = cruise(dir)
  t.not(status, 0)
  t.match(out, /no-circular: [^\n]*\n(?:\s+\S+ →\n)*?\s+lib\/secrets\.ts →/, 'a circle through lib/secrets.ts')
  t.match(out, /secrets-is-a-leaf: lib\/secrets\.ts → lib\/manager\.ts/)
  t.match(out, /lib-floor-0-points-down: lib\/secrets\.ts → lib\/manager\.ts/)
  t.match(out, /package-floor-2-points-down: stores\/memory\.ts → lib\/options\.ts/)
})

t.test('every file of lib/ is on exactly one floor, and every floor names files that exist', async t => {
  const files = readdirSync(join(ROOT, 'lib')).filter(f => f.endsWith('.ts') && !f.endsWith('.d.ts')).map(f => f.slice(0, -3)).sort()
  const placed = LIB_FLOORS.flat()
  t.same([...placed].sort(), files, 'the floors list each lib/*.ts once')
  t.equal(new Set(placed).size, placed.length, 'no file on two floors')
})

// Writes of the per-request state: an assignment to a field (state.x =, this.#state.x =, [kState].x =),
// Object.assign onto it, or a change of one of its sets or maps; and the session data written through an
// alias (lib/ names the data `data` or a proxy's `target`: other objects get other names).
const STATE_WRITE = /\b(?:state|#state|\[kState\])\.\w+(?:\.\w+)?\s*(?:=(?!=)|\+\+|--|[-+|&?]{1,2}=)|Object\.assign\(\s*(?:this\.#)?state\b|\bstate\.(?:changed|unset|validated|snapshots)\??\.(?:add|delete|clear|set)\(|\bdelete\s+(?:this\.#)?state\.|\bstate\.data\[[^\]]+\]\s*=(?!=)|\b(?:data|target)\[[^\]]+\]\s*=(?!=)|Object\.assign\(\s*(?:data|target)\b|\bdelete\s+(?:data|target)\[/

t.test('the pattern for a state write catches each way of writing it', async t => {
  for (const line of ['state.sendCookie = true', 'this.#state.cookieOverrides = {}', 'this[kState].touchDue = false', 'state.version++', 'state.meta ??= {}',
    'Object.assign(state, { stale: true })', 'state.changed.add(key)', 'state.snapshots?.delete(key)', 'delete state.data[key]', 'state.data[key] = value',
    'target[key as string] = value', 'data[key] = checked.value', 'Object.assign(data, result)', 'delete data[k]']) {
    t.match(line, STATE_WRITE, line)
  }
  for (const line of ['if (state.sendCookie === true) return', 'const x = state.meta.owner', 'state.changed.has(key)', 'state.stored !== false', 'kept[key] = state.data[key]', 'if (data[key] === undefined) return']) {
    t.notMatch(line, STATE_WRITE, line)
  }
})

t.test('only lib/state.ts writes the per-request state', async t => {
  const offenders: string[] = []
  for (const file of readdirSync(join(ROOT, 'lib')).filter(f => f.endsWith('.ts') && f !== 'state.ts')) {
    readFileSync(join(ROOT, 'lib', file), 'utf8').split('\n').forEach((line, i) => {
      if (STATE_WRITE.test(line)) offenders.push(`lib/${file}:${i + 1}: ${line.trim()}`)
    })
  }
  t.same(offenders, [], 'a change of SessionState is a named transition in lib/state.ts')
})
