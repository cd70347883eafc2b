//! Multi-row statements in few shapes, for the batched writes of activity, joins and members,
//! and the integer rows a rollup rebuild writes by the million ([`insert_integers`]).

use sqlx::AnyConnection;

use super::Backend;

/// Rows split into statements of the few shapes `statement_rows` allows. Each statement is a
/// round trip to the connection's thread, so a batch takes few of them.
pub fn statements<T>(rows: &[T]) -> impl Iterator<Item = &[T]> {
    let mut rest = rows;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let (head, tail) = rest.split_at(statement_rows(rest.len()));
        rest = tail;
        Some(head)
    })
}

/// Most records in one statement. 2048 measured no faster (`hearth-bench --only writer`), and a
/// statement's bound values (8 per record) are held in memory until it runs.
const MAX_STATEMENT_ROWS: usize = 256;

/// How many of `n` records the next statement takes: the most it may, else the largest power of
/// two. Statements then come in nine shapes, prepared once and reused; one shaped by each
/// batch's size was prepared (and cached) anew for every batch (issue 7).
fn statement_rows(n: usize) -> usize {
    if n >= MAX_STATEMENT_ROWS {
        MAX_STATEMENT_ROWS
    } else {
        1 << n.max(1).ilog2()
    }
}

/// `head` followed by `VALUES (…), (…)` for `rows` rows of `columns` values, with each
/// database's own placeholders: `?` for SQLite, `$1, $2, …` for PostgreSQL (which refuses `?`;
/// sqlx's QueryBuilder writes `?` for the Any driver). Not `$n` on SQLite: there `$n` are named
/// parameters, and sqlx looks each one's name up in SQLite's list of names on every execution,
/// which for a statement of 2,048 values cost ~25 µs per record (found by `hearth-bench --only
/// writer`) instead of ~1.5.
pub fn values(backend: Backend, head: &str, rows: usize, columns: usize) -> String {
    use std::fmt::Write as _;
    let mut sql = String::with_capacity(head.len() + rows * columns * 6 + 8);
    sql.push_str(head);
    sql.push_str(" VALUES ");
    for row in 0..rows {
        sql.push_str(if row == 0 { "(" } else { ", (" });
        for column in 0..columns {
            let separator = if column == 0 { "" } else { ", " };
            match backend {
                Backend::Sqlite => {
                    let _ = write!(sql, "{separator}?");
                }
                Backend::Postgres => {
                    let n = row * columns + column + 1;
                    let _ = write!(sql, "{separator}${n}");
                }
            }
        }
        sql.push(')');
    }
    sql
}

/// `sql` written with `?` placeholders, bound in the order they appear, in the database's own
/// placeholders (PostgreSQL's `$1, $2, …`): a statement with a long list of values that also
/// uses a few values twice (see [`values`] for why not `$n` on SQLite).
pub fn positional(backend: Backend, sql: &str) -> String {
    match backend {
        Backend::Sqlite => sql.to_owned(),
        Backend::Postgres => {
            let mut out = String::with_capacity(sql.len() + sql.len() / 4);
            let mut n = 0;
            for c in sql.chars() {
                if c == '?' {
                    n += 1;
                    out.push('$');
                    out.push_str(&n.to_string());
                } else {
                    out.push(c);
                }
            }
            out
        }
    }
}

/// Rows per statement of integers written in, on SQLite ([`literal_values`]).
const LITERAL_ROWS: usize = 500;

/// Rows per statement on PostgreSQL, one array of each column (10k and 50k measured alike).
const ARRAY_ROWS: usize = 10_000;

/// Inserts rows of integers (and NULLs) in few statements.
/// `head` is `INSERT INTO t (a, b, …)`, `tail` what follows the rows (`ON CONFLICT …`, or
/// nothing). SQLite gets the integers written into each statement (`literal_values`);
/// PostgreSQL one array per column, bound as text and spread by `unnest`: it parses a VALUES
/// list at ~20 µs a row of 10 integers, indexes or not, and the arrays at ~4 (psql, 100k member
/// days with their three indexes: 2.1 s as VALUES, 0.8 s as arrays, 0.6 s by COPY). Under
/// `DO UPDATE` no two rows may share a key: a PostgreSQL statement takes up to 10,000 of them.
pub async fn insert_integers<const N: usize>(
    conn: &mut AnyConnection,
    head: &str,
    tail: &str,
    rows: &[[Option<i64>; N]],
) -> sqlx::Result<()> {
    match Backend::of_connection(conn) {
        Backend::Sqlite => {
            for rows in rows.chunks(LITERAL_ROWS) {
                let sql = format!("{} {tail}", literal_values(head, rows.iter().copied()));
                sqlx::query(&sql)
                    .persistent(false)
                    .execute(&mut *conn)
                    .await?;
            }
        }
        Backend::Postgres => {
            let arrays: Vec<String> = (1..=N).map(|n| format!("${n}::bigint[]")).collect();
            let sql = format!("{head} SELECT * FROM unnest({}) {tail}", arrays.join(", "));
            for rows in rows.chunks(ARRAY_ROWS) {
                let mut query = sqlx::query(&sql);
                for column in 0..N {
                    query = query.bind(array_literal(rows.iter().map(|row| row[column])));
                }
                query.execute(&mut *conn).await?;
            }
        }
    }
    Ok(())
}

