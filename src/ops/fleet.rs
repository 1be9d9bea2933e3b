//! Fleet runs from intent to journal, shared by the console and the CLI:
//! [`plan`] renders the runbook for every selected instance and decides
//! per target (runs, or refused and why); [`consent`] checks the one typed
//! confirmation; [`start`] journals every target before anything is sent
//! and gives the engine's request; [`finish`] journals one target's end
//! with its complete output. The engine is [`crate::jobs::fleet`].

use super::{Context, Inventory, PrepareError, Refusal, prepare_run};
use crate::domain::Instance;
use crate::jobs::fleet::{self, FleetRequest, FleetTarget, TargetEnd};
use crate::runbook::{Danger, RenderedRun};
use crate::store::journal::{Finished, Journal, Operator, Record, RunOutcome};
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;
use std::time::Duration;

message_error!(
    /// Why a fleet run is not sent (its script, or the operator's consent).
    FleetRefused
);

/// What a fleet run will do, before anything is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FleetPlan {
    pub runbook: String,
    pub danger: Danger,
    /// How the targets were chosen, in words: `tag:KEY=VALUE` or `3 marked`.
    pub selection: String,
    /// The tag, when a tag chose them.
    pub tag: Option<(String, String)>,
    /// One rendered run per target that runs.
    pub runs: Vec<RenderedRun>,
    /// (instance id, name, why) of each target refused.
    pub refused: Vec<(String, String, String)>,
    /// What must be typed to run it, when any target is production or the
    /// runbook destructive: the tag (`tag:K=V`), else the number of targets.
    pub confirm_with: Option<String>,
}

impl FleetPlan {
    /// The guard's decision per target, in words (preview and `--dry-run`).
    pub fn decisions(&self) -> Vec<(String, String)> {
        let mut v: Vec<(String, String)> = self
            .runs
            .iter()
            .map(|r| (r.target.label.clone(), format!("runs — {}", r.guard_text())))
            .collect();
        v.extend(
            self.refused
                .iter()
                .map(|(_, name, why)| (name.clone(), format!("refused — {why}"))),
        );
        v
    }

    /// The one script every target receives (its preview), when the
    /// targets' scripts differ only in their values.
    pub fn script(&self, run_id: &str) -> Result<String, FleetRefused> {
        let t = targets(&self.runs);
        Ok(fleet::fleet_script(
            run_id,
            &fleet::neutral_script(&t).map_err(|e| FleetRefused(e.0))?,
        ))
    }
}

fn targets(runs: &[RenderedRun]) -> Vec<FleetTarget> {
    runs.iter()
        .map(|r| FleetTarget {
            host: r.host.clone(),
            label: r.target.label.clone(),
            script: r.script.clone(),
        })
        .collect()
}

