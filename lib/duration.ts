const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }
const DURATION_RE = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)$/

/**
 * Parses a duration: a number of SECONDS, or a string like '30s', '15m', '4h', '7d', '250ms'.
 * Returns milliseconds, or undefined when the input is not a valid duration.
 */
export function toMs (value: unknown): number | undefined {
  if (typeof value === 'number') {
    return Number.isFinite(value) && value >= 0 ? Math.round(value * 1000) : undefined
  }
  if (typeof value !== 'string') return undefined
  const match = DURATION_RE.exec(value.trim())
  if (match === null) return undefined
  return Math.round(Number(match[1]) * UNIT_MS[match[2]])
}
