//! The procedures map (`docs/procedures.md`) is kept true: every runbook
//! it names is in the library, every test it names exists, a covered row
//! names the test that proves it, every other row says what is missing or
//! why it is out of scope, and the summary counts its rows. With the seed
//! documents beside the repository (`../shared/seeds`, or
//! `OPSDECK_SEEDS`), each row's lines exist in its document.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Words in backticks in the "done by" column that are not runbooks (nor
/// the sandbox's schedules):
/// cloud steps, drills, attention kinds, parameters and console keys.
const NOT_RUNBOOKS: &[&str] = &[
    "move-address",
    "launch-like",
    "crash-loop",
    "failed-migration",
    "instance-lost",
    "rpo",
    "backup-failed",
    "unvalidated",
    "unhealthy",
    "bucket",
    "certificate",
    "u",
    "R",
    ":login",
    "opsdeck",
];

struct Row {
    seed: String,
    n: u32,
    procedure: String,
    done_by: String,
    tests: Vec<String>,
    status: String,
    note: String,
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn ticked(cell: &str) -> Vec<String> {
    cell.split('`')
        .enumerate()
        .filter(|(i, _)| i % 2 == 1)
        .map(|(_, s)| s.to_string())
        .collect()
}

fn rows(text: &str) -> (Vec<Row>, BTreeMap<String, Vec<u32>>) {
    let mut out = Vec::new();
    let mut summary = BTreeMap::new();
    let mut seed = String::new();
    for line in text.lines() {
        if let Some(h) = line.strip_prefix("## ") {
            seed = h.split(':').next().unwrap_or("").trim().to_string();
            continue;
        }
        let cells: Vec<String> = line
            .trim()
            .trim_matches('|')
            .split(" | ")
            .map(|c| c.trim().to_string())
            .collect();
        if seed.is_empty() {
            // The summary: seed, covered, partial, missing, out of scope, all.
            if cells.len() == 6 && cells[1].parse::<u32>().is_ok() {
                let nums = cells[1..].iter().map(|c| c.parse().unwrap()).collect();
                summary.insert(cells[0].clone(), nums);
            }
            continue;
        }
        if cells.len() < 6 || cells[0].parse::<u32>().is_err() {
            continue;
        }
        out.push(Row {
            seed: seed.clone(),
            n: cells[0].parse().unwrap(),
            procedure: cells[1].clone(),
            done_by: cells[2].clone(),
            tests: ticked(&cells[3]),
            status: cells[4].clone(),
            note: cells[5..].join(" | "),
        });
    }
    (out, summary)
}

/// Whether `tests/…/{module}.rs` has a test `name`.
fn test_exists(name: &str) -> bool {
    let Some((module, f)) = name.split_once("::") else {
        return false;
    };
    [
        root().join("tests/sandbox").join(format!("{module}.rs")),
        root().join("tests").join(format!("{module}.rs")),
    ]
    .iter()
    .filter_map(|p| std::fs::read_to_string(p).ok())
    .any(|t| t.contains(&format!("fn {f}()")))
}

#[test]
fn the_procedures_map_names_real_runbooks_and_tests_and_counts_right() {
    let text = std::fs::read_to_string(root().join("docs/procedures.md")).unwrap();
    let (rows, summary) = rows(&text);
    assert_eq!(rows.len(), 118, "every procedure of the five documents");
    let lib = opsdeck::runbook::Library::builtin();
    // A schedule the map names is one of the sandbox config's.
    let schedules: Vec<String> =
        opsdeck::config::parse(opsdeck::provider::sandbox::SANDBOX_CONFIG, "sandbox.toml")
            .unwrap()
            .schedules
            .into_iter()
            .map(|s| s.name)
            .collect();
    let mut problems = Vec::new();
    let mut counts: BTreeMap<String, [u32; 4]> = BTreeMap::new();
    for r in &rows {
        let at = format!("{} {}", r.seed, r.n);
        for t in ticked(&r.done_by) {
            let word = t.split_whitespace().next().unwrap_or("");
            if lib.get(word).is_none()
                && !NOT_RUNBOOKS.contains(&word)
                && !schedules.iter().any(|s| s == word)
            {
                problems.push(format!("{at}: `{t}` is not a runbook or a schedule"));
            }
        }
        for t in &r.tests {
            if !test_exists(t) {
                problems.push(format!("{at}: no test {t}"));
            }
        }
        let slot = match r.status.as_str() {
            "covered" => 0,
            "partial" => 1,
            "missing" => 2,
            "out of scope" => 3,
            other => {
                problems.push(format!("{at}: status {other:?}"));
                continue;
            }
        };
        counts.entry(r.seed.clone()).or_default()[slot] += 1;
        if slot == 0 && r.tests.is_empty() {
            problems.push(format!("{at}: covered, but no test proves it"));
        }
        if slot > 0 && slot != 1 && r.note.trim().is_empty() {
            problems.push(format!("{at}: {} without a reason", r.status));
        }
        if slot == 1 && r.note.trim().is_empty() {
            problems.push(format!("{at}: partial without saying what is missing"));
        }
    }
    for (seed, c) in &counts {
        let want = summary.get(seed).cloned().unwrap_or_default();
        let got = vec![c[0], c[1], c[2], c[3], c.iter().sum()];
        if want != got {
            problems.push(format!(
                "summary of {seed}: says {want:?}, the rows {got:?}"
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The document lines a row cites: the numbers in its parentheses,
/// outside code spans ("(606–616 …)" → 606, 616).
fn cited_lines(procedure: &str) -> Vec<usize> {
    let prose: String = procedure
        .split('`')
        .enumerate()
        .filter(|(i, _)| i % 2 == 0)
        .map(|(_, s)| s)
        .collect();
    let mut out = Vec::new();
    let (mut depth, mut cur) = (0, String::new());
    for c in prose.chars().chain(std::iter::once(' ')) {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            _ => {}
        }
        if c.is_ascii_digit() && depth > 0 {
            cur.push(c);
        } else {
            if (2..=4).contains(&cur.len()) {
                out.push(cur.parse().unwrap());
            }
            cur.clear();
        }
    }
    out
}

fn seeds_dir() -> Option<PathBuf> {
    std::env::var_os("OPSDECK_SEEDS")
        .map(PathBuf::from)
        .or_else(|| Some(root().parent()?.join("shared/seeds")))
        .filter(|p| p.is_dir())
}

#[test]
fn each_rows_lines_exist_in_its_document_when_the_seeds_are_here() {
    let Some(dir) = seeds_dir() else {
        eprintln!(
            "the seed documents are not beside the repository: only the map itself is checked"
        );
        return;
    };
    let file = |seed: &str| match seed {
        "MT" => "multi-tenant-platform-architecture.md",
        "PMO" => "pmo-enterprise-platform-infrastructure.md",
        "MAP" => "map-system-cloud-infrastructure-plan.md",
        "ENS" => "enssol-system-architecture.md",
        _ => "indivillage-infrastructure.md",
    };
    let text = std::fs::read_to_string(root().join("docs/procedures.md")).unwrap();
    let mut problems = Vec::new();
    for r in rows(&text).0 {
        let doc = std::fs::read_to_string(Path::new(&dir).join(file(&r.seed))).unwrap();
        let n = doc.lines().count();
        for l in cited_lines(&r.procedure) {
            if l > n {
                problems.push(format!(
                    "{} {}: line {l} is past the end ({n} lines)",
                    r.seed, r.n
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
