import type { Test } from 'tap'

/** the messages of the process warnings emitted from now until the test ends */
export function collectWarnings (t: Test): string[] {
  const warnings: string[] = []
  const onWarning = (w: Error): void => { warnings.push(w.message) }
  process.on('warning', onWarning)
  t.teardown(() => process.off('warning', onWarning))
  return warnings
}
