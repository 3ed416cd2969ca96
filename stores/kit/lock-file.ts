import { open, readFile, unlink } from 'node:fs/promises'
import { unlinkSync } from 'node:fs'
import { randomUUID } from 'node:crypto'

/**
 * This process's identity beside its pid: a container restarted after a crash runs as the same pid
 * (often 1), and the lock its previous life left must read as stale, not as "this process holds it".
 * Kept on globalThis so the ESM and CommonJS copies of this module agree.
 */
const INSTANCE_KEY = Symbol.for('fastify-zod-session.process-instance')
const holder = globalThis as { [INSTANCE_KEY]?: string }
const instance = holder[INSTANCE_KEY] ??= randomUUID()

function alive (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/**
 * Takes `lockPath` for this process (O_EXCL create, holding the pid). A lock left by a dead process
 * is taken over; one held by a live process is a clear error. Returns the release function.
 */
export async function acquireLock (lockPath: string, who: string): Promise<() => void> {
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const handle = await open(lockPath, 'wx', 0o600)
      await handle.writeFile(`${process.pid} ${instance}`)
      await handle.close()
      const release = (): void => {
        process.off('exit', release)
        try { unlinkSync(lockPath) } catch {}
      }
      process.on('exit', release)
      return release
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
    }
    const [pidText, owner] = (await readFile(lockPath, 'utf8').catch(() => '')).trim().split(' ')
    const pid = Number(pidText)
    const mine = pid === process.pid
    // our own pid with another instance: a previous life of this pid (a restarted container), gone
    if (Number.isInteger(pid) && pid > 0 && (mine ? owner === instance : alive(pid))) {
      const holder = mine ? 'this process already' : `process ${pid}`
      throw new Error(`${who}: ${lockPath.slice(0, -5)} is in use: ${holder} holds ${lockPath}. One process owns the file; use DirectoryStore or a server store to share sessions between processes.`)
    }
    await unlink(lockPath).catch(() => {}) // stale: its process is gone
  }
  throw new Error(`${who}: could not take ${lockPath}`)
}
