//! `opsdeck schedule`: the `[[schedule]]`s with their last run and what is
//! next; `opsdeck schedule run-due` starts those due through `opsdeck run`'s
//! path (same guards, consent from the schedule's `confirm`, same journal),
//! journaled as `schedule:NAME`.

use super::run::{RunArgs, exit};
use crate::config::Config;
use crate::jobs::names::Limit;
use crate::ops::Providers;
use crate::ops::schedule::{self, State};
use crate::runbook::Library;
use std::io::Write;

/// `opsdeck schedule [--json]`: exit 1 when one failed or was missed.
pub fn list(
    p: &Providers,
    config: &Config,
    json: bool,
    out: &mut impl Write,
) -> anyhow::Result<u8> {
    let now = crate::clock::now();
    let st = schedule::statuses(config, &p.journal.entries().0, now);
    if json {
        serde_json::to_writer_pretty(&mut *out, &st)?;
        writeln!(out)?;
    } else if st.is_empty() {
        writeln!(out, "no [[schedule]] in the config")?;
    } else {
        let t = crate::table::rows::schedules_table(&st);
        super::ls::table(out, &t)?;
    }
    Ok(u8::from(
        st.iter()
            .any(|s| matches!(s.state, State::Failed | State::Missed)),
    ))
}

/// `opsdeck schedule run-due`: each due schedule, one after another.
/// Exit 0 when every one started succeeded (or none was due), else 1.
pub async fn run_due(
    p: &Providers,
    config: &Config,
    lib: &Library,
    read_only: bool,
    production_context: bool,
) -> anyhow::Result<u8> {
    let now = crate::clock::now();
    let due: Vec<_> = schedule::due(config, &p.journal.entries().0, now)
        .into_iter()
        .cloned()
        .collect();
    if due.is_empty() {
        eprintln!("opsdeck: no schedule is due");
        return Ok(exit::SUCCEEDED);
    }
    let mut failed = Vec::new();
    for s in &due {
        eprintln!(
            "opsdeck: schedule {} is due: {} {}",
            s.name, s.runbook, s.target
        );
        let mut q = p.clone();
        q.operator.who = schedule::operator(&s.name);
        let mut assignments = vec![s.target.clone()];
        assignments.extend(s.params.iter().map(|(k, v)| format!("{k}={v}")));
        let args = RunArgs {
            runbook: s.runbook.clone(),
            assignments,
            dry_run: false,
            wait: None,
            yes: true,
            confirm: s.confirm.clone(),
            json: false,
            read_only,
            production_context,
            max_concurrency: Limit::Count(50),
            max_errors: Limit::Count(0),
        };
        let code = super::run::run(&q, config, lib, args).await?;
        if code != exit::SUCCEEDED {
            failed.push(format!("{} (exit {code})", s.name));
        }
    }
    if failed.is_empty() {
        eprintln!("opsdeck: {} scheduled run(s) succeeded", due.len());
        Ok(exit::SUCCEEDED)
    } else {
        eprintln!("opsdeck: scheduled runs failed: {}", failed.join(", "));
        Ok(exit::FAILED)
    }
}
