'use strict'
// CommonJS entry: `require('fastify-zod-session')` is the plugin itself, with every named export on it.
const exported = require('../dist/cjs/lib/index.js')

module.exports = exported.default
Object.assign(module.exports, exported, { default: exported.default, fastifyZodSession: exported.default })
