'use strict'
// Preloaded (`node --require`) into a peer test file by test/compat/run.mjs, to count its tests one by one.
// The file's top-level test()/it()/describe() calls are numbered in the order it makes them:
// - FZS_COMPAT_LIST=1: none runs; their names are printed as one `FZS_COMPAT_TESTS <json>` line.
// - FZS_COMPAT_ONLY=<n>: only the n-th runs (duplicate names stay apart); once it has finished, the
//   process ends shortly after even if the test left a handle open (as `--test-force-exit` would).
const Module = require('node:module')
const real = require('node:test')

const listing = process.env.FZS_COMPAT_LIST === '1'
const only = process.env.FZS_COMPAT_ONLY
const names = []
let count = -1

function nameOf (args) {
  if (typeof args[0] === 'string') return args[0]
  const fn = args.find(a => typeof a === 'function')
  return fn?.name || '<anonymous>'
}

function gated (fn) {
  return function gatedTest (...args) {
    count++
    if (listing) {
      names.push(nameOf(args))
      return Promise.resolve()
    }
    if (String(count) !== only) return Promise.resolve()
    const result = fn.apply(this, args)
    Promise.resolve(result).finally(() => { setTimeout(() => process.exit(), 500).unref() })
    return result
  }
}

const wrapper = gated(real)
for (const key of Object.keys(real)) wrapper[key] = real[key]
for (const key of ['test', 'it', 'describe', 'suite']) {
  if (typeof real[key] !== 'function') continue
  const base = key === 'test' ? wrapper : gated(real[key])
  for (const variant of ['skip', 'todo', 'only']) if (typeof real[key][variant] === 'function') base[variant] = gated(real[key][variant])
  wrapper[key] = base
}

const load = Module._load
Module._load = function (request, parent, isMain) {
  if (request === 'node:test') return wrapper
  return load.call(this, request, parent, isMain)
}

if (listing) process.on('exit', () => { process.stdout.write(`FZS_COMPAT_TESTS ${JSON.stringify(names)}\n`) })
