// Creates a store (and the client it needs) from a storage URL: the store's line in schemes.ts loads
// the store, whose own fromUrl() creates the client; drivers are optional dependencies of the user's
// app, each imported only when its scheme is used (a missing one names its package).
import type { SessionStore } from '../../types/index.js'
import type { OpenedFromUrl } from '../kit/url.js'
import { parseStoreUrl, type StoreUrl } from './parse.js'
import { STORES } from './schemes.js'

export interface OpenedStore {
  store: SessionStore
  /** closes the store, then the client created for it */
  close: () => Promise<void>
}

/**
 * Hides the password in anything a driver reports: message and stack (loggers print both), causes,
 * and every property util.inspect would print (ioredis puts the AUTH command's args on its error).
 */
export function scrub (err: unknown, url: StoreUrl): Error {
  const error = err instanceof Error ? err : new Error(String(err))
  const hide = (text: string): string => url.secrets.reduce((t, secret) => t.split(secret).join('***'), text)
  const seen = new Set<object>()
  const walk = (value: Record<string, unknown>, depth: number): void => {
    if (seen.has(value) || depth > 6) return
    seen.add(value)
    const keys = new Set([...Object.keys(value), ...(value instanceof Error ? ['message', 'stack', 'cause'] : [])])
    for (const key of keys) {
      let item: unknown
      try { item = value[key] } catch { continue }
      if (typeof item === 'string') {
        const hidden = hide(item)
        if (hidden !== item) try { value[key] = hidden } catch {}
      } else if (item !== null && typeof item === 'object') {
        walk(item as Record<string, unknown>, depth + 1)
      }
    }
  }
  if (url.secrets.length > 0) walk(error as unknown as Record<string, unknown>, 0)
  return error
}

/**
 * Opens the store a URL names and waits until it is usable (connected, table or folder created).
 * Throws with the password hidden; whatever was opened before a failure is closed again.
 */
export async function openStoreUrl (input: string | StoreUrl): Promise<OpenedStore> {
  const url = typeof input === 'string' ? parseStoreUrl(input) : input
  let opened: OpenedFromUrl | undefined
  try {
    opened = await STORES[url.kind].open(url)
    await opened.store.ready?.()
  } catch (err) {
    await opened?.store.close?.().catch(() => {})
    await opened?.client?.().catch(() => {})
    throw scrub(err, url)
  }
  const { store, client } = opened
  return {
    store,
    close: async () => {
      try {
        await store.close?.()
      } finally {
        await client?.()
      }
    }
  }
}
