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
  const { sessionsTableDDL } = await import('../stores/mysql.js')
  t.ok(readme.includes('```sql\n' + sessionsTableDDL() + '\n```'))
})