/// Copies integer rows into `target` (`table (columns)`) with PostgreSQL's `COPY`, which reads
/// rows at a fraction of an `INSERT`'s cost (a year's 4.5M member days: 26 s as arrays spread by
/// `unnest`, into the same table without indexes). For loads on a connection of their own.
pub async fn copy_integers<const N: usize>(
    conn: &mut sqlx::PgConnection,
    target: &str,
    rows: &[[Option<i64>; N]],
) -> sqlx::Result<()> {
    use std::fmt::Write as _;
    if rows.is_empty() {
        return Ok(());
    }
    // COPY's text format: tab-separated, `\N` for NULL; integers, so nothing to escape.
    let mut text = String::with_capacity(rows.len() * N * 12);
    for row in rows {
        for (i, value) in row.iter().enumerate() {
            if i > 0 {
                text.push('\t');
            }
            match value {
                Some(v) => {
                    let _ = write!(text, "{v}");
                }
                None => text.push_str("\\N"),
            }
        }
        text.push('\n');
    }
    let mut copy = conn
        .copy_in_raw(&format!("COPY {target} FROM STDIN"))
        .await?;
    copy.send(text.into_bytes()).await?;
    copy.finish().await?;
    Ok(())
}

/// A PostgreSQL array literal of integers: `{1,-2,NULL}`.
fn array_literal(values: impl ExactSizeIterator<Item = Option<i64>>) -> String {
    let mut text = String::with_capacity(values.len() * 12 + 2);
    text.push('{');
    for (i, value) in values.enumerate() {
        if i > 0 {
            text.push(',');
        }
        push_integer(&mut text, value);
    }
    text.push('}');
    text
}

/// An integer as SQL writes it, or NULL.
fn push_integer(text: &mut String, value: Option<i64>) {
    use std::fmt::Write as _;
    match value {
        Some(v) => {
            let _ = write!(text, "{v}");
        }
        None => text.push_str("NULL"),
    }
}

/// `head` followed by `VALUES (…), (…)` with the rows' integers written into the statement:
/// for a rebuild's millions of integer-only rows, where each value bound through sqlx's Any
/// driver cost ~0.5 µs (a member day of 10 values took 8.8 µs to write, SQLite's own share
/// 3). Only integers (and NULL) can be written so: formatted from `i64`, they cannot carry
/// anything but a number. Run such statements with `persistent(false)`: each is new.
fn literal_values<const N: usize>(
    head: &str,
    rows: impl ExactSizeIterator<Item = [Option<i64>; N]>,
) -> String {
    let mut sql = String::with_capacity(head.len() + rows.len() * N * 12 + 8);
    sql.push_str(head);
    sql.push_str(" VALUES ");
    for (i, row) in rows.enumerate() {
        sql.push_str(if i == 0 { "(" } else { ", (" });
        for (column, value) in row.iter().enumerate() {
            if column > 0 {
                sql.push_str(", ");
            }
            push_integer(&mut sql, *value);
        }
        sql.push(')');
    }
    sql
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn array_literals_write_integers_and_nulls() {
        assert_eq!(
            array_literal([Some(-1), None, Some(7)].into_iter()),
            "{-1,NULL,7}"
        );
        assert_eq!(array_literal(std::iter::empty()), "{}");
    }

    #[test]
    fn literal_values_write_integers_and_nulls() {
        assert_eq!(
            literal_values(
                "INSERT INTO t (a, b)",
                [[Some(-1), None], [Some(7), Some(8)]].into_iter()
            ),
            "INSERT INTO t (a, b) VALUES (-1, NULL), (7, 8)"
        );
    }

    #[test]
    fn positional_placeholders_are_numbered_in_order_on_postgres() {
        let sql = "UPDATE t SET a = ? WHERE b = ? AND c IN (?, ?)";
        assert_eq!(positional(Backend::Sqlite, sql), sql);
        assert_eq!(
            positional(Backend::Postgres, sql),
            "UPDATE t SET a = $1 WHERE b = $2 AND c IN ($3, $4)"
        );
    }

    #[test]
    fn values_take_each_databases_placeholders() {
        assert_eq!(
            values(Backend::Postgres, "INSERT INTO t (a, b)", 2, 2),
            "INSERT INTO t (a, b) VALUES ($1, $2), ($3, $4)"
        );
        assert_eq!(
            values(Backend::Sqlite, "INSERT INTO t (a, b)", 2, 2),
            "INSERT INTO t (a, b) VALUES (?, ?), (?, ?)"
        );
        assert_eq!(
            values(Backend::Postgres, "INSERT INTO t (a)", 1, 1),
            "INSERT INTO t (a) VALUES ($1)"
        );
    }

    #[test]
    fn statements_come_in_few_shapes() {
        let shapes =
            |n: usize| -> Vec<usize> { statements(&vec![(); n]).map(<[()]>::len).collect() };
        assert_eq!(shapes(1), [1]);
        assert_eq!(shapes(7), [4, 2, 1]);
        assert_eq!(shapes(256), [256]);
        assert_eq!(shapes(1000), [256, 256, 256, 128, 64, 32, 8]);
        let all: HashSet<usize> = (1..20_000).flat_map(shapes).collect();
        assert_eq!(all.len(), 9);
    }
}
