import type { Server } from './servers.js'

/** A throw-away PostgreSQL (or POSTGRES_URL's server): see pg-server.mjs. */
export function startPostgres (): Promise<Server>
/** The postmaster and its backends' pids. */
export function postgresPids (postmaster: number): number[]
