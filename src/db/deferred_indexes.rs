//! A PostgreSQL table's indexes built once after a large load instead of kept up row by row
//! during it: PostgreSQL writes every index entry of every row into pages all over each index
//! (the real export's 542k records: 5.2-8.6 s into `activity` with its seven indexes, 0.8 s into
//! the bare table and 1.2 s to build them; a year's 4.5M member days: 41 s indexed, 6.4 s bare
//! and 10.4 s to build). The caller holds the table locked in the transaction that drops and
//! builds them, so nobody reads it meanwhile, and a load that does not finish rolls back with
//! the indexes as they were.

/// Statements that build a table's unique constraints and indexes again, in order (unique
/// first: doubles fail them before any other build).
#[derive(Debug, Default)]
pub struct DeferredIndexes {
    rebuild: Vec<String>,
}

impl DeferredIndexes {
    /// Drops `table`'s unique constraints and indexes (the caller's transaction holds it
    /// locked), remembering how to build them again. Definitions are read back from the
    /// catalogue, so that whatever a later migration adds to the table is dropped and built
    /// again too.
    pub async fn drop<DB>(&mut self, conn: &mut DB::Connection, table: &str) -> sqlx::Result<()>
    where
        DB: sqlx::Database,
        for<'e> &'e mut DB::Connection: sqlx::Executor<'e, Database = DB>,
        for<'q> DB::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
        for<'r> (String, String): sqlx::FromRow<'r, DB::Row>,
    {
        let constraints: Vec<(String, String)> = sqlx::query_as(&format!(
            "SELECT conname::text, pg_get_constraintdef(oid) FROM pg_constraint
             WHERE conrelid = '{table}'::regclass AND contype IN ('p', 'u')
             ORDER BY contype DESC, conname"
        ))
        .fetch_all(&mut *conn)
        .await?;
        let indexes: Vec<(String, String)> = sqlx::query_as(&format!(
            "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i
             WHERE i.indrelid = '{table}'::regclass
               AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
             ORDER BY 1"
        ))
        .fetch_all(&mut *conn)
        .await?;
        for (name, definition) in &constraints {
            sqlx::query(&format!("ALTER TABLE {table} DROP CONSTRAINT \"{name}\""))
                .execute(&mut *conn)
                .await?;
            self.rebuild.push(format!(
                "ALTER TABLE {table} ADD CONSTRAINT \"{name}\" {definition}"
            ));
        }
        for (name, definition) in indexes {
            sqlx::query(&format!("DROP INDEX {name}"))
                .execute(&mut *conn)
                .await?;
            self.rebuild.push(definition);
        }
        Ok(())
    }

    /// Builds every dropped constraint and index again.
    pub async fn build<DB>(&self, conn: &mut DB::Connection) -> sqlx::Result<()>
    where
        DB: sqlx::Database,
        for<'e> &'e mut DB::Connection: sqlx::Executor<'e, Database = DB>,
        for<'q> DB::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
    {
        for statement in &self.rebuild {
            sqlx::query(statement).execute(&mut *conn).await?;
        }
        Ok(())
    }
}
