//! Comparing databases in tests: the tables a SQL script writes, every row of a table,
//! a digest of every table, a digest of a whole `pg_dump`.

use super::real_odoo::OdooDb;
use sha2::{Digest, Sha256};
use sqlx::postgres::PgPool;
use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

/// Tables a script writes to: the targets of UPDATE, INSERT INTO, DELETE FROM and TRUNCATE.
pub fn written_tables(sql: &str) -> BTreeSet<String> {
    let text: String = sql
        .lines()
        .map(|l| l.split("--").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase();
    let words: Vec<&str> = text
        .split(|c: char| c.is_whitespace() || c == '(' || c == ';')
        .filter(|w| !w.is_empty())
        .collect();
    let mut out = BTreeSet::new();
    for (i, w) in words.iter().enumerate() {
        let target = match *w {
            // `ON CONFLICT … DO UPDATE SET` updates the INSERT's table.
            "update" if i == 0 || words[i - 1] != "do" => words.get(i + 1),
            "truncate" => match words.get(i + 1) {
                Some(&"table") => words.get(i + 2),
                other => other,
            },
            "into" if i > 0 && words[i - 1] == "insert" => words.get(i + 1),
            "from" if i > 0 && words[i - 1] == "delete" => words.get(i + 1),
            _ => None,
        };
        if let Some(t) = target {
            out.insert(t.trim_matches('"').to_string());
        }
    }
    out
}

/// Every row of `table`, as text, ordered by id.
pub async fn rows(pool: &PgPool, table: &str) -> Vec<String> {
    sqlx::query_scalar(&format!(
        "SELECT t::text FROM \"{table}\" t ORDER BY t.id, t::text"
    ))
    .fetch_all(pool)
    .await
    .unwrap_or_else(|e| panic!("reading {table}: {e}"))
}

/// md5 of every table's rows, by table.
pub async fn all_tables(pool: &PgPool) -> BTreeMap<String, String> {
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT tablename::text FROM pg_tables WHERE schemaname = 'public' ORDER BY 1",
    )
    .fetch_all(pool)
    .await
    .expect("tables");
    let mut out = BTreeMap::new();
    for t in tables {
        let md5: String = sqlx::query_scalar(&format!(
            "SELECT md5(coalesce(string_agg(t::text, E'\\n' ORDER BY t::text), '')) FROM \"{t}\" t"
        ))
        .fetch_one(pool)
        .await
        .expect("table digest");
        out.insert(t, md5);
    }
    out
}

/// Require the same rows in every table the scripts write, then in every table at all.
pub async fn assert_same(odoo: &OdooDb, ours: &OdooDb, tables: &BTreeSet<String>, what: &str) {
    for t in tables {
        let (a, b) = (rows(&odoo.pool, t).await, rows(&ours.pool, t).await);
        if a != b {
            let i = a
                .iter()
                .zip(&b)
                .position(|(x, y)| x != y)
                .unwrap_or(a.len().min(b.len()));
            panic!(
                "{what}: table {t} differs from odoo-bin neutralize ({} vs {} rows); first difference at row {i}:\n  odoo-bin: {:?}\n  odooops:  {:?}",
                a.len(),
                b.len(),
                a.get(i),
                b.get(i)
            );
        }
    }
    let (a, b) = (all_tables(&odoo.pool).await, all_tables(&ours.pool).await);
    let differ: Vec<&String> = a.keys().filter(|t| a.get(*t) != b.get(*t)).collect();
    assert!(
        differ.is_empty(),
        "{what}: tables no script writes differ: {differ:?}"
    );
}

/// sha256 of a plain `pg_dump` of a database, without the random `\restrict` key lines
/// recent pg_dump versions write (so equal data gives equal digests).
pub fn dump_sha(url: &str) -> String {
    let out = Command::new("pg_dump")
        .args(["--no-owner", "--dbname", url])
        .output()
        .expect("run pg_dump");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut h = Sha256::new();
    for line in out.stdout.split(|b| *b == b'\n') {
        if !(line.starts_with(b"\\restrict ") || line.starts_with(b"\\unrestrict ")) {
            h.update(line);
            h.update(b"\n");
        }
    }
    hex::encode(h.finalize())
}
