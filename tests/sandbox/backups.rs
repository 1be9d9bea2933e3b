//! Backups proven on a real PostgreSQL (initdb in a temp dir, a free
//! loopback port) and a real SQLite file: back up, lose the database,
//! restore through the runbooks over the local transport (TCP mode), and
//! compare every table's row count and a checksum of its contents.
//! Validation passes and fails for the right reasons; a restore that fails
//! after the drop puts the safety dump back.

// Tests may unwrap: a panic is a failure with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use common::pg::Pg;
use common::run_cli;
use opsdeck::provider::sandbox::estate::{ENSSOL_HOST, MT_HOST};
use std::path::{Path, PathBuf};
use std::time::Instant;

const DB: &str = "filter_ical_staging";

fn host_root(d: &Path, host: &str) -> PathBuf {
    d.join("data/opsdeck/sandbox/hosts").join(host)
}

/// ~110k rows in three tables linked by foreign keys.
fn seed(pg: &Pg) {
    pg.q("postgres", &format!("CREATE DATABASE {DB}"));
    pg.q(
        DB,
        "CREATE TABLE calendars (id serial PRIMARY KEY, owner text NOT NULL, created_at timestamptz NOT NULL);
         CREATE TABLE events (id bigserial PRIMARY KEY, calendar_id int NOT NULL REFERENCES calendars(id),
                              title text NOT NULL, starts_at timestamptz NOT NULL);
         CREATE TABLE attendees (id bigserial PRIMARY KEY, event_id bigint NOT NULL REFERENCES events(id),
                                 email text NOT NULL, status text);
         CREATE INDEX ON events (starts_at);
         INSERT INTO calendars (owner, created_at)
           SELECT 'owner-' || g, now() - (g || ' minutes')::interval FROM generate_series(1, 10000) g;
         INSERT INTO events (calendar_id, title, starts_at)
           SELECT 1 + (g % 10000), 'event ' || g || E' with \"quotes\", tabs\\tand ✓', now() - (g || ' seconds')::interval
           FROM generate_series(1, 80000) g;
         INSERT INTO attendees (event_id, email, status)
           SELECT 1 + (g % 80000), 'a' || g || '@example.com', CASE WHEN g % 7 = 0 THEN NULL ELSE 'yes' END
           FROM generate_series(1, 20000) g;",
    );
}

/// Per table: row count and md5 of every row's text, in a stable order.
fn fingerprint(pg: &Pg, db: &str) -> Vec<String> {
    ["calendars", "events", "attendees"]
        .iter()
        .map(|t| {
            pg.q(
                db,
                &format!(
                    "SELECT '{t} ' || count(*) || ' ' || coalesce(md5(string_agg(x::text, '|' ORDER BY x.id)), '') FROM {t} x"
                ),
            )
        })
        .collect()
}

fn history(d: &Path) -> Vec<serde_json::Value> {
    let (_, out, _) = run_cli(d, &["history", "--json", "--limit", "100"]);
    serde_json::from_str(&out).unwrap()
}

