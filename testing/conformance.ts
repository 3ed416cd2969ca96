// The store contract's conformance suite: every rule written on SessionStore (types/index.ts), as
// framework-free cases. Each case makes its own store (its own prefix) and throws on failure.
// One file per part of the contract under conformance/, composed here in a fixed order.
import { suite, type ConformanceOptions, type TestCase } from './conformance/kit.js'
import { copyCases, recordCases } from './conformance/records.js'
import { afterDestroyCases, destroyCases } from './conformance/destroy.js'
import { touchCases } from './conformance/touch.js'
import { patchCases } from './conformance/patch.js'
import { rotateCases } from './conformance/rotate.js'
import { createCases } from './conformance/create.js'
import { pruneCases } from './conformance/prune.js'
import { ownerCases } from './conformance/owners.js'
import { prefixCases } from './conformance/prefixes.js'

export { record, same, type ConformanceOptions, type TestCase } from './conformance/kit.js'

export function storeConformance (options: ConformanceOptions): TestCase[] {
  const cases: TestCase[] = []
  const s = suite(options, cases)
  recordCases(s)
  destroyCases(s)
  touchCases(s)
  copyCases(s)
  patchCases(s)
  rotateCases(s)
  createCases(s)
  afterDestroyCases(s)
  pruneCases(s)
  ownerCases(s)
  prefixCases(s)
  return cases
}
