//! SQLite evidence, opened so that nothing is ever written next to it.

use std::path::Path;

use rusqlite::hooks::{AuthAction, AuthContext, Authorization};
use rusqlite::limits::Limit;
use rusqlite::{Connection, OpenFlags};

/// Virtual-machine steps one connection may run in total before its query
/// is interrupted (a module error). An ordinary scan of a large backup
/// uses well under a billion; a hostile database (a view that recurses
/// forever, a huge unindexed join) is stopped after about a minute.
pub const STEP_BUDGET: u64 = 20_000_000_000;

/// Largest string or blob a query may produce (SQLite's own default is
/// 1 GB; a generated column of `zeroblob(...)` would otherwise fill memory).
pub const MAX_VALUE_BYTES: i32 = 256 * 1024 * 1024;

/// Steps between two calls of the progress handler.
const STEPS_PER_CALL: i32 = 100_000;

/// Puts the guards on a connection to evidence: a step budget, a value
/// size cap, and no reading through views or triggers (a view where a
/// module expects a table, e.g. `message` as an endless recursive query,
/// is refused when the statement is prepared: "not authorized").
pub fn guard(conn: &mut Connection) -> rusqlite::Result<()> {
    guard_with_budget(conn, STEP_BUDGET)
}

fn guard_with_budget(conn: &mut Connection, budget: u64) -> rusqlite::Result<()> {
    let calls = budget / STEPS_PER_CALL as u64;
    let mut seen = 0u64;
    conn.progress_handler(
        STEPS_PER_CALL,
        Some(move || {
            seen += 1;
            seen > calls
        }),
    )?;
    conn.set_limit(Limit::SQLITE_LIMIT_LENGTH, MAX_VALUE_BYTES)?;
    // The database's own views and triggers (a module's CTE also shows as
    // an accessor and stays allowed).
    let views: Vec<String> = {
        let mut stmt =
            conn.prepare("SELECT lower(name) FROM sqlite_master WHERE type IN ('view','trigger')")?;
        stmt.query_map([], |r| r.get::<_, String>(0))?
            .collect::<rusqlite::Result<_>>()?
    };
    if !views.is_empty() {
        conn.authorizer(Some(move |ctx: AuthContext<'_>| {
            let through_view = ctx
                .accessor
                .is_some_and(|a| views.iter().any(|v| v.eq_ignore_ascii_case(a)));
            match ctx.action {
                AuthAction::Read { .. } | AuthAction::Select | AuthAction::Function { .. }
                    if through_view =>
                {
                    Authorization::Deny
                }
                _ => Authorization::Allow,
            }
        }))?;
    }
    Ok(())
}

fn refuse_non_regular(path: &Path) -> rusqlite::Result<()> {
    let why = match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_file() => return Ok(()),
        Ok(m) if m.file_type().is_symlink() => {
            "is a symbolic link; spydar never follows links inside evidence"
        }
        Ok(_) => "is not a regular file (a FIFO, device or folder)",
        Err(_) => return Ok(()),
    };
    Err(rusqlite::Error::SqliteFailure(
        rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CANTOPEN),
        Some(why.to_string()),
    ))
}

/// Opens a database file read-only and immutable: SQLite then neither takes
/// locks nor creates `-wal`/`-shm` files beside the evidence. (A `-wal` that is
/// already there is ignored, as it would be by any immutable reader.)
pub fn open_immutable(path: &Path) -> rusqlite::Result<Connection> {
    refuse_non_regular(path)?;
    let mut uri = String::from("file:");
    for byte in path.to_string_lossy().bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'/' | b'-' | b'_' | b'.' | b'~' => {
                uri.push(byte as char)
            }
            other => uri.push_str(&format!("%{other:02X}")),
        }
    }
    uri.push_str("?mode=ro&immutable=1");
    let mut conn = Connection::open_with_flags(
        uri,
        OpenFlags::SQLITE_OPEN_READ_ONLY
            | OpenFlags::SQLITE_OPEN_URI
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    guard(&mut conn)?;
    // Fail now, not at the first query, when the file is not a database.
    conn.query_row("SELECT count(*) FROM sqlite_master", [], |_| Ok(()))?;
    Ok(conn)
}

/// Opens a database held in memory (decrypted or read from an archive), so
/// no plaintext touches the disk.
pub fn open_bytes(bytes: &[u8]) -> rusqlite::Result<Connection> {
    // SQLite sizes in-memory databases with a C int; rusqlite would panic.
    if bytes.len() > i32::MAX as usize {
        return Err(rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_TOOBIG),
            Some(format!(
                "database of {} bytes is too large to open from memory",
                bytes.len()
            )),
        ));
    }
    let mut conn = Connection::open_in_memory()?;
    conn.deserialize_read_exact(rusqlite::MAIN_DB, bytes, bytes.len(), true)?;
    guard(&mut conn)?;
    conn.query_row("SELECT count(*) FROM sqlite_master", [], |_| Ok(()))?;
    Ok(conn)
}