fn last_report(d: &Path, key: &str) -> String {
    history(d)[0]["finish"]["report"][key]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[test]
fn backup_lose_restore_on_real_postgresql_and_validation() {
    let pg = Pg::start();
    seed(&pg);
    let before = fingerprint(&pg, DB);
    assert!(before[1].starts_with("events 80000 "), "{before:?}");
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let port = format!("pg_port={}", pg.port);
    // This test's own server has the `postgres` role; the host's pg_user is
    // its platform server's (platform_admin).
    let tcp = [
        "via=tcp",
        "pg_host=127.0.0.1",
        port.as_str(),
        "pg_user=postgres",
    ];
    let run = |args: &[&str]| {
        let mut a: Vec<&str> = args.to_vec();
        a.extend(tcp);
        run_cli(d, &a)
    };
    assert_eq!(run_cli(d, &["ls", "tenants"]).0, 0);

    // Back up now.
    let (code, out, err) = run(&["run", "backup", &format!("database={DB}"), "--yes"]);
    assert_eq!(code, 0, "{out}{err}");
    let file = last_report(d, "file");
    assert!(
        file.starts_with("filter_ical_staging_") && file.ends_with(".sql.gz"),
        "{file}"
    );
    let dir = host_root(d, MT_HOST).join("opt/backups/postgres");
    assert!(dir.join(&file).exists());

    // It validates: restored into a scratch database, counted, dropped.
    let (code, out, err) = run(&[
        "run",
        "validate-backup",
        &format!("backup={file}"),
        "check_tables=events,attendees",
        "fresh_column=events.starts_at",
        "--yes",
    ]);
    assert_eq!(code, 0, "{out}{err}");
    let h = history(d);
    let rep = &h[0]["finish"]["report"];
    assert_eq!(rep["check"], "passed", "{rep}");
    assert_eq!(rep["tables"], "3");
    assert_eq!(rep["rows"], "110000");
    assert_eq!(rep["rows.public.events"], "80000");
    let dbs = pg.q(
        "postgres",
        "SELECT string_agg(datname, ',') FROM pg_database",
    );
    assert!(
        !dbs.contains("_verify_"),
        "the scratch database is dropped: {dbs}"
    );

    // The database is lost. A restore whose smoke check fails (a key table
    // this schema lacks) must not drop the only copy it just restored:
    // nothing was there before, so the restored database is kept, the
    // failed check is named, and the run ends as failed-with-data-kept.
    pg.q("postgres", &format!("DROP DATABASE {DB}"));
    let (code, out, err) = run(&[
        "run",
        "restore-database",
        &format!("backup={file}"),
        "check_tables=events,invoices",
        "--yes",
        "--confirm",
        DB,
    ]);
    assert_eq!(code, 6, "failed, data kept: {out}{err}");
    assert!(out.contains("==> FAILED: smoke checks (exit 1)"), "{out}");
    assert!(
        out.contains("key table invoices does not exist in the restored database"),
        "the failed check is named: {out}"
    );
    assert!(
        out.contains(
            "filter_ical_staging did not exist before the restore: the restored one is kept"
        ),
        "{out}"
    );
    assert!(
        out.contains("==> opsdeck result: failed-data-kept step=\"smoke checks\" exit=1"),
        "{out}"
    );
    assert!(
        err.contains("failed-data-kept (exit 4): a step failed; the data is kept"),
        "the summary says so: {err}"
    );
    assert_eq!(
        fingerprint(&pg, DB),
        before,
        "the restored database is still there, every row of it"
    );
    let h = history(d);
    assert_eq!(h[0]["finish"]["status"], "failed-data-kept", "{}", h[0]);
    assert_eq!(h[0]["finish"]["exit_code"], 4, "{}", h[0]);
    assert!(
        !host_root(d, MT_HOST)
            .join("var/lib/opsdeck/restores/.filter_ical_staging.safety")
            .exists(),
        "no pending safety dump is left behind"
    );
    pg.q("postgres", &format!("DROP DATABASE {DB}"));
    // Restore it (destructive: the name is typed).
    let (code, _, err) = run(&[
        "run",
        "restore-database",
        &format!("backup={file}"),
        "--yes",
    ]);
    assert_eq!(code, 3, "{err}");
    let t = Instant::now();
    let (code, out, err) = run(&[
        "run",
        "restore-database",
        &format!("backup={file}"),
        "check_tables=events",
        "--yes",
        "--confirm",
        DB,
    ]);
    let took = t.elapsed();
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("filter_ical_staging does not exist: nothing to keep"),
        "{out}"
    );
    assert!(
        out.contains("Container filter-ical-backend-staging  Stopped"),
        "{out}"
    );
    assert!(
        out.contains("all containers of filter-ical-staging are healthy"),
        "{out}"
    );
    assert_eq!(
        fingerprint(&pg, DB),
        before,
        "every table identical after the restore"
    );
    eprintln!(
        "restore of 110,000 rows: {:.2} s wall through `opsdeck run` (script's own figure: {} s)",
        took.as_secs_f64(),
        last_report(d, "restore_seconds")
    );

    // A backup that restores halfway fails after the drop: the safety dump comes back.
    pg.q(
        DB,
        "UPDATE calendars SET owner = 'changed after the backup' WHERE id = 1",
    );
    let current = fingerprint(&pg, DB);
    assert_ne!(current, before);
    let broken = format!("{DB}_20200101_000000.sql.gz");
    let dump = std::process::Command::new("bash")
        .args([
            "-c",
            &format!(
                "gunzip -c '{}' | sed 's/^COPY public.attendees/SELECT * FROM no_such_table;\\nCOPY public.attendees/' | gzip -c > '{}'",
                dir.join(&file).display(),
                dir.join(&broken).display()
            ),
        ])
        .status()
        .unwrap();
    assert!(dump.success());
    let (code, out, _) = run(&[
        "run",
        "restore-database",
        &format!("backup={broken}"),
        "--yes",
        "--confirm",
        DB,
    ]);
    assert_eq!(code, 1, "failed (psql exit 3 inside): {out}");
    assert!(out.contains("==> FAILED: restore the backup"), "{out}");
    assert!(
        out.contains("==> rolled back automatically: `restore-safety` succeeded"),
        "{out}"
    );
    assert!(out.contains("is as it was before the restore"), "{out}");
    assert_eq!(
        fingerprint(&pg, DB),
        current,
        "the data from before the failed restore is back"
    );
    assert!(
        !host_root(d, MT_HOST)
            .join("var/lib/opsdeck/restores/.filter_ical_staging.safety")
            .exists()
    );

    // Validation fails for a truncated gzip, an empty dump, a busy scratch database.
    let truncated = format!("{DB}_20200102_000000.sql.gz");
    let bytes = std::fs::read(dir.join(&file)).unwrap();
    std::fs::write(dir.join(&truncated), &bytes[..bytes.len() / 2]).unwrap();
    let (code, out, _) = run(&[
        "run",
        "validate-backup",
        &format!("backup={truncated}"),
        "--yes",
    ]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("not a valid gzip file: unexpected end of file"),
        "{out}"
    );
    assert_eq!(last_report(d, "check"), "corrupt gzip");

    let empty = format!("{DB}_20200103_000000.sql.gz");
    let st = std::process::Command::new("bash")
        .args([
            "-c",
            &format!(
                "printf -- '-- nothing\\n' | gzip -c > '{}'",
                dir.join(&empty).display()
            ),
        ])
        .status()
        .unwrap();
    assert!(st.success());
    let (code, out, _) = run(&[
        "run",
        "validate-backup",
        &format!("backup={empty}"),
        "--yes",
    ]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("empty dump: no table in it"), "{out}");

    pg.q("postgres", "CREATE DATABASE scratch_busy");
    pg.q(
        "scratch_busy",
        "CREATE TABLE keep_me (x int); INSERT INTO keep_me VALUES (1)",
    );
    let (code, out, _) = run(&[
        "run",
        "validate-backup",
        &format!("backup={file}"),
        "scratch=scratch_busy",
        "--yes",
    ]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("scratch_busy exists and holds 1 tables: refusing to touch it"),
        "{out}"
    );
    assert_eq!(pg.q("scratch_busy", "SELECT count(*) FROM keep_me"), "1");
    assert_eq!(last_report(d, "check"), "scratch not empty");
}

