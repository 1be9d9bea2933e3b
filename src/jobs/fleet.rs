//! Fleet runs: one runbook on many instances, with SSM as the engine.
//!
//! One command goes to every target (SendCommand with Targets by tag when
//! the tag selects exactly the targets, else InstanceIds in batches of 50,
//! SSM's limit), MaxConcurrency and MaxErrors enforced by SSM itself; opsdeck polls one aggregate status per command while it
//! runs and fetches every target's status and complete output at the end.
//! It never schedules targets itself (the sandbox's simulated SSM does,
//! like SSM would).
//!
//! The per-target scripts a runbook renders differ only in their parameter
//! assignments (and a comment naming the target): [`fleet_script`] turns
//! them into one script that picks its values by the instance's id
//! (`AWS_SSM_INSTANCE_ID`, which the SSM agent sets for every command). On
//! each host the job runs in the foreground under the same run-protocol
//! files as a single run (`<jobs>/<run>-<instance>.log`, `.exit`), so a
//! target's output can be tailed live and read completely past SSM's
//! 24,000-character cut, and CancelCommand ends it.

use crate::domain::Instance;
pub use crate::jobs::names::{BadLimit, Limit, target_job};
use crate::jobs::protocol::{JOBS_DIR, RunProtocol};
use crate::transport::{Fleet, FleetInvocation, FleetSend, InvocationState, Transport};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};

message_error!(
    /// Why a fleet's targets or script cannot be made.
    FleetError
);

/// Which instances a fleet run aims at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Targets {
    Ids(Vec<String>),
    Tag { key: String, value: String },
}

impl Targets {
    /// `i-1,i-2` or `tag:Key=Value`.
    pub fn parse(s: &str) -> Result<Targets, FleetError> {
        if let Some(rest) = s.strip_prefix("tag:") {
            let (k, v) = rest
                .split_once('=')
                .ok_or_else(|| format!("{s:?}: write tag:Key=Value"))?;
            if k.is_empty() {
                return Err(format!("{s:?}: the tag key is empty").into());
            }
            return Ok(Targets::Tag {
                key: k.into(),
                value: v.into(),
            });
        }
        let ids: Vec<String> = s
            .split(',')
            .map(str::trim)
            .filter(|x| !x.is_empty())
            .map(str::to_string)
            .collect();
        if ids.is_empty() || ids.iter().any(|i| !i.starts_with("i-")) {
            return Err(format!(
                "{s:?}: expected instance ids (i-…, comma separated) or tag:Key=Value"
            )
            .into());
        }
        Ok(Targets::Ids(ids))
    }

    /// The instances selected, in inventory order; unknown ids are reported.
    pub fn select<'a>(&self, inventory: &'a [Instance]) -> Result<Vec<&'a Instance>, FleetError> {
        match self {
            Targets::Ids(ids) => {
                if let Some(missing) = ids
                    .iter()
                    .find(|id| !inventory.iter().any(|i| &i.id == *id))
                {
                    return Err(format!("instance {missing} is not in this context").into());
                }
                Ok(inventory.iter().filter(|i| ids.contains(&i.id)).collect())
            }
            Targets::Tag { key, value } => Ok(inventory
                .iter()
                .filter(|i| i.tags.get(key) == Some(value))
                .collect()),
        }
    }
}

/// SSM takes at most 50 instance ids per SendCommand.
pub const BATCH: usize = 50;

/// One target of a fleet run: the instance, its name and the script a
/// single run on it would send.
#[derive(Debug, Clone)]
pub struct FleetTarget {
    pub host: String,
    pub label: String,
    pub script: String,
}

#[derive(Debug, Clone)]
pub struct FleetRequest {
    /// The fleet's run id; each target's job is `<run>-<instance>`.
    pub run: crate::jobs::names::RunId,
    pub targets: Vec<FleetTarget>,
    /// The tag that selected exactly `targets`, if one did: then one command
    /// by tag goes to all of them (within one region), not batches of 50.
    pub tag: Option<(String, String)>,
    /// SSM's MaxConcurrency.
    pub max_concurrency: Limit,
    /// SSM's MaxErrors.
    pub max_errors: Limit,
    /// How long one target may run.
    pub timeout: Duration,
    /// Between two status polls.
    pub poll: Duration,
}

/// How one target ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetEnd {
    Succeeded,
    Failed(i32),
    /// Cancelled while it ran (CancelCommand).
    Cancelled,
    /// Never started: the error budget was spent, or the run was cancelled first.
    NotStarted,
    /// Timed out, not delivered, or an answer opsdeck could not read.
    Error(String),
}

