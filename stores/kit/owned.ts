import type { SessionStore } from '../../types/index.js'

/** destroyByOwner for stores that list an owner's sessions and destroy them one by one. */
export async function destroyOwned (store: Required<Pick<SessionStore, 'listByOwner' | 'destroy'>>, owner: string, except?: string): Promise<number> {
  let removed = 0
  for (const id of await store.listByOwner(owner)) {
    if (id === except) continue
    if (await store.destroy(id)) removed++
  }
  return removed
}
