//! The PostgreSQL a database drill works on (`--pg HOST:PORT`): psql,
//! and a fingerprint of a database's data to compare before and after.

use std::process::Command;

/// Where the sandbox's PostgreSQL stand-in lives for database drills.
#[derive(Debug, Clone, PartialEq)]
pub struct PgTarget {
    pub host: String,
    pub port: u16,
}

impl PgTarget {
    /// `HOST:PORT`.
    pub fn parse(s: &str) -> Result<PgTarget, String> {
        let (h, p) = s
            .rsplit_once(':')
            .ok_or_else(|| format!("{s:?}: write HOST:PORT"))?;
        let port = p.parse().map_err(|_| format!("{p:?} is not a port"))?;
        if h.is_empty()
            || !h
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
        {
            return Err(format!("{h:?} is not a host name"));
        }
        Ok(PgTarget {
            host: h.into(),
            port,
        })
    }
    pub(super) fn psql(&self, db: &str, sql: &str) -> Result<String, String> {
        let out = Command::new("psql")
            .args([
                "-X",
                "-q",
                "-A",
                "-t",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                &self.host,
            ])
            .args([
                "-p",
                &self.port.to_string(),
                "-U",
                "postgres",
                "-d",
                db,
                "-c",
                sql,
            ])
            .output()
            .map_err(|e| format!("psql: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "psql on {}:{}: {}",
                self.host,
                self.port,
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    }
    /// Row counts and md5 of every table's rows: equal fingerprints, equal data.
    pub fn fingerprint(&self, db: &str) -> Result<String, String> {
        let tables = self.psql(
            db,
            "SELECT string_agg(quote_ident(table_name), ',' ORDER BY table_name) FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'",
        )?;
        let mut parts = Vec::new();
        for t in tables.split(',').filter(|t| !t.is_empty()) {
            parts.push(self.psql(
                db,
                &format!("SELECT '{t}:' || count(*) || ':' || coalesce(md5(string_agg(x::text, '|' ORDER BY x::text)), '') FROM {t} x"),
            )?);
        }
        Ok(parts.join(" "))
    }
}
