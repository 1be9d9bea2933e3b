//! Runbooks: rendered shell scripts with every interpolated value
//! shell-quoted by construction (a value can only enter a script through
//! [`Quoted`]). This issue ships two built-in runbooks, *deploy tenant* and
//! *restart container*; the TOML library comes later on the same rendering.

use std::fmt;

/// A value that has been validated and shell-quoted; the only way a
/// parameter enters a rendered script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quoted(String);

impl fmt::Display for Quoted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParamError {
    #[error("parameter `{name}`: {why}")]
    Invalid { name: String, why: String },
}

/// Names of apps, environments, containers: `[A-Za-z0-9][A-Za-z0-9_.-]*`, ≤ 128 chars.
pub fn name_param(name: &str, value: &str) -> Result<Quoted, ParamError> {
    let bad = |why: &str| ParamError::Invalid {
        name: name.into(),
        why: why.into(),
    };
    if value.is_empty() {
        return Err(bad("must not be empty"));
    }
    if value.len() > 128 {
        return Err(bad("longer than 128 characters"));
    }
    if !value.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return Err(bad("must start with a letter or digit"));
    }
    if let Some(c) = value
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
    {
        return Err(bad(&format!(
            "{c:?} is not allowed (letters, digits, '-', '_' and '.' only)"
        )));
    }
    quote(name, value)
}

/// Quote any string for bash (refuses NUL, which no shell argument can hold).
pub fn quote(name: &str, value: &str) -> Result<Quoted, ParamError> {
    shlex::try_quote(value)
        .map(|q| Quoted(q.into_owned()))
        .map_err(|e| ParamError::Invalid {
            name: name.into(),
            why: e.to_string(),
        })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Danger {
    Read,
    Change,
    Destructive,
}

impl Danger {
    pub fn label(self) -> &'static str {
        match self {
            Danger::Read => "read",
            Danger::Change => "change",
            Danger::Destructive => "destructive",
        }
    }
}

/// A runbook ready to run: what it is, where, and the exact script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedRun {
    pub runbook: &'static str,
    pub title: String,
    pub host: String,
    pub danger: Danger,
    pub production: bool,
    /// What a user must type to confirm, when confirmation is required.
    pub confirm_with: Option<String>,
    pub script: String,
}

/// Shared preamble: strict mode and a timestamped step printer.
const PRELUDE: &str = r#"set -euo pipefail
root="${OPSDECK_ROOT:-}"
step() { printf '==> %s\n' "$*"; }
"#;

/// The multi-tenant `deploy.sh`, made safe: git pull, compose up --build,
/// migrations, wait for health, record previous and new SHA on the host.
pub fn deploy_tenant(
    host: &str,
    app: &str,
    env: &str,
    migrations: bool,
) -> Result<RenderedRun, ParamError> {
    let a = name_param("app", app)?;
    let e = name_param("env", env)?;
    let production = env == "production";
    let migrate = if migrations {
        r#"step "[3/4] migrations: alembic upgrade head"
docker compose -p "$project" exec -T backend alembic upgrade head"#
    } else {
        r#"step "[3/4] migrations: none (no backend service)""#
    };
    let script = format!(
        r#"{PRELUDE}app={a}
env={e}
project="$app-$env"
cd "$root/opt/apps/$app"
prev=$(git rev-parse HEAD)
step "[1/4] git pull origin main (deployed: ${{prev:0:12}})"
git pull --ff-only origin main 2>&1
new=$(git rev-parse HEAD)
if [ "$new" = "$prev" ]; then echo "already at ${{new:0:12}}; rebuilding anyway"; fi
git log --oneline "$prev..$new" | sed 's/^/    /'
step "[2/4] docker compose -p $project up -d --build"
docker compose -p "$project" up -d --build
{migrate}
step "[4/4] waiting for containers to be healthy"
deadline=$((SECONDS + ${{OPSDECK_HEALTH_TIMEOUT:-60}}))
while :; do
  bad=0; waiting=0
  for c in $(docker compose -p "$project" ps --format '{{{{.Name}}}}'); do
    h=$(docker inspect --format '{{{{.State.Health.Status}}}}' "$c")
    case "$h" in
      healthy|'<no value>') ;;
      starting) waiting=1; echo "    $c: health starting" ;;
      *) bad=1; echo "    $c is $h" ;;
    esac
  done
  if [ "$bad" = 0 ] && [ "$waiting" = 0 ]; then break; fi
  if [ "$bad" = 1 ] || [ "$SECONDS" -ge "$deadline" ]; then
    echo "health check failed for $project at ${{new:0:12}}" >&2
    exit 20
  fi
  sleep 1
