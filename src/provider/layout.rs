//! Backup layouts: where a database's backups are and how their names and
//! formats read. opsdeck's own backups are `DB_YYYYmmdd_HHMMSS.sql.gz` (or
//! `.sqlite3.gz`); the documents' own commands make others — PMO's
//! `pg_dump … > backup.sql` (plain SQL, no time in the name) and its daily
//! `s3://cohuron-backups/db/latest.sql.gz`, overwritten each day and kept by
//! the bucket's versions. A layout says which database such a file belongs
//! to; a file in a backup directory that no layout explains is still listed,
//! with the reason, never dropped.

pub use crate::domain::BackupFormat;
use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};

/// Backups of one database made outside opsdeck's own naming.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Rule {
    pub database: String,
    /// Host paths; the file name may hold `{stamp}` (YYYYmmdd_HHMMSS),
    /// else the file's modification time is when it was taken.
    pub paths: Vec<String>,
    /// An S3 key overwritten by each backup: its versions are the backups.
    pub s3_latest: Option<String>,
}

/// Every layout of the estate: the directories scanned on each host and
/// the rules that name databases.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layouts {
    /// Host directories to scan (absolute, no shell characters).
    pub dirs: Vec<String>,
    pub rules: Vec<Rule>,
}

/// The directories every host is scanned in, whatever the config says.
pub const DEFAULT_DIRS: [&str; 2] = ["/opt/backups/postgres", "/opt/backups/sqlite"];

impl Default for Layouts {
    fn default() -> Self {
        Layouts::new(Vec::new(), Vec::new())
    }
}

/// What a file's path says about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reading {
    /// A backup of `database`, taken at `at` when the name says so.
    Backup {
        database: String,
        at: Option<DateTime<Utc>>,
        format: BackupFormat,
    },
    /// Not recognised, and why (shown on the Backups screen).
    Unrecognised(String),
}

/// True for an absolute path a host script may hold unquoted-safe.
pub fn safe_path(p: &str) -> bool {
    p.starts_with('/')
        && !p.contains("..")
        && p.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '.' | '_' | '-' | '{' | '}'))
}

impl Layouts {
    /// `dirs` beyond the defaults (each database's `dir`) and the rules;
    /// the directories of the rules' paths are scanned too. Unsafe paths
    /// are left out (the config refuses them when it is read).
    pub fn new(dirs: Vec<String>, rules: Vec<Rule>) -> Layouts {
        let mut all: Vec<String> = DEFAULT_DIRS.iter().map(|d| (*d).to_string()).collect();
        all.extend(dirs);
        for r in &rules {
            for p in &r.paths {
                if let Some((d, _)) = p.rsplit_once('/') {
                    all.push(if d.is_empty() {
                        "/".into()
                    } else {
                        d.to_string()
                    });
                }
            }
        }
        all.retain(|d| safe_path(d) && !d.contains('{'));
        let mut seen = std::collections::BTreeSet::new();
        all.retain(|d| seen.insert(d.trim_end_matches('/').to_string()));
        Layouts { dirs: all, rules }
    }

    /// What the file at `path` (a host path or an S3 key) is.
    pub fn read(&self, path: &str) -> Reading {
        let base = path.rsplit('/').next().unwrap_or(path);
        for r in &self.rules {
            for p in &r.paths {
                let at = match matches_pattern(p, path) {
                    Matched::No => continue,
                    Matched::Untimed => None,
                    Matched::Timed(at) => Some(at),
                };
                return Reading::Backup {
                    database: r.database.clone(),
                    at,
                    format: BackupFormat::of(base),
                };
            }
            if r.s3_latest.as_deref() == Some(path) {
                return Reading::Backup {
                    database: r.database.clone(),
                    at: None,
                    format: BackupFormat::of(base),
                };
            }
        }
        let format = BackupFormat::of(base);
        match parse_backup_name(base) {
            Some((database, at)) if format != BackupFormat::Unknown => Reading::Backup {
                database,
                at: Some(at),
                format,
            },
            Some(_) => Reading::Unrecognised(
                "not a format opsdeck restores (.sql.gz, .sql or .sqlite3.gz)".into(),
            ),
            None => Reading::Unrecognised(
                "the name says no database and time (DB_YYYYmmdd_HHMMSS.sql.gz) \
                 and no [[database]] backup_paths names it"
                    .into(),
            ),
        }
    }
}

