import type { ExpiredSession, PruneOptions } from '../../types/index.js'

export interface ExpiredReport {
  /** a removed record, by its store key; keys outside the store's prefix are ignored */
  collect: (key: string, owner: string | undefined | null) => void
  /** hands what was collected since the last report to PruneOptions.onExpired */
  report: () => void
}

/** The expired sessions a prune removed under `prefix`, reported as ids (the prefix taken off); undefined when nobody asked. */
export function expiredReport (prefix: string, options: PruneOptions | undefined): ExpiredReport | undefined {
  const onExpired = options?.onExpired
  if (onExpired === undefined) return undefined
  let sessions: ExpiredSession[] = []
  return {
    collect: (key, owner) => {
      if (!key.startsWith(prefix)) return
      const id = key.slice(prefix.length)
      sessions.push(owner === undefined || owner === null ? { id } : { id, owner })
    },
    report: () => {
      if (sessions.length === 0) return
      const batch = sessions
      sessions = []
      onExpired(batch)
    }
  }
}
