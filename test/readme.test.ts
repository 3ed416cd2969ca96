import t from 'tap'
import { readFileSync } from 'node:fs'
import { errorCodes } from '../lib/index.js'

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8')

t.test('the README Errors table lists exactly the codes in errorCodes, with their status', async t => {
  const section = readme.split('## Errors')[1].split('\n## ')[0]
  const rows = [...section.matchAll(/^\| `(FST_SESSION_[A-Z_]+)` \| (\d{3}) \|/gm)].map(m => [m[1], Number(m[2])])
  const codes = Object.entries(errorCodes).map(([code, E]) => [code, new E().statusCode])
  t.same(rows.sort(), codes.sort())
})

t.test('the README documents every option', async t => {
  const section = readme.split('## Options')[1].split('\n## ')[0]
  const { KNOWN_OPTIONS } = await import('../lib/options.js')
  for (const option of KNOWN_OPTIONS) t.match(section, `| \`${option}\` |`, option)
})

t.test('the README prints the exact MySQL DDL the store uses', async t => {
  const { sessionsTableDDL, sessionsPrefixColumnDDL } = await import('../stores/mysql.js')
  t.ok(readme.includes('```sql\n' + sessionsTableDDL() + '\n```'))
  t.ok(readme.includes('```sql\n' + sessionsPrefixColumnDDL() + '\n```'), 'and the migration of an older table')
})

t.test('the README prints the exact PostgreSQL DDL the store uses', async t => {
  const { postgresTableDDL, postgresPrefixColumnDDL } = await import('../stores/postgres.js')
  t.ok(readme.includes('```sql\n' + postgresTableDDL() + '\n```'))
  t.ok(readme.includes('```sql\n' + postgresPrefixColumnDDL() + '\n```'), 'and the migration of an older table')
})

t.test('the README\'s copy of the store contract has exactly the methods and patch results of types/index.ts', async t => {
  const types = readFileSync(new URL('../types/index.ts', import.meta.url), 'utf8')
  const methods = (text: string): string[] => {
    const body = text.split('interface SessionStore {')[1].split('\n}')[0]
    return [...body.matchAll(/^ {2}(\w+)\??\s?\(/gm)].map(m => m[1]).sort()
  }
  const fromTypes = methods(types)
  t.ok(fromTypes.includes('rotate') && fromTypes.length >= 10, `the interface was read (${fromTypes.join(', ')})`)
  t.same(methods(readme), fromTypes)
  const results = /export type PatchResult = (.+)/.exec(types)?.[1].split(' | ') ?? []
  t.ok(results.length >= 4)
  const readmePatch = /patch\(id,[^\n]*/.exec(readme)?.[0] ?? ''
  for (const result of results) t.ok(readmePatch.includes(result), `the README's patch line lists ${result}`)
})

t.test('the README Options table and the @default tags of types/index.ts give the defaults the plugin applies (DEFAULTS)', async t => {
  const { DEFAULTS } = await import('../lib/options.js')
  const types = readFileSync(new URL('../types/index.ts', import.meta.url), 'utf8').split('interface FastifyZodSessionOptions')[1]
  const show = (value: unknown): string => typeof value === 'string'
    ? `'${value}'`
    : value !== null && typeof value === 'object' ? `{ ${Object.entries(value).map(([k, v]) => `${k}: ${show(v)}`).join(', ')} }` : String(value)
  const section = readme.split('## Options')[1].split('\n## ')[0]
  for (const [option, value] of Object.entries(DEFAULTS)) {
    t.ok(section.includes(`| \`${option}\` | \`${show(value)}\` |`), `README: ${option} = ${show(value)}`)
    const tag = new RegExp(`@default ([^\\n]*?)(?: \\*/)?\\n(?:\\s*\\*/\\n)?\\s*${option}\\??:`).exec(types)?.[1]
    t.equal(tag, show(value), `types/index.ts: ${option}`)
  }
})
