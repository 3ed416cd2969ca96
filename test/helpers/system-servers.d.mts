/** What the tests need from the system: see system-servers.mjs. */
export interface SystemServer { what: string, pkg: string, env: string[], present: () => boolean }
export function systemPath (path: string): string
export function findBinary (name: string): string | undefined
export const DEBIAN_POSTGRES_MAJOR: number
export function debianPostgresBin (): string
export const NPM_POSTGRES_MAJOR: number
export const NPM_POSTGRES_PACKAGE: string
export function npmPostgresRoot (): string | undefined
export const SYSTEM_SERVERS: SystemServer[]
export function npmPostgresPresent (): boolean
export function missingSystemServers (): SystemServer[]