impl TargetEnd {
    pub fn word(&self) -> &'static str {
        match self {
            TargetEnd::Succeeded => "succeeded",
            TargetEnd::Failed(_) => "failed",
            TargetEnd::Cancelled => "cancelled",
            TargetEnd::NotStarted => "not started",
            TargetEnd::Error(_) => "error",
        }
    }
    pub fn is_error(&self) -> bool {
        matches!(self, TargetEnd::Failed(_) | TargetEnd::Error(_))
    }
    pub fn exit_code(&self) -> Option<i32> {
        match self {
            TargetEnd::Succeeded => Some(0),
            TargetEnd::Failed(c) => Some(*c),
            TargetEnd::Cancelled => Some(143),
            _ => None,
        }
    }
}

/// Counts across the fleet, as SSM reports them while it runs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FleetCounts {
    pub targets: usize,
    pub completed: usize,
    pub errors: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FleetEvent {
    /// A command went out for these hosts.
    Sent {
        command: String,
        hosts: Vec<String>,
    },
    Progress(FleetCounts),
    /// A target's end and its complete output.
    Ended {
        host: String,
        end: TargetEnd,
        output: String,
    },
}

#[derive(Debug, Clone, Default)]
pub struct FleetReport {
    pub ends: BTreeMap<String, TargetEnd>,
    pub outputs: BTreeMap<String, String>,
    pub commands: Vec<String>,
}

fn is_assignment(line: &str) -> Option<&str> {
    let (name, _) = line.split_once('=')?;
    let ok = !name.is_empty()
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with(|c: char| c.is_ascii_digit());
    ok.then_some(name)
}

/// One script for every target: where the targets' scripts differ, in
/// assignments, a `case` on the instance id sets each target's values;
/// differing comments are dropped. Anything else differing is refused.
pub fn neutral_script(targets: &[FleetTarget]) -> Result<String, FleetError> {
    let first = targets.first().ok_or("no target")?;
    let lines: Vec<Vec<&str>> = targets.iter().map(|t| t.script.lines().collect()).collect();
    let n = lines[0].len();
    if lines.iter().any(|l| l.len() != n) {
        return Err("the targets' scripts differ beyond their parameters".into());
    }
    let mut out = String::with_capacity(first.script.len() + targets.len() * 64);
    let mut table: Vec<usize> = Vec::new();
    let mut table_at = None;
    for i in 0..n {
        let l0 = lines[0][i];
        if lines.iter().all(|l| l[i] == l0) {
            out.push_str(l0);
            out.push('\n');
            continue;
        }
        if lines.iter().all(|l| l[i].starts_with('#')) {
            out.push_str("# (differs per target)\n");
            continue;
        }
        let name = is_assignment(l0);
        if name.is_some() && lines.iter().all(|l| is_assignment(l[i]) == name) {
            if table_at.is_none() {
                table_at = Some(out.len());
            }
            table.push(i);
            continue;
        }
        return Err(format!(
            "the targets' scripts differ beyond their parameters (line {})",
            i + 1
        )
        .into());
    }
    if let Some(at) = table_at {
        let mut case = String::from("case \"${AWS_SSM_INSTANCE_ID:-}\" in\n");
        for (t, l) in targets.iter().zip(&lines) {
            let host = shlex::try_quote(&t.host).map_err(|e| e.to_string())?;
            case.push_str(&format!("{host})\n"));
            for &i in &table {
                case.push_str(l[i]);
                case.push('\n');
            }
            case.push_str(";;\n");
        }
        case.push_str(
            "*) echo \"opsdeck: this fleet run has no values for instance ${AWS_SSM_INSTANCE_ID:-(unknown)}\" >&2; exit 3 ;;\nesac\n",
        );
        out.insert_str(at, &case);
    }
    Ok(out)
}

/// The command every target runs: the job in the foreground under the run
/// protocol's files (its id from the instance's), then a header with the
/// log's size and exit code, then the log.
pub fn fleet_script(run: &str, script: &str) -> String {
    let wrapped = crate::jobs::protocol::base64_lines(script);
    format!(
        r#"set -eu
d="{JOBS_DIR}"
me="${{AWS_SSM_INSTANCE_ID:-}}"
case "$me" in i-[0-9a-f]*) ;; *) echo "opsdeck: no instance id (AWS_SSM_INSTANCE_ID)" >&2; exit 3 ;; esac
id="{run}-$me"
mkdir -p "$d"
if [ -e "$d/$id.sh" ]; then echo "opsdeck: job $id already exists" >&2; exit 3; fi
base64 -d > "$d/$id.sh.tmp" <<'OPSDECK_SCRIPT'
{wrapped}
OPSDECK_SCRIPT
mv "$d/$id.sh.tmp" "$d/$id.sh"
: > "$d/$id.log"
echo $$ > "$d/$id.pid"
set +e
bash "$d/$id.sh" > "$d/$id.log" 2>&1 < /dev/null
rc=$?
echo "$rc" > "$d/$id.exit.tmp"; mv "$d/$id.exit.tmp" "$d/$id.exit"
printf 'OPSDECK-FLEET %s %s\n' "$(stat -c %s "$d/$id.log")" "$rc"
cat "$d/$id.log"
exit "$rc"
"#
    )
}