#[test]
fn sqlite_backup_and_restore_round_trip() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    assert_eq!(run_cli(d, &["ls", "backups"]).0, 0);
    let ens = host_root(d, ENSSOL_HOST);
    let db = ens.join("opt/enssol/db.sqlite3");
    std::fs::remove_file(&db).unwrap();
    let sql = "CREATE TABLE client (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
               CREATE TABLE invoice (id INTEGER PRIMARY KEY, client_id INTEGER REFERENCES client(id), total REAL);
               WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000)
                 INSERT INTO client (name) SELECT 'client ' || i FROM n;
               WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 10000)
                 INSERT INTO invoice (client_id, total) SELECT 1 + i % 2000, i * 1.5 FROM n;";
    let st = std::process::Command::new("sqlite3")
        .arg(&db)
        .arg(sql)
        .status()
        .unwrap();
    assert!(st.success());
    let dump = |db: &Path| {
        let out = std::process::Command::new("sqlite3")
            .arg(db)
            .arg(".dump")
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap()
    };
    let before = dump(&db);
    let args = [
        "via=sqlite",
        "sqlite_path=/opt/enssol/db.sqlite3",
        "--yes",
        "--confirm",
        "enssol",
    ];
    let mut a = vec![
        "run",
        "backup",
        "database=enssol",
        "dir=/opt/backups/sqlite",
    ];
    a.extend(args);
    let (code, out, err) = run_cli(d, &a);
    assert_eq!(code, 0, "{out}{err}");
    let file = last_report(d, "file");
    assert!(
        file.starts_with("enssol_") && file.ends_with(".sqlite3.gz"),
        "{file}"
    );
    // Damage the live database, then restore.
    let st = std::process::Command::new("sqlite3")
        .arg(&db)
        .arg("DELETE FROM invoice WHERE id > 5000; UPDATE client SET name = 'x'")
        .status()
        .unwrap();
    assert!(st.success());
    assert_ne!(dump(&db), before);
    let mut a = vec!["run", "restore-database"];
    let target = format!("backup={file}");
    a.push(&target);
    a.extend(args);
    let (code, out, err) = run_cli(d, &a);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(
        dump(&db),
        before,
        "the SQLite file is the backed-up one again"
    );
    // And its validation passes.
    let mut a = vec!["run", "validate-backup"];
    a.push(&target);
    a.extend(args);
    let (code, out, err) = run_cli(d, &a);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(last_report(d, "tables"), "2");
}

