//! Secret masking for every text opsdeck shows or stores: values of
//! `*PASSWORD*`, `*SECRET*`, `*TOKEN*`, `*KEY*` variables (`NAME=value`,
//! `NAME: value`, `"name": "value"`) and credentials inside URLs
//! (`postgresql://user:pass@host`). Masking works on whole lines.

use regex::Regex;
use std::borrow::Cow;
use std::sync::OnceLock;

pub const MASK: &str = "****";

#[allow(
    clippy::expect_used,
    reason = "a constant pattern, compiled by the unit tests"
)]
/// `\b` is ASCII (`(?-u:\b)`): a Unicode word boundary would keep the
/// regex off its DFA on any line with a byte beyond ASCII, and a 64 KiB line
/// would crawl through the PikeVM (issue 13's flood). At worst it masks a
/// little more (`_KEYé=` counts as a name ending at `KEY`).
fn assignment() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(
            r#"(?i)(["']?[A-Z0-9_.-]*(?:PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|ACCESS_?KEY|PRIVATE_?KEY|_KEY(?-u:\b)|KEY_ID)[A-Z0-9_.-]*["']?\s*[=:]\s*)("[^"]*"|'[^']*'|[^\s"',;}&]+)"#,
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

/// Whether `hay` holds one of the words every secret name the assignment
/// pattern knows contains (`pass`, `secret`, `token`, `key`, any case):
/// one pass over the bytes, the rest compared only where a word can start.
fn holds_a_secret_word(hay: &[u8]) -> bool {
    const WORDS: [&[u8]; 4] = [b"pass", b"secret", b"token", b"key"];
    hay.iter().enumerate().any(|(i, &c)| {
        let word = match c | 0x20 {
            b'p' => WORDS[0],
            b's' => WORDS[1],
            b't' => WORDS[2],
            b'k' => WORDS[3],
            _ => return false,
        };
        hay.get(i..i + word.len())
            .is_some_and(|w| w.eq_ignore_ascii_case(word))
    })
}

/// Whether a pattern could match `text` at all. Every secret name the
/// assignment pattern knows contains `pass`, `secret`, `token` or `key`;
/// credentials in a URL need `://` and `@`. Text with none of them (most
/// output) skips both regexes. Non-ASCII text always takes the full path,
/// so case folding beyond ASCII cannot slip past this test. Holds for a
/// line and for many lines alike.
fn may_hold_a_secret(text: &str) -> bool {
    !text.is_ascii()
        || (text.contains("://") && text.contains('@'))
        || holds_a_secret_word(text.as_bytes())
}

/// `line` with every secret value replaced by `****`.
pub fn mask(line: &str) -> Cow<'_, str> {
    if !may_hold_a_secret(line) {
        return Cow::Borrowed(line);
    }
    by_patterns(line)
}

fn by_patterns(line: &str) -> Cow<'_, str> {
    let step =
        url_credentials().replace_all(line, |c: &regex::Captures| format!("{}:{MASK}@", &c[1]));
    match assignment().replace_all(&step, |c: &regex::Captures| {
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
    mask_owned(text.to_owned())
}

/// Mask text that holds whole lines, in place of `text`. A chunk in which
/// no line can hold a secret (the usual flood of output) is returned as it
/// is, after one pass over its bytes.
pub fn mask_owned(text: String) -> String {
    if !may_hold_a_secret(&text) {
        return text;
    }
    let mut out = String::with_capacity(text.len() + 16);
    for line in text.split_inclusive('\n') {
        out.push_str(&mask(line));
    }
    out
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
        assert_eq!(
            mask_owned("1\n2\nsee https://u:p@host/\n".into()),
            "1\n2\nsee https://u:****@host/\n"
        );
        assert_eq!(mask_owned("1\n2\n3\n".into()), "1\n2\n3\n");
    }

    #[test]
    fn the_quick_test_never_skips_a_line_the_patterns_would_mask() {
        let lines = [
            "POSTGRES_PASSWORD=hunter2",
            "db_passwd: x",
            "Secret=1",
            "my_TOKEN = 'abc'",
            "KEY_ID=AKIA",
            "x_key: y",
            "Api-Key=z",
            "redis://u:p@host:6379",
            "https://user:pa@ss@host",
            "\u{212a}EY_ID=x",
            "pas\u{17f}word=x",
            "==> [2/5] docker compose up -d --build",
            "#4 [backend 3/4] RUN pip install --no-cache-dir -r requirements.txt",
            "GET /api/v1/events 200 12ms",
        ];
        for l in lines {
            assert_eq!(mask(l), by_patterns(l), "{l}");
            if by_patterns(l) != l {
                assert!(may_hold_a_secret(l), "{l}");
            }
        }
        assert!(!may_hold_a_secret("GET /api/v1/events 200 12ms"));
    }
}