/// Why no fleet plan could be made.
#[derive(Debug, Clone, thiserror::Error)]
pub enum PlanError {
    #[error("no instance selected")]
    Empty,
    #[error(transparent)]
    Prepare(#[from] PrepareError),
    /// Read-only mode refuses the runbook itself, for every target.
    #[error("{0}")]
    Refused(Refusal),
    #[error("`{0}` is not an instance runbook: a fleet run needs one")]
    NotInstanceRunbook(String),
    #[error("`{0}` has cloud steps: it runs on one instance at a time")]
    CloudSteps(String),
}

/// Render `runbook` with `values` for every instance of `selected`, each
/// guarded on its own.
pub fn plan(
    cx: Context<'_>,
    inv: &Inventory,
    runbook: &str,
    selected: &[&Instance],
    tag: Option<(String, String)>,
    values: &BTreeMap<String, String>,
    read_only: bool,
) -> Result<FleetPlan, PlanError> {
    if selected.is_empty() {
        return Err(PlanError::Empty);
    }
    let spec = super::lookup(cx.library, runbook)?;
    if spec.target != crate::runbook::spec::TargetKind::Instance {
        return Err(PlanError::NotInstanceRunbook(runbook.into()));
    }
    if spec.has_cloud_steps() {
        return Err(PlanError::CloudSteps(runbook.into()));
    }
    let mut runs = Vec::new();
    let mut refused = Vec::new();
    for i in selected {
        let target = inv.instance_target(i);
        let r = prepare_run(cx, inv, runbook, &target, values)?;
        match super::guard(&r, read_only, &inv.instances) {
            Ok(()) => runs.push(r),
            Err(why @ Refusal::ReadOnly { .. }) => return Err(PlanError::Refused(why)),
            Err(why) => refused.push((i.id.clone(), target.label.clone(), why.to_string())),
        }
    }
    let selection = match &tag {
        Some((k, v)) => format!("tag:{k}={v}"),
        None => format!("{} marked", selected.len()),
    };
    let confirm_with = runs
        .iter()
        .any(|r| r.confirm_with.is_some())
        .then(|| match &tag {
            Some(_) => selection.clone(),
            None => runs.len().to_string(),
        });
    Ok(FleetPlan {
        runbook: runbook.into(),
        danger: spec.danger,
        selection,
        tag,
        runs,
        refused,
        confirm_with,
    })
}

/// The operator's agreement: `agreed` for a change (the console's Enter,
/// the CLI's `--yes`), and the typed [`FleetPlan::confirm_with`] when there
/// is one.
pub fn consent(plan: &FleetPlan, agreed: bool, typed: Option<&str>) -> Result<(), FleetRefused> {
    if plan.danger != Danger::Read && !agreed {
        return Err(format!(
            "`{}` is a {} runbook: it needs your agreement",
            plan.runbook,
            plan.danger.label()
        )
        .into());
    }
    match &plan.confirm_with {
        Some(want) if typed != Some(want.as_str()) => {
            Err(format!("production or destructive targets: type {want} to run it").into())
        }
        _ => Ok(()),
    }
}

/// Journal every target that runs (before anything is sent) and give the
/// engine's request. Each target's record is `<run>-<instance>`, which is
/// also its job on its host.
#[allow(clippy::too_many_arguments)]
pub fn start(
    journal: &Journal,
    operator: &Operator,
    plan: &FleetPlan,
    run: &str,
    at: DateTime<Utc>,
    max_concurrency: fleet::Limit,
    max_errors: fleet::Limit,
    poll: Duration,
) -> std::io::Result<FleetRequest> {
    for r in &plan.runs {
        let job = fleet::target_job(run, &r.host);
        journal.prepare_run(&job, &r.script)?;
        journal.append(&crate::jobs::journaled::start_record(r, &job, operator, at))?;
    }
    Ok(FleetRequest {
        run: run.into(),
        targets: targets(&plan.runs),
        // By tag only when the tag chose exactly what runs.
        tag: plan.tag.clone().filter(|_| plan.refused.is_empty()),
        max_concurrency,
        max_errors,
        // SSM's own default for executionTimeout.
        timeout: Duration::from_secs(3600),
        poll,
    })
}

/// How a target's end reads in the journal.
pub fn outcome(end: &TargetEnd) -> RunOutcome {
    match end {
        TargetEnd::Succeeded => RunOutcome::Succeeded,
        TargetEnd::Failed(c) if *c == crate::jobs::journaled::EXIT_DATA_KEPT => {
            RunOutcome::DataKept
        }
        TargetEnd::Failed(_) => RunOutcome::Failed,
        TargetEnd::Cancelled | TargetEnd::NotStarted => RunOutcome::Cancelled,
        TargetEnd::Error(_) => RunOutcome::Error,
    }
}

/// Journal one target's end and its complete output.
pub fn finish(
    journal: &Journal,
    run: &str,
    host: &str,
    end: &TargetEnd,
    output: &str,
    started: DateTime<Utc>,
) -> std::io::Result<()> {
    let job = fleet::target_job(run, host);
    crate::store::journal::write_private(&journal.output_path(&job), output.as_bytes())?;
    let mut report = BTreeMap::new();
    crate::jobs::journaled::report_lines(output, &mut report);
    let now = crate::clock::now();
    journal.append(&Record::Finish(Finished {
        run: job,
        at: now,
        status: outcome(end),
        exit_code: end.exit_code(),
        result: crate::jobs::journaled::result_line(output),
        error: match end {
            TargetEnd::Error(e) => Some(e.clone()),
            TargetEnd::NotStarted => Some("not started".into()),
            _ => None,
        },
        duration_ms: (now - started).num_milliseconds(),
        reattached: false,
        report,
    }))
}

/// The poll between two fleet status calls (`OPSDECK_FLEET_POLL_MS`, else 3 s).
pub fn poll_interval() -> Duration {
    Duration::from_millis(
        std::env::var("OPSDECK_FLEET_POLL_MS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(3000),
    )
}
