// How the plugin calls its store: every failure wrapped once as FST_SESSION_STORE_UNAVAILABLE, and
// create-if-absent for stores that have no create().
import type { SessionRecord, SessionStore } from '../types/index.js'
import { storeError } from './errors.js'

/** Runs a store operation, wrapping its failure once as FST_SESSION_STORE_UNAVAILABLE. */
export async function callStore<T> (action: string, op: () => Promise<T>): Promise<T> {
  try {
    return await op()
  } catch (err) {
    throw storeError(action, err)
  }
}

/** `store.create`, or (a store without it) a read and a set: parallel creates of one id then race (the README says so) */
export async function createIfAbsent (store: SessionStore, id: string, record: SessionRecord): Promise<boolean> {
  if (typeof store.create === 'function') return await store.create(id, record)
  if (await store.get(id) !== undefined) return false
  await store.set(id, record)
  return true
}
