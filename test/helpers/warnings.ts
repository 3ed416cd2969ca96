import type { Test } from 'tap'

/**
 * the messages of the process warnings emitted from now until the test ends;
 * with a code, only those of the warnings carrying that code
 */
export function collectWarnings (t: Test, code?: string): string[] {
  const warnings: string[] = []
  const onWarning = (w: Error & { code?: string }): void => {
    if (code === undefined || w.code === code) warnings.push(w.message)
  }
  process.on('warning', onWarning)
  t.teardown(() => process.off('warning', onWarning))
  return warnings
}
