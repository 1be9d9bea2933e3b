//! A runbook with cloud steps, rendered as a procedure: its steps in
//! order, each either a cloud call opsdeck makes or a part of the script
//! run on an instance (the target's host, or one an earlier cloud step
//! launched). Its text — every call with its arguments and every script
//! part — is what the preview shows, the digest covers and the journal
//! keeps.

use super::cloud::{Action, ArgType, fill, references};
use super::spec::{Block, Spec};
use super::{ParamError, Target, quote, script_for};
use std::collections::BTreeMap;

/// The comment of a script part naming the values earlier cloud steps
/// give it; opsdeck sets them (shell-quoted) at the script's top, after
/// its two header lines, when the part starts: never inside the text, where
/// a parameter's value could hold a line that looks like this one.
pub const RUNTIME_MARK: &str =
    "# run-time values, set by opsdeck at the top when this part starts:";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Procedure {
    pub parts: Vec<Part>,
    /// The target's variables and the parameters (what templates fill from).
    pub values: BTreeMap<String, String>,
    /// The number of steps.
    pub total: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    Cloud {
        number: usize,
        name: String,
        action: Action,
        /// Each argument's template filled as far as render knows.
        args: BTreeMap<String, String>,
    },
    Script {
        /// Its steps' numbers and names.
        steps: Vec<(usize, String)>,
        /// The values opsdeck sets when it starts (earlier steps' outputs).
        later: Vec<String>,
        /// The output naming the instance it runs on; `None`: the target's host.
        on: Option<String>,
        script: String,
    },
}

/// Split `spec`'s steps into parts (consecutive script steps on the same
/// instance make one part) and check every argument known now.
pub(super) fn procedure_for(
    spec: &Spec,
    target: &Target,
    resolved: &[(String, String)],
) -> Result<Procedure, ParamError> {
    let mut values: BTreeMap<String, String> = target.vars.iter().cloned().collect();
    values.extend(resolved.iter().cloned());
    let mut parts = Vec::new();
    let mut outputs: Vec<String> = Vec::new();
    let mut pending: Vec<(usize, &Block)> = Vec::new();
    let mut pending_on: Option<String> = None;
    let flush = |pending: &mut Vec<(usize, &Block)>,
                 on: &Option<String>,
                 outputs: &[String],
                 parts: &mut Vec<Part>|
     -> Result<(), ParamError> {
        if pending.is_empty() {
            return Ok(());
        }
        let mut later: Vec<String> = super::cloud::RUNTIME
            .iter()
            .map(|s| s.to_string())
            .collect();
        later.extend(outputs.iter().cloned());
        let script = script_for(spec, target, resolved, pending, false, &later)?;
        parts.push(Part::Script {
            steps: pending.iter().map(|(n, b)| (*n, b.name.clone())).collect(),
            later,
            on: on.clone(),
            script,
        });
        pending.clear();
        Ok(())
    };
    for (i, b) in spec.steps.iter().enumerate() {
        let n = i + 1;
        match b.action() {
            None => {
                let on = b.on.as_ref().map(|o| o.get_ref().clone());
                if on != pending_on {
                    flush(&mut pending, &pending_on, &outputs, &mut parts)?;
                    pending_on = on;
                }
                pending.push((n, b));
            }
            Some(action) => {
                flush(&mut pending, &pending_on, &outputs, &mut parts)?;
                let mut args = BTreeMap::new();
                for (arg, ty) in action.args() {
                    let template = b.with.get(*arg).cloned().unwrap_or_default();
                    let v = fill(&template, &values);
                    if references(&v).is_empty() {
                        check_arg(&b.name, arg, *ty, &v)?;
                    }
                    args.insert(arg.to_string(), v);
                }
                outputs.extend(action.outputs().iter().map(|(o, _)| o.to_string()));
                parts.push(Part::Cloud {
                    number: n,
                    name: b.name.clone(),
                    action,
                    args,
                });
            }
        }
    }
    flush(&mut pending, &pending_on, &outputs, &mut parts)?;
    Ok(Procedure {
        parts,
        values,
        total: spec.steps.len(),
    })
}

