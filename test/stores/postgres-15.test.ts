// The PostgreSQL store on PostgreSQL 15 (Debian's package, or POSTGRES_URL's server).
import { postgresSuite } from './postgres-suite.js'

await postgresSuite(15)