const ODD: &str = "gabs_massage_staging";

/// A database unlike our fixtures: several schemas (one needing quotes),
/// an enum type, jsonb, bytea, arrays and ranges, identity columns, a quoted
/// table name, sequences advanced past the data, a view, a materialized
/// view, comments.
fn seed_odd(pg: &Pg) {
    pg.q("postgres", &format!("CREATE DATABASE {ODD}"));
    pg.q(
        ODD,
        r#"CREATE SCHEMA billing;
         CREATE SCHEMA "Audit Log";
         CREATE TYPE billing.status AS ENUM ('draft', 'sent', 'paid', 'void');
         CREATE TABLE billing.invoices (
           id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
           status billing.status NOT NULL,
           meta jsonb,
           pdf bytea,
           amount numeric(12,2) NOT NULL);
         CREATE TABLE public.bookings (
           id serial PRIMARY KEY,
           invoice_id int REFERENCES billing.invoices(id),
           slot tstzrange,
           tags text[]);
         CREATE TABLE "Audit Log"."Events ""quoted""" (
           id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
           at timestamptz NOT NULL DEFAULT '2026-01-01 00:00:00+00',
           payload jsonb NOT NULL,
           "Note" text);
         CREATE SEQUENCE billing.invoice_number START 1000;
         INSERT INTO billing.invoices (status, meta, pdf, amount)
           SELECT (ARRAY['draft','sent','paid','void'])[1 + g % 4]::billing.status,
                  jsonb_build_object('n', g, 'lines', jsonb_build_array(g, 'x' || g), 'ok', g % 2 = 0),
                  decode(md5(g::text), 'hex') || '\x00ff'::bytea,
                  (g * 1.37)::numeric(12,2)
           FROM generate_series(1, 20000) g;
         INSERT INTO public.bookings (invoice_id, slot, tags)
           SELECT 1 + g % 20000,
                  tstzrange('2026-01-01'::timestamptz + (g || ' hours')::interval, '2026-01-01'::timestamptz + ((g + 2) || ' hours')::interval),
                  ARRAY['tag ' || (g % 5), E'quote''s "and" \\ back']
           FROM generate_series(1, 5000) g;
         INSERT INTO "Audit Log"."Events ""quoted""" (payload, "Note")
           SELECT jsonb_build_object('event', 'e' || g, 'nested', jsonb_build_object('deep', ARRAY[g, g + 1])),
                  CASE WHEN g % 3 = 0 THEN NULL ELSE E'line one\nline two ✓' END
           FROM generate_series(1, 3000) g;
         SELECT setval('billing.invoice_number', 5000);
         SELECT setval(pg_get_serial_sequence('public.bookings', 'id'), 900000);
         SELECT setval(pg_get_serial_sequence('billing.invoices', 'id'), 777777);
         CREATE VIEW billing.unpaid AS SELECT id, amount FROM billing.invoices WHERE status IN ('draft', 'sent');
         CREATE MATERIALIZED VIEW billing.totals AS
           SELECT status, count(*) AS n, sum(amount) AS total FROM billing.invoices GROUP BY status;
         COMMENT ON SCHEMA billing IS 'money';
         COMMENT ON TABLE billing.invoices IS 'one per booking';
         COMMENT ON COLUMN billing.invoices.meta IS 'free-form, from the old system';"#,
    );
}