/// `v` checked as argument `arg` of step `step`.
pub fn check_arg(step: &str, arg: &str, ty: ArgType, v: &str) -> Result<(), ParamError> {
    ty.check(v).map_err(|why| ParamError::Invalid {
        name: format!("{arg} (step `{step}`)"),
        why: why.to_string(),
    })
}

impl Procedure {
    /// Whether a script part runs on the target's host.
    pub fn runs_on_target(&self) -> bool {
        self.parts
            .iter()
            .any(|p| matches!(p, Part::Script { on: None, .. }))
    }

    /// The procedure as text: each cloud call with its arguments, each
    /// script part with the instance it runs on.
    pub fn text(&self, spec: &Spec, target: &Target) -> String {
        let mut s = format!(
            "# opsdeck runbook `{}` ({}) on {} · danger: {}\n# a procedure: opsdeck makes the cloud calls itself and sends each script part to its instance, in this order; a failed step stops it there\n",
            spec.name(),
            spec.source,
            target.label.replace('\n', " "),
            spec.danger.label()
        );
        for p in &self.parts {
            match p {
                Part::Cloud {
                    number,
                    name,
                    action,
                    args,
                } => {
                    // One call a line.
                    let call = action.call(args).replace("; ", "\n#       then ");
                    s.push_str(&format!(
                        "\n# ==== [{number}/{}] cloud `{}`: {name}\n# call: {call}\n# gives: {}\n",
                        self.total,
                        action.name(),
                        action
                            .outputs()
                            .iter()
                            .map(|(o, _)| *o)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ));
                }
                Part::Script {
                    steps, on, script, ..
                } => {
                    let nums: Vec<String> = steps.iter().map(|(n, _)| n.to_string()).collect();
                    s.push_str(&format!(
                        "\n# ==== [{}/{}] script on {}\n{script}",
                        nums.join(","),
                        self.total,
                        match on {
                            Some(o) =>
                                format!("the instance `{o}` names (given by an earlier step)"),
                            None => format!("{} (the target's host)", target.host),
                        }
                    ));
                }
            }
        }
        s
    }
}

/// `script` with the run-time values `later` set at its top (after the
/// `#!` and header lines), each shell-quoted.
pub fn with_runtime(
    script: &str,
    later: &[String],
    values: &BTreeMap<String, String>,
) -> Result<String, ParamError> {
    let mut block =
        String::from("# run-time values, set by opsdeck:\nOPSDECK_RESULT_PREFIX=part\n");
    for n in later {
        let v = values.get(n).map(String::as_str).unwrap_or("");
        block.push_str(&format!("{n}={}\n", quote(n, v)?));
    }
    // After the first two lines: `#!…` and the header comment.
    let at = script
        .match_indices('\n')
        .nth(1)
        .map(|(i, _)| i + 1)
        .unwrap_or(script.len());
    Ok(format!("{}{block}{}", &script[..at], &script[at..]))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn run_time_values_go_at_the_top_never_into_a_value() {
        // A parameter whose text holds a line like the mark stays as it was.
        let script = format!(
            "#!/usr/bin/env bash\n# opsdeck runbook `x`\nnote='a\n{RUNTIME_MARK} image\nb'\n{RUNTIME_MARK} image\necho \"$image\"\n"
        );
        let values = BTreeMap::from([("image".to_string(), "it's".to_string())]);
        let out = with_runtime(&script, &["image".to_string()], &values).unwrap();
        assert!(out.starts_with(
            "#!/usr/bin/env bash\n# opsdeck runbook `x`\n# run-time values, set by opsdeck:\nOPSDECK_RESULT_PREFIX=part\nimage=\"it's\"\n"
        ), "{out}");
        assert!(
            out.contains(&format!("note='a\n{RUNTIME_MARK} image\nb'\n")),
            "{out}"
        );
    }
}
