// fastify-zod-session/testing: the store contract's conformance suite and the lifecycle race suite,
// for people who write their own store. Framework-free: each case throws on failure.
//   for (const c of storeConformance({ create })) test(c.name, c.run)   // node:test, tap, vitest…
export { storeConformance, record, same, type ConformanceOptions, type TestCase } from './conformance.js'
/** the contract's measure of session data, which SessionPatch.maxBytes bounds */
export { dataSize } from '../stores/kit/record.js'
export { lifecycleRaces, type RaceOptions } from './races.js'
