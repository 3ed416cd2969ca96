import { open, readFile, unlink } from 'node:fs/promises'
import { unlinkSync } from 'node:fs'

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
      await handle.writeFile(String(process.pid))
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
    const pid = Number((await readFile(lockPath, 'utf8').catch(() => '')).trim())
    if (Number.isInteger(pid) && pid > 0 && alive(pid)) {
      const holder = pid === process.pid ? 'this process already' : `process ${pid}`
      throw new Error(`${who}: ${lockPath.slice(0, -5)} is in use: ${holder} holds ${lockPath}. One process owns the file; use DirectoryStore or a server store to share sessions between processes.`)
    }
    await unlink(lockPath).catch(() => {}) // stale: its process is gone
  }
  throw new Error(`${who}: could not take ${lockPath}`)
}