done
mkdir -p "$root/var/lib/opsdeck/deploys"
printf '%s %s %s\n' "$(date +%s)" "$prev" "$new" >> "$root/var/lib/opsdeck/deploys/$project"
echo "deployed $project: ${{prev:0:12}} -> ${{new:0:12}}"
"#
    );
    Ok(RenderedRun {
        runbook: "deploy",
        title: format!("deploy {app}-{env}"),
        host: host.into(),
        danger: Danger::Change,
        production,
        confirm_with: production.then(|| format!("{app}-{env}")),
        script,
    })
}

/// `docker restart NAME`, then wait until it is running (and healthy, if it
/// has a healthcheck).
pub fn restart_container(
    host: &str,
    container: &str,
    production: bool,
) -> Result<RenderedRun, ParamError> {
    let c = name_param("container", container)?;
    let script = format!(
        r#"{PRELUDE}c={c}
step "restarting $c"
docker restart "$c"
deadline=$((SECONDS + ${{OPSDECK_HEALTH_TIMEOUT:-60}}))
while :; do
  h=$(docker inspect --format '{{{{.State.Health.Status}}}}' "$c")
  case "$h" in
    healthy|'<no value>') echo "$c is up (${{h/<no value>/no healthcheck}})"; break ;;
    starting) echo "    $c: health starting" ;;
    *) echo "$c is $h" >&2; exit 20 ;;
  esac
  if [ "$SECONDS" -ge "$deadline" ]; then echo "$c still not healthy" >&2; exit 20; fi
  sleep 1
done
"#
    );
    Ok(RenderedRun {
        runbook: "restart",
        title: format!("restart {container}"),
        host: host.into(),
        danger: Danger::Change,
        production,
        confirm_with: production.then(|| container.to_string()),
        script,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_names_are_refused_before_any_script_exists() {
        for v in [
            "a; rm -rf /",
            "$(touch /tmp/x)",
            "`id`",
            "a\nb",
            "a'b",
            "a\"b",
            "a\0b",
            "-rf",
            "",
            "ｆilter", // full-width look-alike
            &"x".repeat(200),
        ] {
            assert!(
                deploy_tenant("h", v, "staging", true).is_err(),
                "{v:?} accepted"
            );
            assert!(restart_container("h", v, false).is_err(), "{v:?} accepted");
        }
    }

    #[test]
    fn quote_wraps_anything_a_shell_could_read() {
        assert_eq!(quote("x", "plain").unwrap().to_string(), "plain");
        assert_eq!(quote("x", "a b").unwrap().to_string(), "'a b'");
        assert_eq!(quote("x", "it's").unwrap().to_string(), "\"it's\"");
        assert!(quote("x", "nul\0").is_err());
    }

    #[test]
    fn production_deploys_require_the_tenant_name() {
        let r = deploy_tenant("h", "filter-ical", "production", true).unwrap();
        assert_eq!(r.confirm_with.as_deref(), Some("filter-ical-production"));
        assert!(r.script.contains("app=filter-ical\nenv=production\n"));
        let s = deploy_tenant("h", "filter-ical", "staging", true).unwrap();
        assert_eq!(s.confirm_with, None);
    }
}
