import type { Test } from 'tap'

/** Replaces Date.now for the test: time moves only when the test says so. */
export function fakeClock (t: Test, start = Date.UTC(2026, 0, 1)): { now: () => number, advance: (ms: number) => void } {
  const realNow = Date.now
  let current = start
  Date.now = () => current
  t.teardown(() => { Date.now = realNow })
  return { now: () => current, advance: (ms: number) => { current += ms } }
}
