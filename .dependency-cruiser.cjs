// The layout's rules (README "Development", shared in DESIGN.md "Layout"), checked by `npm test`
// (npm run test:layout) and by test/layout.test.ts, which also proves a circular import fails them.
// Folders are floors, lowest first, and lib/ is in floors of its own: an import only ever points down
// or across its floor, never up, and nothing imports in a circle.

/** the package's floors, lowest first: a folder (a regular expression on the path) per floor */
const PACKAGE_FLOORS = [
  ['types', '^types/'],
  ['stores/kit', '^stores/kit/'],
  ['stores', '^stores/(?!kit/|url/)'],
  ['stores/url', '^stores/url/'],
  ['lib', '^lib/'],
  ['testing', '^testing/'],
  ['bin', '^bin/']
]

/** lib/'s floors, lowest first (file names without .ts). Every file of lib/ is on one (test/layout.test.ts checks). */
const LIB_FLOORS = [
  ['secrets', 'hmac-signer', 'errors', 'store-call', 'events', 'duration', 'binding', 'json-value', 'store-timeout', 'key-ring'],
  ['schema', 'freshness', 'sessions-api'],
  ['options', 'legacy-options', 'signer-options'],
  ['cookie', 'expiry', 'stored', 'upkeep', 'sealed-store'],
  ['state'],
  ['load', 'legacy', 'owner-limit', 'cookie-view'],
  ['session', 'persist'],
  ['session-proxy', 'manager', 'store-view', 'hooks'],
  ['plugin', 'index']
]

const files = names => `^lib/(${names.join('|')})\\.ts$`

const floorRules = (floors, label, toPath) => floors.slice(0, -1).map((floor, i) => ({
  name: `${label}-floor-${i}-points-down`,
  comment: `${label}: ${toPath(floor)} imports only from its own floor or below`,
  severity: 'error',
  from: { path: toPath(floor) },
  to: { path: floors.slice(i + 1).map(toPath) }
}))

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'no import circle anywhere (type-only imports count: they are read as one knot all the same)',
      severity: 'error',
      from: { path: '^(lib|stores|testing|bin|types)/' },
      to: { circular: true }
    },
    ...floorRules(PACKAGE_FLOORS, 'package', ([, path]) => path),
    ...floorRules(LIB_FLOORS, 'lib', files),
    {
      name: 'secrets-is-a-leaf',
      comment: 'lib/secrets.ts (the credential) imports only node:crypto and types/',
      severity: 'error',
      from: { path: '^lib/secrets\\.ts$' },
      to: { pathNot: ['^types/', '^(node:)?crypto$'] }
    },
    {
      name: 'state-has-one-writer',
      comment: 'lib/state.ts imports nothing that could write the state behind its back (only types, ground floors and cookie)',
      severity: 'error',
      from: { path: '^lib/state\\.ts$' },
      to: { path: '^lib/', pathNot: [files(['secrets', 'errors', 'cookie', 'options'])] }
    }
  ],
  options: {
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '(^|/)(node_modules|dist)/|\\.d\\.c?ts$|\\.cjs$' }
  }
}

/** for test/layout.test.ts (dependency-cruiser refuses unknown keys in the configuration itself) */
Object.defineProperty(module.exports, 'LIB_FLOORS', { value: LIB_FLOORS, enumerable: false })
