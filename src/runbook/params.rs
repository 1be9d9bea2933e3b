//! Parameter values: validated by type before anything is rendered. What
//! comes out is the canonical text a script sees (then shell-quoted).

use super::Choices;
use serde::Deserialize;
use toml::Spanned;

/// A parameter's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ParamType {
    /// One of a fixed list (`options`) or of the live inventory (`from`).
    Choice,
    Bool,
    /// A whole number within `min`..=`max`.
    Int,
    /// `90s`, `5m`, `1h30m` (the script gets seconds).
    Duration,
    /// One line that must match `pattern` (anchored with ^…$).
    String,
    /// Free multi-line text (an SQL query, an ad-hoc command); quoted whole.
    Text,
}

/// Where a `choice` parameter's options come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    Tenants,
    Apps,
    Envs,
    /// Containers on the target's host.
    Containers,
    /// Backup files on the target's host.
    Backups,
    Databases,
    /// Revisions recorded by deploys of the target tenant, on its host.
    GitRefs,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParamSpec {
    pub name: Spanned<String>,
    #[serde(rename = "type")]
    pub kind: ParamType,
    #[serde(default)]
    pub help: String,
    #[serde(default)]
    pub default: Option<toml::Value>,
    #[serde(default)]
    pub options: Vec<String>,
    #[serde(default)]
    pub from: Option<Source>,
    #[serde(default)]
    pub min: Option<i64>,
    #[serde(default)]
    pub max: Option<i64>,
    #[serde(default)]
    pub pattern: Option<Spanned<String>>,
    #[serde(default)]
    pub max_len: Option<usize>,
    /// What `pattern` accepts, in words (shown when a value is refused).
    #[serde(default)]
    pub expect: Option<String>,
}

impl ParamSpec {
    pub fn name(&self) -> &str {
        self.name.get_ref()
    }
    pub fn default_text(&self) -> Option<String> {
        self.default.as_ref().map(|v| match v {
            toml::Value::String(s) => s.clone(),
            other => other.to_string(),
        })
    }
}

/// Longest one-line value unless the runbook says otherwise.
const MAX_LINE: usize = 256;
/// Longest multi-line text (a query, an ad-hoc command).
const MAX_TEXT: usize = 64 * 1024;

message_error!(
    /// Why a parameter's value is refused.
    Invalid
);

/// Seconds from `90`, `90s`, `5m`, `2h`, `1d`, `1h30m`.
pub fn parse_duration(s: &str) -> Result<i64, Invalid> {
    let s = s.trim();
    if s.is_empty() {
        return Err("empty duration".into());
    }
    if let Ok(n) = s.parse::<i64>() {
        return Ok(n);
    }
    let mut total: i64 = 0;
    let mut num = String::new();
    for c in s.chars() {
        if c.is_ascii_digit() {
            num.push(c);
            continue;
        }
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            _ => return Err(format!("{s:?} is not a duration (like 30s, 5m, 1h30m)").into()),
        };
        let n: i64 = num
            .parse()
            .map_err(|_| format!("{s:?} is not a duration (like 30s, 5m, 1h30m)"))?;
        total = total
            .checked_add(n.checked_mul(unit).ok_or("duration too long")?)
            .ok_or("duration too long")?;
        num.clear();
    }
    if !num.is_empty() {
        return Err(format!("{s:?}: a number without a unit at the end").into());
    }
    Ok(total)
}

fn options<'a>(p: &'a ParamSpec, choices: &'a Choices) -> Vec<&'a str> {
    let mut v: Vec<&str> = p.options.iter().map(String::as_str).collect();
    if let Some(src) = p.from
        && let Some(live) = choices.get(src)
    {
        v.extend(live.iter().map(String::as_str));
    }
    v
}

/// The choices a form offers for `p` (fixed options, then the inventory's).
pub fn offered(p: &ParamSpec, choices: &Choices) -> Vec<String> {
    options(p, choices).into_iter().map(String::from).collect()
}

