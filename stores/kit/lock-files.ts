import { open, stat, unlink } from 'node:fs/promises'
import { setTimeout as sleep } from 'node:timers/promises'

/** a key lock older than this was left by a process that died (or froze) holding it: broken */
const STALE_MS = 10_000
/** how long a call waits for a key another process holds before it fails */
const WAIT_MS = 15_000

/**
 * Runs `work` holding `<path>.lock` (created with O_EXCL, removed after), so processes sharing a folder
 * take turns on one key: the in-process lock (KeyedLock) orders this process's calls, this orders the
 * processes. A lock file older than STALE_MS is taken over; one held longer than WAIT_MS fails the call.
 */
export async function withLockFile<T> (path: string, work: () => Promise<T>): Promise<T> {
  const lockPath = path + '.lock'
  const deadline = Date.now() + WAIT_MS
  for (let delay = 1; ; delay = Math.min(delay * 2, 50)) {
    try {
      await (await open(lockPath, 'wx', 0o600)).close()
      break
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
    }
    const held = await stat(lockPath).then(s => Date.now() - s.mtimeMs, () => 0)
    if (held > STALE_MS) {
      await unlink(lockPath).catch(() => {})
      continue
    }
    if (Date.now() > deadline) throw new Error(`${lockPath} held by another process for over ${WAIT_MS / 1000} s`)
    await sleep(delay)
  }
  try {
    return await work()
  } finally {
    await unlink(lockPath).catch(() => {})
  }
}
