// After tsc: keeps the package small and writes the CommonJS entry files.
// 1. Declarations of internal modules lose their comments (the public ones, which editors show, keep
//    theirs); every emitted file is re-indented from tsc's 4 spaces to 2, outside string and template
//    literals (found by TypeScript's own scanner, so no literal changes).
// 2. Declarations no public entry reaches (lib/index, testing/index, types/index, each store's subpath)
//    are not shipped: they describe internals no app's types can name.
// 3. dist/cjs holds the CommonJS type declarations only. Beside each one goes a CommonJS file that
//    require()s the matching ES module file, so require('fastify-zod-session/stores/…') loads the one
//    copy of the code (Node >= 20.19 / 22.12 load ES modules from require) through a file that is
//    CommonJS, as its types say.
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { dirname, join, relative } from 'node:path'
import ts from 'typescript'

const dist = new URL('../dist/', import.meta.url).pathname
const cjs = join(dist, 'cjs')
const esm = join(dist, 'esm')

/**
 * declarations an app's editor shows: they keep their documentation. Every file directly in stores/ is
 * a store's public subpath (package.json "./stores/*"; its folders are not), and postgres/sql and
 * mysql/sql declare the DDL functions their store's subpath re-exports.
 */
const DOCUMENTED = /^(types\/index|lib\/(index|plugin|session|store-view)|testing\/(index|conformance)|stores\/([^/]+|(postgres|mysql)\/sql))\.d\.ts$/

function withoutComments (name, text) {
  const file = ts.createSourceFile(name, text, ts.ScriptTarget.Latest, false, ts.ScriptKind.TS)
  return ts.createPrinter({ removeComments: true }).printFile(file)
}

/** the [start, end) ranges of the literals in `text` (strings, templates, regular expressions) */
function literals (name, text) {
  const ranges = []
  const file = ts.createSourceFile(name, text, ts.ScriptTarget.Latest, false, name.endsWith('.js') ? ts.ScriptKind.JS : ts.ScriptKind.TS)
  const visit = node => {
    if (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node) || ts.isTemplateExpression(node) || ts.isRegularExpressionLiteral(node) || ts.isTemplateLiteralTypeNode(node)) {
      ranges.push([node.getStart(file), node.getEnd()])
      return
    }
    ts.forEachChild(node, visit)
  }
  visit(file)
  return ranges
}

/** 4-space indentation to 2, never inside a literal */
function reindent (name, text) {
  const keep = literals(name, text)
  const lines = text.split('\n')
  let at = 0
  let k = 0
  for (let i = 0; i < lines.length; i++) {
    while (k < keep.length && keep[k][1] <= at) k++
    const inside = k < keep.length && keep[k][0] < at
    const line = lines[i]
    const spaces = line.length - line.trimStart().length
    at += line.length + 1
    if (!inside && spaces > 0 && line.slice(0, spaces).trim() === '') lines[i] = ' '.repeat(Math.ceil(spaces / 2)) + line.slice(spaces)
  }
  return lines.join('\n')
}

for (const base of [esm, cjs]) {
  for (const entry of readdirSync(base, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue
    const path = join(entry.parentPath, entry.name)
    const name = relative(base, path)
    if (name.endsWith('.d.ts')) {
      let text = readFileSync(path, 'utf8')
      if (!DOCUMENTED.test(name)) text = withoutComments(name, text)
      writeFileSync(path, reindent(name, text))
    } else if (name.endsWith('.js')) {
      writeFileSync(path, reindent(name, readFileSync(path, 'utf8')))
    }
  }
}

/** the declarations a public entry imports, directly or through others */
function reachable (base) {
  const entries = ['lib/index.d.ts', 'testing/index.d.ts', 'types/index.d.ts',
    ...readdirSync(join(base, 'stores')).filter(name => name.endsWith('.d.ts')).map(name => `stores/${name}`)]
  const seen = new Set()
  const queue = entries.map(name => join(base, name))
  while (queue.length > 0) {
    const path = queue.pop()
    if (seen.has(path)) continue
    seen.add(path)
    const file = ts.createSourceFile(path, readFileSync(path, 'utf8'), ts.ScriptTarget.Latest, false, ts.ScriptKind.TS)
    for (const { fileName } of ts.preProcessFile(file.text, true, true).importedFiles) {
      if (!fileName.startsWith('.')) continue
      const target = join(dirname(path), fileName.replace(/\.js$/, '.d.ts'))
      if (existsSync(target)) queue.push(target)
    }
  }
  return seen
}

for (const base of [esm, cjs]) {
  const keep = reachable(base)
  for (const entry of readdirSync(base, { recursive: true, withFileTypes: true })) {
    const path = join(entry.parentPath, entry.name)
    if (entry.isFile() && entry.name.endsWith('.d.ts') && !keep.has(path)) rmSync(path)
  }
}

writeFileSync(join(cjs, 'package.json'), '{"type":"commonjs"}\n')
for (const entry of readdirSync(cjs, { recursive: true, withFileTypes: true })) {
  if (!entry.isFile() || !entry.name.endsWith('.d.ts')) continue
  const dir = entry.parentPath
  const name = entry.name.slice(0, -'.d.ts'.length)
  const target = relative(dir, join(esm, relative(cjs, dir), `${name}.js`))
  writeFileSync(join(dir, `${name}.js`), `'use strict'\nmodule.exports = require(${JSON.stringify(target)})\n`)
}
