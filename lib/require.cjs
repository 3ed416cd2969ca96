'use strict'
// CommonJS entry: `require('fastify-zod-session')` is the plugin itself, with every named export on it.
// The code is the ES module build, loaded by require() (Node >= 20.19 / 22.12) through dist/cjs (see
// scripts/post-build.mjs): one copy of the code for both module systems, so a MemoryStore or an error
// class is the same whichever way it was loaded.
const exported = require('../dist/cjs/lib/index.js')

module.exports = exported.default
Object.assign(module.exports, exported, { default: exported.default, fastifyZodSession: exported.default })
