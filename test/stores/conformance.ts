// The tap adapter for the exported suites: the store contract's conformance cases and the lifecycle
// race cases, run for a store on its real backend. Backend limits are options, never forked tests.
import type { Test } from 'tap'
import { storeConformance, lifecycleRaces, type ConformanceOptions } from '../../testing/index.js'

let counter = 0

export function conformance (t: Test, options: ConformanceOptions & { races?: boolean }): void {
  for (const c of storeConformance(options)) t.test(c.name, async () => { await c.run() })
  if (options.races === false) return
  t.test('lifecycle races through the plugin', async t => {
    const cases = lifecycleRaces({ create: () => options.create({ prefix: `race${process.pid}x${counter++}:` }), ownerIndex: options.ownerIndex })
    for (const c of cases) t.test(c.name, async () => { await c.run() })
  })
}
