//! `hearth migrate --copy-from SOURCE --to TARGET`: moves a whole store from one database to
//! another (SQLite to PostgreSQL, or back), every row of every table, checked by counts.
//!
//! Both stores are first migrated to the same schema version. The copy runs in one transaction
//! on the target, so a failure leaves it as it was; the target must be empty. The source is read
//! table by table, not as one snapshot: the bot must not be running on it (README says so).

use std::collections::BTreeMap;

use anyhow::{bail, Context as _};
use futures_util::TryStreamExt as _;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row as _};

use super::{Backend, Pool};

/// Rows per INSERT: well under PostgreSQL's 65,535 bound values for the widest table.
const ROWS_PER_STATEMENT: usize = 500;

/// One table's rows in the source and, after the copy, in the target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Copied {
    pub table: String,
    pub source_rows: i64,
    pub target_rows: i64,
}

/// Copies every table of `source` into the empty `target`; returns the counts of both sides,
/// table by table. Fails, with the target unchanged, when a count differs.
pub async fn copy_store(source: &Pool, target: &Pool) -> anyhow::Result<Vec<Copied>> {
    let source_version = schema_version(source).await?;
    let target_version = schema_version(target).await?;
    if source_version != target_version {
        bail!(
            "the two stores are at different schema versions ({source_version} and \
             {target_version}); fix: run this version of hearth's `migrate` on both first"
        );
    }
    let tables = tables(target).await?;
    let mut tx = target.begin().await?;
    for (table, _) in &tables {
        let rows: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
            .fetch_one(&mut *tx)
            .await?;
        if rows > 0 {
            bail!(
                "the target already holds data ({rows} rows in `{table}`); fix: copy into a new, \
                 empty database"
            );
        }
    }
    let mut copied = Vec::with_capacity(tables.len());
    for (table, columns) in &tables {
        let source_rows = copy_table(source, &mut tx, table, columns)
            .await
            .with_context(|| format!("copying the table `{table}`"))?;
        let target_rows: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
            .fetch_one(&mut *tx)
            .await?;
        if source_rows != target_rows {
            bail!("`{table}`: {source_rows} rows read but {target_rows} in the target; nothing was copied");
        }
        copied.push(Copied {
            table: table.clone(),
            source_rows,
            target_rows,
        });
    }
    if Backend::of_pool(target) == Backend::Postgres {
        move_identities_past_copied_rows(&mut tx, &tables).await?;
    }
    tx.commit().await?;
    super::after_bulk_write(target, &[], true).await?;
    Ok(copied)
}

/// The highest migration applied.
async fn schema_version(pool: &Pool) -> anyhow::Result<i64> {
    Ok(
        sqlx::query_scalar("SELECT COALESCE(MAX(version), 0) FROM _sqlx_migrations WHERE success")
            .fetch_one(pool)
            .await?,
    )
}

/// A column and whether it holds text (else an integer: the only two kinds in both schemas).
type Column = (String, bool);

/// The store's tables, parents before the tables that refer to them, with their columns.
async fn tables(pool: &Pool) -> anyhow::Result<Vec<(String, Vec<Column>)>> {
    let names: Vec<(String, String)> = match Backend::of_pool(pool) {
        // sqlite_master lists tables in the order they were created, parents first; columns
        // are read below.
        Backend::Sqlite => {
            sqlx::query_as(
                "SELECT name, '' FROM sqlite_master WHERE type = 'table'
               AND name NOT LIKE 'sqlite%' AND name NOT LIKE '\\_sqlx%' ESCAPE '\\'
             ORDER BY rowid",
            )
            .fetch_all(pool)
            .await?
        }
        // Tables by their oid (creation order, so parents first), each with its columns.
        Backend::Postgres => {
            sqlx::query_as(
                "SELECT c.relname::TEXT,
                    string_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod), ','
                               ORDER BY a.attnum)
             FROM pg_class c
             JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = current_schema()
             JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
             WHERE c.relkind = 'r' AND c.relname NOT LIKE '\\_sqlx%'
             GROUP BY c.oid, c.relname ORDER BY c.oid",
            )
            .fetch_all(pool)
            .await?
        }
    };
    let mut tables = Vec::with_capacity(names.len());
    for (name, columns) in names {
        let columns: Vec<(String, String)> = if columns.is_empty() {
            sqlx::query_as(&format!(
                "SELECT name, type FROM pragma_table_info('{name}') ORDER BY cid"
            ))
            .fetch_all(pool)
            .await?
        } else {
            columns
                .split(',')
                .filter_map(|c| c.split_once(' '))
                .map(|(name, kind)| (name.to_owned(), kind.to_owned()))
                .collect()
        };
        let columns = columns
            .into_iter()
            .map(|(name, kind)| (name, kind.eq_ignore_ascii_case("text")))
            .collect();
        tables.push((name, columns));
    }
    Ok(tables)
}