/// Every table's rows (count and md5 of the rows in a stable order), every
/// sequence's value, the materialized view's rows, and the schema-only dump.
fn odd_fingerprint(pg: &Pg) -> Vec<String> {
    let mut out = Vec::new();
    let tables = pg.q(
        ODD,
        "SELECT quote_ident(table_schema) || '.' || quote_ident(table_name) FROM information_schema.tables
         WHERE table_schema NOT IN ('pg_catalog', 'information_schema') AND table_type = 'BASE TABLE' ORDER BY 1",
    );
    for t in tables.lines() {
        out.push(pg.q(
            ODD,
            &format!(
                "SELECT '{}' || ' ' || count(*) || ' ' || coalesce(md5(string_agg(x::text, '|' ORDER BY x::text)), '') FROM {t} x",
                t.replace('\'', "''")
            ),
        ));
    }
    out.push(pg.q(
        ODD,
        "SELECT string_agg(schemaname || '.' || sequencename || '=' || coalesce(last_value::text, 'unset'), ',' ORDER BY schemaname, sequencename) FROM pg_sequences",
    ));
    out.push(pg.q(
        ODD,
        "SELECT string_agg(status || ':' || n || ':' || total, ',' ORDER BY status) FROM billing.totals",
    ));
    let dump = std::process::Command::new(pg.bin().join("pg_dump"))
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &pg.port.to_string(),
            "-U",
            "postgres",
        ])
        .args(["--schema-only", "--no-owner", "--no-privileges", "-d", ODD])
        .output()
        .unwrap();
    assert!(
        dump.status.success(),
        "{}",
        String::from_utf8_lossy(&dump.stderr)
    );
    // Newer pg_dump writes a random `\restrict` key per dump.
    out.extend(
        String::from_utf8_lossy(&dump.stdout)
            .lines()
            .filter(|l| !l.starts_with("\\restrict") && !l.starts_with("\\unrestrict"))
            .map(str::to_string),
    );
    out
}

#[test]
fn restore_and_validation_hold_for_a_database_unlike_our_fixtures() {
    let pg = Pg::start();
    seed_odd(&pg);
    let before = odd_fingerprint(&pg);
    assert!(
        before[0].starts_with("\"Audit Log\".\"Events \"\"quoted\"\"\" 3000 "),
        "{before:?}"
    );
    assert!(
        before
            .iter()
            .any(|l| l.contains("billing.invoice_number=5000")),
        "{before:?}"
    );
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let port = format!("pg_port={}", pg.port);
    // This test's own server has the `postgres` role; the host's pg_user is
    // its platform server's (platform_admin).
    let tcp = [
        "via=tcp",
        "pg_host=127.0.0.1",
        port.as_str(),
        "pg_user=postgres",
    ];
    let run = |args: &[&str]| {
        let mut a: Vec<&str> = args.to_vec();
        a.extend(tcp);
        run_cli(d, &a)
    };
    assert_eq!(run_cli(d, &["ls", "tenants"]).0, 0);

    let (code, out, err) = run(&["run", "backup", &format!("database={ODD}"), "--yes"]);
    assert_eq!(code, 0, "{out}{err}");
    let file = last_report(d, "file");

    // Validation counts every table of every schema, quoted names included.
    let (code, out, err) = run(&[
        "run",
        "validate-backup",
        &format!("backup={file}"),
        "check_tables=billing.invoices,public.bookings",
        "--yes",
    ]);
    assert_eq!(code, 0, "{out}{err}");
    let rep = &history(d)[0]["finish"]["report"];
    assert_eq!(rep["check"], "passed", "{rep}");
    assert_eq!(rep["tables"], "3", "{rep}");
    assert_eq!(rep["rows"], "28000", "{rep}");

    let restore = || {
        let (code, out, err) = run(&[
            "run",
            "restore-database",
            &format!("backup={file}"),
            "check_tables=billing.invoices",
            "stop_containers=false",
            "--yes",
            "--confirm",
            ODD,
        ]);
        assert_eq!(code, 0, "{out}{err}");
        assert_eq!(
            odd_fingerprint(&pg),
            before,
            "rows, sequences and schema as backed up"
        );
    };

    // Restore over the live database after it changed: back to the backup.
    pg.q(
        ODD,
        "UPDATE billing.invoices SET status = 'void' WHERE id <= 10; DROP VIEW billing.unpaid",
    );
    assert_ne!(odd_fingerprint(&pg), before);
    restore();

    // And when it was lost.
    pg.q("postgres", &format!("DROP DATABASE {ODD}"));
    restore();
}

