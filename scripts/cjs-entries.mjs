// After the build: dist/cjs holds the CommonJS type declarations only. Beside each one this writes a
// CommonJS file that require()s the matching ES module file, so require('fastify-zod-session/stores/…')
// loads the one copy of the code (Node >= 20.19 / 22.12 load ES modules from require) through a file
// that is CommonJS, as its types say.
import { readdirSync, writeFileSync } from 'node:fs'
import { join, relative } from 'node:path'

const cjs = new URL('../dist/cjs/', import.meta.url).pathname
const esm = new URL('../dist/esm/', import.meta.url).pathname
writeFileSync(join(cjs, 'package.json'), '{"type":"commonjs"}\n')
for (const entry of readdirSync(cjs, { recursive: true, withFileTypes: true })) {
  if (!entry.isFile() || !entry.name.endsWith('.d.ts')) continue
  const dir = entry.parentPath
  const name = entry.name.slice(0, -'.d.ts'.length)
  const target = relative(dir, join(esm, relative(cjs, dir), `${name}.js`))
  writeFileSync(join(dir, `${name}.js`), `'use strict'\nmodule.exports = require(${JSON.stringify(target)})\n`)
}