/// A live database (as a filesystem dump holds it) often has recent rows
/// only in its `-wal` file, which an immutable open ignores. When
/// `path-wal` is there (and the pair fits the member cap), both are copied
/// to a private temporary folder ([`super::private_tmp`]), opened there so
/// SQLite applies the log, and the result is served from memory; the
/// evidence itself is never opened writable. `None` when there is no log
/// to apply.
pub(crate) fn open_with_wal(path: &Path) -> Option<std::result::Result<Connection, String>> {
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    let wal = std::path::PathBuf::from(wal);
    let wal_meta = std::fs::symlink_metadata(&wal).ok()?;
    if !wal_meta.file_type().is_file() || wal_meta.len() == 0 {
        return None;
    }
    let db_len = std::fs::metadata(path).ok()?.len();
    if db_len.saturating_add(wal_meta.len()) > super::MAX_MEMBER_BYTES {
        return None;
    }
    Some((|| {
        // Mode 0700, removed on drop and on Ctrl-C.
        let tmp = super::private_tmp::PrivateTempDir::new().map_err(|e| e.to_string())?;
        let copy = tmp.path().join("db");
        std::fs::copy(path, &copy).map_err(|e| e.to_string())?;
        std::fs::copy(&wal, tmp.path().join("db-wal")).map_err(|e| e.to_string())?;
        let bytes = {
            let mut conn = Connection::open(&copy).map_err(|e| e.to_string())?;
            // Folds the log into the copy and leaves a rollback-journal
            // header, which an in-memory image needs.
            conn.query_row("PRAGMA journal_mode=DELETE", [], |_| Ok(()))
                .map_err(|e| e.to_string())?;
            conn.serialize("main").map_err(|e| e.to_string())?.to_vec()
        };
        open_bytes(&bytes).map_err(|e| e.to_string())
    })())
}

/// Whether a table exists (schemas differ between OS versions). A view of
/// that name is not a table: modules never read through views.
pub fn has_table(conn: &Connection, table: &str) -> bool {
    conn.query_row(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1",
        [table],
        |_| Ok(()),
    )
    .is_ok()
}

/// The column names of a table, for schema-tolerant queries.
pub fn columns(conn: &Connection, table: &str) -> Vec<String> {
    let Ok(mut stmt) = conn.prepare(&format!(
        "PRAGMA table_info(\"{}\")",
        table.replace('"', "\"\"")
    )) else {
        return Vec::new();
    };
    stmt.query_map([], |row| row.get::<_, String>(1))
        .map(|rows| rows.filter_map(Result::ok).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn immutable_open_leaves_no_side_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("odd name #1.db");
        {
            let c = Connection::open(&path).unwrap();
            c.execute_batch(
                "PRAGMA journal_mode=WAL; CREATE TABLE t(x); INSERT INTO t VALUES (1);",
            )
            .unwrap();
        }
        // The writer above checkpointed on close; only the db file remains.
        let before: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        let conn = open_immutable(&path).unwrap();
        let n: i64 = conn
            .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 1);
        assert!(conn.execute("INSERT INTO t VALUES (2)", []).is_err());
        drop(conn);
        let after: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(before, after);
        assert!(has_table(&open_immutable(&path).unwrap(), "t"));
        assert_eq!(columns(&open_immutable(&path).unwrap(), "t"), vec!["x"]);
    }

    #[test]
    fn not_a_database_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("junk.db");
        std::fs::write(&path, b"this is not sqlite at all, just text that goes on").unwrap();
        assert!(open_immutable(&path).is_err());
        assert!(open_bytes(b"garbage garbage garbage").is_err());
    }

    fn hostile_db(dir: &Path) -> std::path::PathBuf {
        let path = dir.join("sms.db");
        Connection::open(&path)
            .unwrap()
            .execute_batch(
                "CREATE TABLE real(x); INSERT INTO real VALUES (1);
                 CREATE VIEW message AS WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c) SELECT n AS text FROM c;",
            )
            .unwrap();
        path
    }

    #[test]
    fn views_are_not_read_and_not_tables() {
        let dir = tempfile::tempdir().unwrap();
        let path = hostile_db(dir.path());
        let conn = open_immutable(&path).unwrap();
        assert!(!has_table(&conn, "message"));
        assert!(has_table(&conn, "real"));
        let e = conn
            .query_row("SELECT count(*) FROM message", [], |r| r.get::<_, i64>(0))
            .unwrap_err()
            .to_string();
        assert!(e.contains("not authorized"), "{e}");
        let n: i64 = conn
            .query_row("SELECT count(*) FROM real", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 1);
        // Also from memory.
        let conn = open_bytes(&std::fs::read(&path).unwrap()).unwrap();
        assert!(
            conn.query_row("SELECT * FROM message", [], |_| Ok(()))
                .is_err()
        );
    }

    #[test]
    fn endless_queries_hit_the_step_budget() {
        let conn = Connection::open_in_memory().unwrap();
        let mut conn = conn;
        guard_with_budget(&mut conn, 5_000_000).unwrap();
        let e = conn
            .query_row(
                "WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c) SELECT max(n) FROM c",
                [],
                |r| r.get::<_, i64>(0),
            )
            .unwrap_err()
            .to_string();
        assert!(e.contains("interrupt"), "{e}");
    }

    #[test]
    fn links_and_fifos_are_not_opened() {
        let dir = tempfile::tempdir().unwrap();
        let path = hostile_db(dir.path());
        let link = dir.path().join("link.db");
        std::os::unix::fs::symlink(&path, &link).unwrap();
        let e = open_immutable(&link).unwrap_err().to_string();
        assert!(e.contains("symbolic link"), "{e}");
        let fifo = dir.path().join("fifo.db");
        assert!(
            std::process::Command::new("mkfifo")
                .arg(&fifo)
                .status()
                .unwrap()
                .success()
        );
        let e = open_immutable(&fifo).unwrap_err().to_string();
        assert!(e.contains("not a regular file"), "{e}");
    }

    #[test]
    fn database_from_memory() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.db");
        Connection::open(&path)
            .unwrap()
            .execute_batch("CREATE TABLE t(x); INSERT INTO t VALUES (7);")
            .unwrap();
        let bytes = std::fs::read(&path).unwrap();
        let conn = open_bytes(&bytes).unwrap();
        let n: i64 = conn.query_row("SELECT x FROM t", [], |r| r.get(0)).unwrap();
        assert_eq!(n, 7);
    }
}
