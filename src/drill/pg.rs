//! The PostgreSQL a database drill works on (`--pg HOST:PORT`): psql,
//! and a fingerprint of a database's data to compare before and after.

use std::process::Command;

/// Where the sandbox's PostgreSQL stand-in lives for database drills.
#[derive(Debug, Clone, PartialEq)]
pub struct PgTarget {
    pub host: String,
    pub port: u16,
    /// The sandbox's own server behind this address, when it is one.
    pub sandbox_server: Option<&'static str>,
    /// The role psql connects as (the server's superuser).
    pub user: String,
}

impl PgTarget {
    /// `HOST:PORT`.
    pub fn parse(s: &str) -> Result<PgTarget, super::DrillError> {
        let (h, p) = s
            .rsplit_once(':')
            .ok_or_else(|| format!("{s:?}: write HOST:PORT"))?;
        let port = p.parse().map_err(|_| format!("{p:?} is not a port"))?;
        if h.is_empty()
            || !h
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
        {
            return Err(format!("{h:?} is not a host name").into());
        }
        Ok(PgTarget {
            host: h.into(),
            port,
            sandbox_server: None,
            user: "postgres".into(),
        })
    }

    /// The sandbox's own server `name`, started if it is idle.
    pub fn sandbox(
        sandbox: &std::path::Path,
        name: &'static str,
    ) -> Result<PgTarget, super::DrillError> {
        let ep = crate::provider::sandbox::pg_real::ensure(sandbox, name)?;
        Ok(PgTarget {
            host: "127.0.0.1".into(),
            port: ep.port,
            sandbox_server: Some(name),
            user: ep.user,
        })
    }

    /// How the operator's runbooks reach the drilled database (for the alarm).
    pub(super) fn reach(&self) -> String {
        match self.sandbox_server {
            Some(_) => "It lives in the host's postgres-platform container: the backup runbooks reach it as configured (via=docker).".into(),
            None => format!(
                "The database server is {h}:{p}: pass via=tcp pg_host={h} pg_port={p} to the backup runbooks.",
                h = self.host,
                p = self.port
            ),
        }
    }

    /// What the drill records to find this server again at verify time
    /// (the sandbox's own may come back on another port).
    pub(super) fn fact(&self) -> String {
        match self.sandbox_server {
            Some(name) => format!("sandbox:{name}"),
            None => format!("{}:{}", self.host, self.port),
        }
    }

    /// The server a drill recorded with [`PgTarget::fact`].
    pub(super) fn from_fact(
        sandbox: &std::path::Path,
        fact: &str,
    ) -> Result<PgTarget, super::DrillError> {
        match fact.strip_prefix("sandbox:") {
            Some(name) => {
                let s = crate::provider::sandbox::pg_real::SERVERS
                    .iter()
                    .find(|s| s.name == name)
                    .ok_or_else(|| format!("the sandbox has no database server {name}"))?;
                PgTarget::sandbox(sandbox, s.name)
            }
            None => PgTarget::parse(fact),
        }
    }
    pub(super) fn psql(&self, db: &str, sql: &str) -> Result<String, super::DrillError> {
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
                &self.user,
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
            )
            .into());
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    }
    /// Row counts and md5 of every table's rows: equal fingerprints, equal data.
    pub fn fingerprint(&self, db: &str) -> Result<String, super::DrillError> {
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