/// The output and size a target's answer carries: (log size, exit code, log text).
fn parse_answer(text: &str) -> Option<(u64, i32, &str)> {
    let (head, rest) = text.split_once('\n').unwrap_or((text, ""));
    let mut w = head.strip_prefix("OPSDECK-FLEET ")?.split_whitespace();
    let size = w.next()?.parse().ok()?;
    let rc = w.next()?.parse().ok()?;
    Some((size, rc, rest))
}

/// The complete log of a target: what SSM returned, and the rest read from
/// the host with the run protocol when SSM cut it.
async fn complete_output(
    fleet: &dyn Fleet,
    protocol: &RunProtocol,
    command: &str,
    run: &str,
    inv: &FleetInvocation,
) -> String {
    let mut text = inv.output.clone();
    if let Some((size, _, log)) = parse_answer(&text)
        && log.len() as u64 >= size
    {
        return log.to_string();
    }
    if let Ok(full) = fleet.invocation(command, &inv.host).await {
        text = full.output;
    }
    let Some((size, _, log)) = parse_answer(&text) else {
        return text;
    };
    let mut bytes = log.as_bytes().to_vec();
    // SSM cuts by characters; go back to a line end and read on from there.
    if let Some(p) = bytes.iter().rposition(|b| *b == b'\n') {
        bytes.truncate(p + 1);
    } else {
        bytes.clear();
    }
    let job = target_job(run, &inv.host);
    let mut guard = 0;
    while (bytes.len() as u64) < size && guard < 10_000 {
        guard += 1;
        match protocol.tail(&inv.host, &job, bytes.len() as u64).await {
            Ok(c) if !c.data.is_empty() => bytes.extend_from_slice(&c.data),
            _ => break,
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

fn end_of(inv: &FleetInvocation) -> TargetEnd {
    match &inv.state {
        InvocationState::Success => TargetEnd::Succeeded,
        InvocationState::Failed(code) => TargetEnd::Failed(*code),
        InvocationState::Cancelled { started: true } => TargetEnd::Cancelled,
        InvocationState::Cancelled { started: false } => TargetEnd::NotStarted,
        InvocationState::Error(why) => TargetEnd::Error(why.clone()),
        InvocationState::Running => TargetEnd::Error("still running at the end".into()),
    }
}

/// Run the fleet: batches of [`BATCH`] targets, one command each, one after
/// the other, the error budget carried over (a batch gets what is left; none
/// is sent once it is spent). `cancel` sends CancelCommand.
pub async fn run(
    transport: Arc<dyn Transport>,
    req: FleetRequest,
    events: mpsc::UnboundedSender<FleetEvent>,
    mut cancel: watch::Receiver<bool>,
) -> Result<FleetReport, FleetError> {
    let fleet = transport
        .fleet()
        .ok_or_else(|| format!("the {} transport cannot run fleets", transport.name()))?;
    let protocol = RunProtocol::new(transport.clone());
    let script = fleet_script(&req.run, &neutral_script(&req.targets).map_err(|e| e.0)?);
    let total = req.targets.len();
    let budget = req.max_errors.of(total);
    let mut report = FleetReport::default();
    let mut errors = 0usize;
    let mut cancelled = false;
    let mut counts = FleetCounts {
        targets: total,
        ..Default::default()
    };
    // One command per region (SSM's commands are regional), 50 at most.
    let mut parts: Vec<(String, Vec<FleetTarget>)> = Vec::new();
    for t in &req.targets {
        let p = fleet.partition(&t.host);
        match parts.iter_mut().find(|(k, _)| *k == p) {
            Some((_, v)) => v.push(t.clone()),
            None => parts.push((p, vec![t.clone()])),
        }
    }
    let by_tag = req.tag.clone().filter(|_| parts.len() == 1);
    let batches: Vec<&[FleetTarget]> = if by_tag.is_some() {
        vec![&req.targets[..]]
    } else {
        parts.iter().flat_map(|(_, v)| v.chunks(BATCH)).collect()
    };
    for batch in batches {
        let hosts: Vec<String> = batch.iter().map(|t| t.host.clone()).collect();
        if cancelled || errors > budget {
            for h in hosts {
                report.ends.insert(h, TargetEnd::NotStarted);
            }
            continue;
        }
        let command = fleet
            .send(&FleetSend {
                run: req.run.clone(),
                hosts: hosts.clone(),
                tag: by_tag.clone(),
                script: script.clone(),
                max_concurrency: req.max_concurrency,
                max_errors: Limit::Count(budget - errors),
                timeout: req.timeout,
                comment: format!("opsdeck {}", req.run),
            })
            .await
            .map_err(|e| e.to_string())?;
        report.commands.push(command.clone());
        let _ = events.send(FleetEvent::Sent {
            command: command.clone(),
            hosts: hosts.clone(),
        });
        let done_before = counts.completed;
        let errors_before = counts.errors;
        loop {
            let p = fleet.progress(&command).await.map_err(|e| e.to_string())?;
            counts.completed = done_before + p.completed;
            counts.errors = errors_before + p.errors;
            let _ = events.send(FleetEvent::Progress(counts));
            if p.finished {
                break;
            }
            tokio::select! {
                _ = tokio::time::sleep(req.poll) => {}
                changed = cancel.changed(), if !cancelled => {
                    if changed.is_ok() && *cancel.borrow() {
                        cancelled = true;
                        fleet.cancel(&command).await.map_err(|e| e.to_string())?;
                    }
                }
            }
        }
        for inv in fleet
            .invocations(&command)
            .await
            .map_err(|e| e.to_string())?
        {
            let end = end_of(&inv);
            if end.is_error() {
                errors += 1;
            }
            let output = if matches!(end, TargetEnd::NotStarted) {
                String::new()
            } else {
                complete_output(fleet, &protocol, &command, &req.run, &inv).await
            };
            let _ = events.send(FleetEvent::Ended {
                host: inv.host.clone(),
                end: end.clone(),
                output: output.clone(),
            });
            report.outputs.insert(inv.host.clone(), output);
            report.ends.insert(inv.host, end);
        }
    }
    Ok(report)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn t(host: &str, script: &str) -> FleetTarget {
        FleetTarget {
            host: host.into(),
            label: host.into(),
            script: script.into(),
        }
    }

    #[test]
    fn scripts_differing_in_values_become_one_with_a_case() {
        let s = neutral_script(&[
            t(
                "i-1",
                "# on a\nset -e\ninstance=a\nbroker=x\necho $instance",
            ),
            t(
                "i-2",
                "# on b\nset -e\ninstance=b\nbroker=x\necho $instance",
            ),
        ])
        .unwrap();
        assert_eq!(
            s,
            "# (differs per target)\nset -e\ncase \"${AWS_SSM_INSTANCE_ID:-}\" in\ni-1)\ninstance=a\n;;\ni-2)\ninstance=b\n;;\n*) echo \"opsdeck: this fleet run has no values for instance ${AWS_SSM_INSTANCE_ID:-(unknown)}\" >&2; exit 3 ;;\nesac\nbroker=x\necho $instance\n"
        );
        // Anything else differing is refused.
        assert!(neutral_script(&[t("i-1", "echo a"), t("i-2", "echo b")]).is_err());
        assert!(neutral_script(&[t("i-1", "a=1"), t("i-2", "b=1")]).is_err());
        assert!(neutral_script(&[t("i-1", "a=1\nx"), t("i-2", "a=1")]).is_err());
    }

    #[test]
    fn limits_and_answers() {
        let of = |s: &str, n| s.parse::<Limit>().map(|l| l.of(n));
        assert_eq!(of("10%", 500).unwrap(), 50);
        assert_eq!(of("1%", 50).unwrap(), 1);
        assert_eq!(of("3", 50).unwrap(), 3);
        assert!(of("x", 5).is_err());
        assert!(of("120%", 5).is_err());
        assert_eq!("10%".parse::<Limit>().unwrap().to_string(), "10%");
        assert_eq!(
            parse_answer("OPSDECK-FLEET 6 0\nhello\n"),
            Some((6, 0, "hello\n"))
        );
        assert_eq!(parse_answer("hello"), None);
    }

    #[test]
    fn targets_parse_ids_and_tags() {
        assert_eq!(
            Targets::parse("i-1,i-2").unwrap(),
            Targets::Ids(vec!["i-1".into(), "i-2".into()])
        );
        assert_eq!(
            Targets::parse("tag:Env=prod").unwrap(),
            Targets::Tag {
                key: "Env".into(),
                value: "prod".into()
            }
        );
        assert!(Targets::parse("tag:=x").is_err());
        assert!(Targets::parse("web-1").is_err());
        assert!(Targets::parse("").is_err());
    }
}
