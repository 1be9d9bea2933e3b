//! A drill's report: what was checked, the steps taken, RTO and RPO, and
//! its Markdown. A leaf: the journal keeps reports without knowing drills.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Check {
    pub what: String,
    pub passed: bool,
    pub detail: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Step {
    pub at: DateTime<Utc>,
    pub run: crate::jobs::names::RunId,
    pub runbook: String,
    pub target: String,
    #[serde(default)]
    pub kind: String,
    pub params: Vec<(String, String)>,
    pub status: String,
    pub exit_code: Option<i32>,
    pub result: Option<String>,
    /// The run changed something: replaying it needs `--yes`.
    #[serde(default)]
    pub needs_yes: bool,
    /// The name that was typed to confirm it (production, destructive).
    #[serde(default)]
    pub confirm: Option<String>,
}

/// RTO and RPO as a document sets them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Objectives {
    pub rto_seconds: i64,
    pub rpo_seconds: i64,
    /// Where they are written ("the PMO document").
    pub source: String,
}

/// `measured` against an objective, in words.
fn against(measured: i64, objective: i64, source: &str) -> String {
    if measured <= objective {
        format!(" — within {source}'s {}", dur(objective))
    } else {
        format!(
            " — EXCEEDS {source}'s {} by {}",
            dur(objective),
            dur(measured - objective)
        )
    }
}

impl Report {
    /// The RTO and RPO lines (with the objectives when known).
    pub fn rto_rpo(&self) -> (String, Option<String>) {
        let o = self.objectives.as_ref();
        let rto = format!(
            "{}{}",
            dur(self.rto_seconds),
            o.map(|o| against(self.rto_seconds, o.rto_seconds, &o.source))
                .unwrap_or_default()
        );
        let rpo = self.rpo_seconds.map(|r| {
            format!(
                "{}{}",
                dur(r),
                o.map(|o| against(r, o.rpo_seconds, &o.source))
                    .unwrap_or_default()
            )
        });
        (rto, rpo)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub id: String,
    pub scenario: String,
    pub title: String,
    pub alarm: String,
    pub started_at: DateTime<Utc>,
    pub verified_at: DateTime<Utc>,
    /// From the alarm to the verified recovery.
    pub rto_seconds: i64,
    /// Age of the backup restored, at the time of the fault.
    pub rpo_seconds: Option<i64>,
    pub backup_used: Option<String>,
    /// The recovery objectives the estate's documents set, when they do.
    #[serde(default)]
    pub objectives: Option<Objectives>,
    pub passed: bool,
    pub checks: Vec<Check>,
    pub steps: Vec<Step>,
}

fn dur(s: i64) -> String {
    if s >= 3600 {
        format!("{}h {:02}m", s / 3600, (s % 3600) / 60)
    } else {
        format!("{}m {:02}s", s / 60, s % 60)
    }
}

/// The report as Markdown (for the post-incident notes).
pub fn markdown(r: &Report) -> String {
    let mut s = format!(
        "# Drill: {} — {}\n\n**{}** · started {} · verified {}\n\n",
        r.scenario,
        r.title,
        if r.passed { "PASSED" } else { "FAILED" },
        r.started_at.format("%Y-%m-%d %H:%M:%S UTC"),
        r.verified_at.format("%Y-%m-%d %H:%M:%S UTC"),
    );
    s.push_str(&format!("> {}\n\n", r.alarm));
    let (rto, rpo) = r.rto_rpo();
    s.push_str(&format!("- **RTO** (alarm → verified recovery): {rto}\n"));
    match (rpo, &r.backup_used) {
        (Some(rpo), Some(b)) => s.push_str(&format!(
            "- **RPO** (age of the backup restored at the time of the fault): {rpo} — `{b}`\n"
        )),
        (None, Some(b)) => s.push_str(&format!("- backup restored: `{b}`\n")),
        _ => s.push_str("- no backup restored\n"),
    }
    s.push_str("\n## Checks\n\n");
    for c in &r.checks {
        s.push_str(&format!(
            "- [{}] {} — {}\n",
            if c.passed { "x" } else { " " },
            c.what,
            c.detail
        ));
    }
    s.push_str("\n## Steps taken\n\n| at | runbook | target | status | exit | result |\n|---|---|---|---|---|---|\n");
    for st in &r.steps {
        s.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} |\n",
            st.at.format("%H:%M:%S"),
            st.runbook,
            st.target,
            st.status,
            st.exit_code.map(|c| c.to_string()).unwrap_or("-".into()),
            st.result.clone().unwrap_or_default().replace('|', "\\|")
        ));
    }
    s.push_str("\n## Commands\n\n```sh\n");
    for st in &r.steps {
        let params: Vec<String> = st
            .params
            .iter()
            .map(|(k, v)| {
                format!(
                    "{k}={}",
                    shlex::try_quote(v)
                        .map(|q| q.into_owned())
                        .unwrap_or_default()
                )
            })
            .collect();
        // The target as `opsdeck run` takes it (an instance by its id in the label).
        let target = match st.target.rsplit_once(" (") {
            Some((_, id)) if st.kind == "instance" => id.trim_end_matches(')').to_string(),
            _ => st.target.clone(),
        };
        // Replayed as written: with the consent the run was given.
        let mut consent = String::new();
        if st.needs_yes {
            consent.push_str(" --yes");
        }
        if let Some(name) = &st.confirm {
            consent.push_str(&format!(
                " --confirm {}",
                shlex::try_quote(name)
                    .map(|q| q.into_owned())
                    .unwrap_or_default()
            ));
        }
        let mut line = format!("opsdeck run {} {}={target}", st.runbook, st.kind);
        for p in &params {
            line.push(' ');
            line.push_str(p);
        }
        s.push_str(&format!("{line}{consent}\n"));
    }
    s.push_str("```\n");
    s
}
