import type { PruneOptions } from '../../types/index.js'

/**
 * Collects what a SessionIndex prune removed under `prefix` (ids without it) and hands it to
 * PruneOptions.onExpired once; the returned collector is undefined when nobody asked.
 */
export function expiredReport (prefix: string, options: PruneOptions | undefined): { collect: (key: string, owner: string | undefined) => void, report: () => void } | undefined {
  const onExpired = options?.onExpired
  if (onExpired === undefined) return undefined
  const sessions: Array<{ id: string, owner?: string }> = []
  return {
    collect: (key, owner) => { if (key.startsWith(prefix)) sessions.push(owner === undefined ? { id: key.slice(prefix.length) } : { id: key.slice(prefix.length), owner }) },
    report: () => { if (sessions.length > 0) onExpired(sessions) }
  }
}