/// A value as both databases store Hearth's columns: an integer, a text or NULL.
#[derive(Clone, Debug)]
enum Value {
    Integer(Option<i64>),
    Text(Option<String>),
}

fn read_value(row: &AnyRow, index: usize, text: bool) -> sqlx::Result<Value> {
    Ok(if text {
        Value::Text(row.try_get(index)?)
    } else {
        Value::Integer(row.try_get(index)?)
    })
}

/// Streams one table from the source into the target's transaction; returns the rows read.
async fn copy_table(
    source: &Pool,
    target: &mut AnyConnection,
    table: &str,
    columns: &[Column],
) -> anyhow::Result<i64> {
    // `rowid` is SQLite's hidden row number: a column of its own on PostgreSQL
    // (saved_reply_edits keeps its order of edits made in the same second with it).
    let list = columns
        .iter()
        .map(|(name, _)| name.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    let select = format!("SELECT {list} FROM {table}");
    let mut rows = sqlx::query(&select).fetch(source);
    let mut batch: Vec<Vec<Value>> = Vec::with_capacity(ROWS_PER_STATEMENT);
    let mut read = 0_i64;
    while let Some(row) = rows.try_next().await? {
        let values = columns
            .iter()
            .enumerate()
            .map(|(i, (_, text))| read_value(&row, i, *text))
            .collect::<sqlx::Result<Vec<_>>>()?;
        batch.push(values);
        read += 1;
        if batch.len() == ROWS_PER_STATEMENT {
            insert(target, table, &list, columns.len(), &batch).await?;
            batch.clear();
        }
    }
    if !batch.is_empty() {
        insert(target, table, &list, columns.len(), &batch).await?;
    }
    Ok(read)
}

async fn insert(
    target: &mut AnyConnection,
    table: &str,
    list: &str,
    width: usize,
    rows: &[Vec<Value>],
) -> anyhow::Result<()> {
    let sql = super::statements::values(
        Backend::of_connection(target),
        &format!("INSERT INTO {table} ({list})"),
        rows.len(),
        width,
    );
    let mut query = sqlx::query(&sql);
    for value in rows.iter().flatten() {
        query = match value {
            Value::Integer(v) => query.bind(*v),
            Value::Text(v) => query.bind(v.clone()),
        };
    }
    query.execute(target).await?;
    Ok(())
}

/// PostgreSQL's identity columns hand out numbers from a sequence that the copied rows (which
/// brought their own ids) did not advance: the next id must come after the copied ones.
async fn move_identities_past_copied_rows(
    target: &mut AnyConnection,
    tables: &[(String, Vec<Column>)],
) -> anyhow::Result<()> {
    let identities: Vec<(String, String)> = sqlx::query_as(
        "SELECT table_name::TEXT, column_name::TEXT FROM information_schema.columns
         WHERE table_schema = current_schema() AND is_identity = 'YES'",
    )
    .fetch_all(&mut *target)
    .await?;
    let known: BTreeMap<&str, ()> = tables.iter().map(|(t, _)| (t.as_str(), ())).collect();
    for (table, column) in identities {
        if !known.contains_key(table.as_str()) {
            continue;
        }
        sqlx::query(&format!(
            "SELECT setval(pg_get_serial_sequence('{table}', '{column}'),
                           COALESCE((SELECT MAX({column}) FROM {table}), 0) + 1, false)"
        ))
        .execute(&mut *target)
        .await?;
    }
    Ok(())
}
