//! Secret masking for every text opsdeck shows or stores: values of
//! `*PASSWORD*`, `*SECRET*`, `*TOKEN*`, `*KEY*` variables (`NAME=value`,
//! `NAME: value`, `"name": "value"`) and credentials inside URLs
//! (`postgresql://user:pass@host`). Masking works on whole lines.

use regex_lite::Regex;
use std::borrow::Cow;
use std::sync::OnceLock;

pub const MASK: &str = "****";

#[allow(
    clippy::expect_used,
    reason = "a constant pattern, compiled by the unit tests"
)]
fn assignment() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(
            r#"(?i)(["']?[A-Z0-9_.-]*(?:PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|ACCESS_?KEY|PRIVATE_?KEY|_KEY\b|KEY_ID)[A-Z0-9_.-]*["']?\s*[=:]\s*)("[^"]*"|'[^']*'|[^\s"',;}&]+)"#,
        )
        .expect("valid pattern")
    })
}

#[allow(
    clippy::expect_used,
    reason = "a constant pattern, compiled by the unit tests"
)]
fn url_credentials() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(r"([a-zA-Z][a-zA-Z0-9+.-]*://[^:/\s@]+):([^@\s/]+)@").expect("valid pattern")
    })
}

/// `line` with every secret value replaced by `****`.
pub fn mask(line: &str) -> Cow<'_, str> {
    let step = url_credentials().replace_all(line, |c: &regex_lite::Captures| {
        format!("{}:{MASK}@", &c[1])
    });
    match assignment().replace_all(&step, |c: &regex_lite::Captures| {
        let v = &c[2];
        let q = if v.starts_with('"') {
            "\""
        } else if v.starts_with('\'') {
            "'"
        } else {
            ""
        };
        format!("{}{q}{MASK}{q}", &c[1])
    }) {
        Cow::Borrowed(_) => step,
        Cow::Owned(s) => Cow::Owned(s),
    }
}

/// Mask text that holds whole lines.
pub fn mask_text(text: &str) -> String {
    text.split_inclusive('\n')
        .map(|l| mask(l).into_owned())
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_masked_and_the_rest_is_left_alone() {
        let cases = [
            ("POSTGRES_PASSWORD=hunter2", "POSTGRES_PASSWORD=****"),
            (
                "export GITHUB_TOKEN='ghp_abc123'",
                "export GITHUB_TOKEN='****'",
            ),
            (
                "  aws_secret_access_key: wJalrXUtnFEMI/K7MDENG",
                "  aws_secret_access_key: ****",
            ),
            (
                r#"{"api_key": "sk-123", "user": "bob"}"#,
                r#"{"api_key": "****", "user": "bob"}"#,
            ),
            (
                "DATABASE_URL=postgresql://platform_admin:S3cr3t!@postgres-platform:5432/db",
                "DATABASE_URL=postgresql://platform_admin:****@postgres-platform:5432/db",
            ),
            (
                "AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE",
                "AWS_ACCESS_KEY_ID=****",
            ),
            (
                "==> [1/4] git pull origin main",
                "==> [1/4] git pull origin main",
            ),
            ("Updating 1bbdedd..6aae11f", "Updating 1bbdedd..6aae11f"),
            (
                "see https://example.com/path?a=1",
                "see https://example.com/path?a=1",
            ),
            ("keyboard layout: us", "keyboard layout: us"),
        ];
        for (input, want) in cases {
            assert_eq!(mask(input), want, "{input}");
        }
        assert_eq!(mask_text("a=1\nDB_PASSWORD=x\n"), "a=1\nDB_PASSWORD=****\n");
    }
}