#[test]
fn backup_all_backs_up_every_database_of_a_server_each_with_its_own_file() {
    let pg = Pg::start();
    for (db, rows) in [("alpha_app", 300), ("beta_app", 20), ("gamma_app", 5)] {
        pg.q("postgres", &format!("CREATE DATABASE {db}"));
        pg.q(
            db,
            &format!("CREATE TABLE items (id int PRIMARY KEY, name text); INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, {rows}) g"),
        );
    }
    // A name a shell would split: refused by name, the others still done.
    pg.q("postgres", "CREATE DATABASE \"odd name\"");
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let port = format!("pg_port={}", pg.port);
    let instance = format!("instance={MT_HOST}");
    let run = |extra: &[&str]| {
        let mut a = vec![
            "run",
            "backup-all",
            instance.as_str(),
            "via=tcp",
            "pg_host=127.0.0.1",
            port.as_str(),
            // This test's own server has the `postgres` role (the host's
            // pg_user is its platform server's, platform_admin).
            "pg_user=postgres",
            "--yes",
            // A production host: the change is confirmed by its name.
            "--confirm",
            "multi-tenant-platform",
        ];
        a.extend(extra);
        run_cli(d, &a)
    };
    assert_eq!(run_cli(d, &["ls", "tenants"]).0, 0);
    let dir = host_root(d, MT_HOST).join("opt/backups/postgres");

    let (code, out, err) = run(&[]);
    assert_eq!(code, 1, "the odd name fails the run: {out}{err}");
    assert!(
        out.contains("not backed up here (names that need quoting; use backup for each): odd name"),
        "{out}"
    );
    assert!(
        out.contains("3 databases: alpha_app beta_app gamma_app"),
        "{out}"
    );
    let rep = history(d)[0]["finish"]["report"].clone();
    assert_eq!(rep["databases"], "3", "{rep}");
    assert_eq!(rep["failed"], "0", "{rep}");
    for db in ["alpha_app", "beta_app", "gamma_app"] {
        let file = rep[format!("file.{db}")]
            .as_str()
            .unwrap_or_default()
            .to_string();
        assert!(
            file.starts_with(&format!("{db}_")) && file.ends_with(".sql.gz"),
            "{rep}"
        );
        let path = dir.join(&file);
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(rep[format!("bytes.{db}")], bytes.len().to_string(), "{rep}");
        let sum = std::process::Command::new("sha256sum")
            .arg(&path)
            .output()
            .unwrap();
        let sum = String::from_utf8_lossy(&sum.stdout);
        assert_eq!(
            rep[format!("sha256.{db}")].as_str().unwrap_or_default(),
            sum.split_whitespace().next().unwrap_or_default(),
            "{rep}"
        );
        // Each file is that database: restored into a new one, the rows are there.
        let copy = format!("{db}_copy");
        pg.q("postgres", &format!("CREATE DATABASE {copy}"));
        let st = std::process::Command::new("bash")
            .args([
                "-c",
                &format!(
                    "gunzip -c '{}' | '{}' -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p {} -U postgres -d {copy} >/dev/null",
                    path.display(),
                    pg.bin().join("psql").display(),
                    pg.port
                ),
            ])
            .status()
            .unwrap();
        assert!(st.success());
        assert_eq!(
            pg.q(&copy, "SELECT count(*) FROM items"),
            pg.q(db, "SELECT count(*) FROM items")
        );
        pg.q("postgres", &format!("DROP DATABASE {copy}"));
    }
    assert!(
        !std::fs::read_dir(&dir).unwrap().any(|e| e
            .unwrap()
            .file_name()
            .to_string_lossy()
            .ends_with(".partial")),
        "no partial file left"
    );
    // The Backups list (screen and `ls backups`) shows each one under its
    // own database, with its size.
    let (code, out, _) = run_cli(d, &["ls", "backups", "--json"]);
    assert_eq!(code, 0);
    let listed: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap();
    for db in ["alpha_app", "beta_app", "gamma_app"] {
        let file = rep[format!("file.{db}")].as_str().unwrap_or_default();
        let b = listed
            .iter()
            .find(|b| b["path"].as_str().is_some_and(|p| p.ends_with(file)))
            .unwrap_or_else(|| panic!("{file} not listed: {out}"));
        assert_eq!(b["database"], db, "{b}");
        assert_eq!(b["origin"], MT_HOST, "{b}");
        assert_eq!(
            b["size"].to_string(),
            rep[format!("bytes.{db}")].as_str().unwrap_or_default(),
            "{b}"
        );
    }

    // Left out by name, and without the odd one: a clean run.
    pg.q("postgres", "DROP DATABASE \"odd name\"");
    let (code, out, err) = run(&["exclude=beta_app,gamma_app"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("left out: beta_app"), "{out}");
    let rep = history(d)[0]["finish"]["report"].clone();
    assert_eq!(rep["databases"], "1", "{rep}");
    assert!(rep.get("file.beta_app").is_none(), "{rep}");
    let alpha_files = std::fs::read_dir(&dir)
        .unwrap()
        .filter(|e| {
            let n = e.as_ref().unwrap().file_name();
            let n = n.to_string_lossy();
            n.starts_with("alpha_app_") && n.ends_with(".sql.gz")
        })
        .count();
    assert!(alpha_files >= 1);
    assert_eq!(rep["kept.alpha_app"], alpha_files.to_string(), "{rep}");
}

/// The Enssol host as its document describes it: a real SQLite database,
/// daily backups inside its 24 h RPO; backed up and validated as shipped,
/// with nothing but the database named (its `[[database]]` says the rest).
#[test]
fn the_enssol_host_backs_up_and_validates_as_shipped() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let (code, out, err) = run_cli(d, &["ls", "backups", "--json"]);
    assert_eq!(code, 0, "{out}{err}");
    let db = host_root(d, ENSSOL_HOST).join("opt/enssol/db.sqlite3");
    let sql = |q: &str| {
        let o = std::process::Command::new("sqlite3")
            .arg(&db)
            .arg(q)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8(o.stdout).unwrap().trim().to_string()
    };
    assert_eq!(sql("PRAGMA integrity_check"), "ok");
    assert_eq!(sql("SELECT count(*) FROM obligations_obligation"), "600");
    assert!(
        sql("SELECT count(*) FROM django_migrations")
            .parse::<u32>()
            .unwrap()
            > 0
    );
    // Daily backups: the newest inside the document's 24 h.
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let mut ens: Vec<&serde_json::Value> = v
        .as_array()
        .unwrap()
        .iter()
        .filter(|b| b["database"] == "enssol")
        .collect();
    assert_eq!(ens.len(), 2, "the host keeps two days of daily backups");
    ens.sort_by_key(|b| b["taken_at"].as_str().unwrap().to_string());
    let newest = ens.last().unwrap();
    let taken: chrono::DateTime<chrono::Utc> =
        newest["taken_at"].as_str().unwrap().parse().unwrap();
    assert!(
        common::fixed_now() - taken < chrono::Duration::hours(24),
        "{taken}"
    );
    let name = newest["path"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_string();
    // The newest shipped backup validates.
    let target = format!("backup={name}");
    let (code, out, err) = run_cli(
        d,
        &[
            "run",
            "validate-backup",
            &target,
            "--yes",
            "--confirm",
            "enssol",
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    // Django's migrations, the sites, the obligations and SQLite's own
    // sqlite_sequence (AUTOINCREMENT keeps it).
    assert_eq!(last_report(d, "tables"), "4");
    // And a backup now works as configured.
    let (code, out, err) = run_cli(
        d,
        &[
            "run",
            "backup",
            "database=enssol",
            "--yes",
            "--confirm",
            "enssol",
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(last_report(d, "file").starts_with("enssol_"), "{out}");
}