/// How a path matched a pattern.
enum Matched {
    No,
    /// The pattern has no `{stamp}`: the file's time says when.
    Untimed,
    Timed(DateTime<Utc>),
}

/// Does `path` match `pattern` (a path whose file name may hold
/// `{stamp}`)? With the time, when the pattern has one.
fn matches_pattern(pattern: &str, path: &str) -> Matched {
    match pattern.split_once("{stamp}") {
        None if pattern == path => Matched::Untimed,
        None => Matched::No,
        Some((head, tail)) => path
            .strip_prefix(head)
            .and_then(|r| r.strip_suffix(tail))
            .and_then(|stamp| NaiveDateTime::parse_from_str(stamp, "%Y%m%d_%H%M%S").ok())
            .map_or(Matched::No, |at| Matched::Timed(Utc.from_utc_datetime(&at))),
    }
}

/// Parse `filter_ical_production_20251011_020000.sql.gz` → (db, taken at).
pub fn parse_backup_name(file: &str) -> Option<(String, DateTime<Utc>)> {
    let base = file.rsplit('/').next()?;
    let stem = base.split('.').next()?;
    let mut parts = stem.rsplitn(3, '_');
    let time = parts.next()?;
    let date = parts.next()?;
    let db = parts.next()?;
    let at = NaiveDateTime::parse_from_str(&format!("{date}{time}"), "%Y%m%d%H%M%S").ok()?;
    Some((db.to_string(), Utc.from_utc_datetime(&at)))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn pmo() -> Layouts {
        Layouts::new(
            vec!["/opt/backups/pmo".into()],
            vec![Rule {
                database: "app".into(),
                paths: vec!["/app/backup.sql".into(), "/app/backup_{stamp}.sql".into()],
                s3_latest: Some("db/latest.sql.gz".into()),
            }],
        )
    }

    #[test]
    fn opsdeck_names_are_read_without_a_rule() {
        match Layouts::default()
            .read("/opt/backups/postgres/filter_ical_production_20251011_020000.sql.gz")
        {
            Reading::Backup {
                database,
                at,
                format,
            } => {
                assert_eq!(database, "filter_ical_production");
                assert_eq!(at.unwrap().to_rfc3339(), "2025-10-11T02:00:00+00:00");
                assert_eq!(format, BackupFormat::SqlGz);
            }
            r @ Reading::Unrecognised(_) => panic!("{r:?}"),
        }
    }

    #[test]
    fn the_documents_names_are_read_through_rules() {
        let l = pmo();
        assert_eq!(
            l.read("/app/backup.sql"),
            Reading::Backup {
                database: "app".into(),
                at: None,
                format: BackupFormat::Sql
            }
        );
        let Reading::Backup { at, .. } = l.read("/app/backup_20261201_020000.sql") else {
            panic!()
        };
        assert_eq!(at.unwrap().to_rfc3339(), "2026-12-01T02:00:00+00:00");
        assert!(matches!(
            l.read("db/latest.sql.gz"),
            Reading::Backup {
                format: BackupFormat::SqlGz,
                ..
            }
        ));
        assert!(l.dirs.contains(&"/app".to_string()));
        assert!(l.dirs.contains(&"/opt/backups/pmo".to_string()));
        assert!(l.dirs.contains(&"/opt/backups/postgres".to_string()));
    }

    #[test]
    fn what_no_layout_explains_says_why() {
        let l = pmo();
        let Reading::Unrecognised(why) = l.read("/opt/backups/postgres/README.gz") else {
            panic!()
        };
        assert!(why.contains("no database and time"), "{why}");
        let Reading::Unrecognised(why) = l.read("/opt/backups/postgres/app_20261201_020000.dump")
        else {
            panic!()
        };
        assert!(why.contains("not a format"), "{why}");
    }

    #[test]
    fn unsafe_directories_are_never_scanned() {
        let l = Layouts::new(
            vec![
                "/opt/x; rm -rf /".into(),
                "relative".into(),
                "/ok/dir".into(),
            ],
            vec![],
        );
        assert_eq!(
            l.dirs,
            vec!["/opt/backups/postgres", "/opt/backups/sqlite", "/ok/dir"]
        );
    }
}