/// Check `raw` against the parameter's type; the canonical value or why not.
pub fn validate(p: &ParamSpec, raw: &str, choices: &Choices) -> Result<String, Invalid> {
    if raw.contains('\0') {
        return Err("contains a NUL byte".into());
    }
    let limit = p.max_len.unwrap_or(match p.kind {
        ParamType::Text => MAX_TEXT,
        _ => MAX_LINE,
    });
    let n = raw.chars().count();
    if n > limit {
        return Err(format!("longer than {limit} characters ({n})").into());
    }
    if p.kind != ParamType::Text
        && let Some(c) = raw.chars().find(|c| c.is_control())
    {
        return Err(format!("control character {c:?} is not allowed").into());
    }
    match p.kind {
        ParamType::Choice => {
            let opts = options(p, choices);
            if opts.contains(&raw) {
                return Ok(raw.to_string());
            }
            // Revisions not (yet) listed: a full or short hex SHA; the
            // script checks it exists on the host.
            if p.from == Some(Source::GitRefs)
                && raw.len() >= 7
                && raw.len() <= 40
                && raw
                    .chars()
                    .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
            {
                return Ok(raw.to_string());
            }
            if opts.is_empty() {
                let src = p
                    .from
                    .map(|s| format!("{s:?}").to_lowercase())
                    .unwrap_or_default();
                return Err(format!("no {src} are known yet (inventory not loaded)").into());
            }
            let shown: Vec<&str> = opts.iter().take(8).copied().collect();
            Err(format!(
                "{raw:?} is not one of: {}{}",
                shown.join(", "),
                if opts.len() > 8 { ", …" } else { "" }
            )
            .into())
        }
        ParamType::Bool => match raw.to_ascii_lowercase().as_str() {
            "true" | "yes" | "on" | "1" => Ok("true".into()),
            "false" | "no" | "off" | "0" => Ok("false".into()),
            _ => Err(format!("{raw:?} is not true or false").into()),
        },
        ParamType::Int => {
            let t = raw.trim();
            let digits = t.strip_prefix('-').unwrap_or(t);
            let n: i64 = t.parse().map_err(|_| {
                if !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit()) {
                    // Whole, but beyond what any parameter takes.
                    match (t.starts_with('-'), p.min, p.max) {
                        (true, Some(lo), _) => format!("{t} is below the minimum {lo}"),
                        (false, _, Some(hi)) => format!("{t} is above the maximum {hi}"),
                        _ => format!("{t} is too large a number"),
                    }
                } else {
                    format!("{raw:?} is not a whole number")
                }
            })?;
            range(p, n, &n.to_string())?;
            Ok(n.to_string())
        }
        ParamType::Duration => {
            let n = parse_duration(raw)?;
            range(p, n, &format!("{n}s"))?;
            Ok(n.to_string())
        }
        ParamType::String => {
            let pat = p
                .pattern
                .as_ref()
                .map(|s| s.get_ref().as_str())
                .unwrap_or("^$");
            let re = regex_lite::Regex::new(pat).map_err(|e| e.to_string())?;
            if re.is_match(raw) {
                Ok(raw.to_string())
            } else {
                Err(match &p.expect {
                    Some(words) => format!("{raw:?}: expected {words}").into(),
                    None => format!("{raw:?} does not match the pattern {pat}").into(),
                })
            }
        }
        ParamType::Text => {
            // Newlines and tabs are text; other control characters (escape
            // sequences, carriage returns) could rewrite the screen.
            if let Some(c) = raw
                .chars()
                .find(|c| c.is_control() && *c != '\n' && *c != '\t')
            {
                return Err(format!("control character {c:?} is not allowed").into());
            }
            if raw.trim().is_empty() {
                return Err("must not be empty".into());
            }
            Ok(raw.to_string())
        }
    }
}

fn range(p: &ParamSpec, n: i64, shown: &str) -> Result<(), String> {
    if let Some(lo) = p.min
        && n < lo
    {
        return Err(format!("{shown} is below the minimum {lo}"));
    }
    if let Some(hi) = p.max
        && n > hi
    {
        return Err(format!("{shown} is above the maximum {hi}"));
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90"), Ok(90));
        assert_eq!(parse_duration("5m"), Ok(300));
        assert_eq!(parse_duration("1h30m"), Ok(5400));
        assert!(parse_duration("5 m").is_err());
        assert!(parse_duration("m").is_err());
        assert!(parse_duration("10x").is_err());
        assert!(parse_duration("99999999999999999d").is_err());
    }

    #[test]
    fn refusals_say_what_is_expected_in_words() {
        let spec = |t: &str| -> ParamSpec { toml::from_str(t).unwrap() };
        let none = Choices::default();
        let p = spec(
            "name = 'db'\ntype = 'string'\npattern = '^[a-z]+$'\nexpect = 'lower-case letters'",
        );
        assert_eq!(
            validate(&p, "Bad!", &none),
            Err("\"Bad!\": expected lower-case letters".into())
        );
        // A user's runbook without words still names its pattern.
        let p = spec("name = 'db'\ntype = 'string'\npattern = '^[a-z]+$'");
        assert!(
            validate(&p, "1", &none)
                .unwrap_err()
                .0
                .contains("pattern ^[a-z]+$")
        );
        let p = spec("name = 'lines'\ntype = 'int'\nmin = 1\nmax = 10000");
        assert_eq!(
            validate(&p, "99999999999999999999", &none),
            Err("99999999999999999999 is above the maximum 10000".into())
        );
        assert_eq!(
            validate(&p, "-99999999999999999999", &none),
            Err("-99999999999999999999 is below the minimum 1".into())
        );
        assert!(
            validate(&p, "12a", &none)
                .unwrap_err()
                .0
                .contains("not a whole number")
        );
    }
}
