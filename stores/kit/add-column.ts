// A column a newer version of an SQL store needs, added to a table an older version made: probed with
// a SELECT, added once (two processes adding it at once is fine), or, with createTable false, a clear
// error naming the DDL to run.

const codeOf = (err: unknown): string | undefined => (err as { code?: string })?.code

export interface MissingColumn {
  /** runs one statement on the store's pool */
  query: (sql: string) => Promise<unknown>
  /** `SELECT <column> FROM <table> LIMIT 0` */
  probe: string
  /** the ALTER TABLE that adds it */
  ddl: string
  /** the driver's error codes for "no such column" and for "the column exists already" */
  missingCode: string
  duplicateCode: string
  /** false (createTable: false): never alter the table, throw `refusal` instead */
  alter: boolean
  refusal: string
}

export async function addMissingColumn (column: MissingColumn): Promise<void> {
  try {
    await column.query(column.probe)
    return
  } catch (err) {
    if (codeOf(err) !== column.missingCode) throw err
    if (!column.alter) throw new Error(column.refusal, { cause: err })
  }
  try {
    await column.query(column.ddl)
  } catch (err) {
    if (codeOf(err) !== column.duplicateCode) throw err
  }
}
