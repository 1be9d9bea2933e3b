//! What a `choice` parameter can offer from the live inventory: tenants,
//! apps, environments, databases, containers and backups of the target's
//! host, and the revisions its deploys recorded — each revision described
//! by its short SHA, commit subject and when it went live.

use super::Target;
use super::spec::Source;
use std::collections::BTreeMap;

/// Live inventory a `choice` parameter can draw from.
#[derive(Debug, Clone, Default)]
pub struct Choices {
    values: BTreeMap<Source, Vec<String>>,
    /// What a value is, in words (a revision's subject and deploy time).
    labels: BTreeMap<String, String>,
}

impl Choices {
    pub fn set(&mut self, src: Source, mut values: Vec<String>) {
        values.dedup();
        self.values.insert(src, values);
    }
    pub fn get(&self, src: Source) -> Option<&Vec<String>> {
        self.values.get(&src)
    }
    pub fn describe(&mut self, value: &str, label: String) {
        self.labels.insert(value.to_string(), label);
    }
    /// What `value` is, when the inventory knows more than the value.
    pub fn label(&self, value: &str) -> Option<&str> {
        self.labels.get(value).map(String::as_str)
    }
}

/// What `choice` parameters can offer for `target`: tenants, apps, envs and
/// databases of the estate; containers and backups on the target's host;
/// the revisions the host's deploy records name for the target's project.
pub fn choices(
    target: &Target,
    tenants: &[crate::domain::Tenant],
    containers: &[crate::domain::Container],
    backups: &[crate::domain::Backup],
    deploys: Option<&BTreeMap<String, Vec<crate::domain::DeployRecord>>>,
    commits: Option<&BTreeMap<String, String>>,
) -> Choices {
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v.dedup();
        v
    };
    let mut c = Choices::default();
    c.set(
        Source::Tenants,
        sorted(tenants.iter().map(|t| t.project()).collect()),
    );
    c.set(
        Source::Apps,
        sorted(tenants.iter().map(|t| t.app.clone()).collect()),
    );
    c.set(
        Source::Envs,
        sorted(tenants.iter().map(|t| t.env.clone()).collect()),
    );
    c.set(
        Source::Databases,
        sorted(
            tenants
                .iter()
                .filter_map(|t| t.database.clone())
                .chain(
                    backups
                        .iter()
                        .filter(|b| b.unrecognised.is_none())
                        .map(|b| b.database.clone()),
                )
                .collect(),
        ),
    );
    c.set(
        Source::Containers,
        containers
            .iter()
            .filter(|x| x.host == target.host)
            .map(|x| x.name.clone())
            .collect(),
    );
    c.set(
        Source::Backups,
        backups
            .iter()
            .filter(|b| b.origin == target.host)
            .map(|b| b.path.clone())
            .collect(),
    );
    let project = target
        .vars
        .iter()
        .find(|(k, _)| k == "project")
        .map(|(_, v)| v.as_str())
        .unwrap_or_default();
    let mut refs: Vec<String> = Vec::new();
    let records = deploys.and_then(|d| d.get(project));
    let what = |sha: &str| {
        let short = &sha[..sha.len().min(12)];
        match commits.and_then(|m| m.get(sha)) {
            Some(subject) => format!("{short}  {subject}"),
            None => short.to_string(),
        }
    };
    for (n, r) in records.into_iter().flatten().rev().enumerate() {
        let when = r.at.format("%Y-%m-%d %H:%M");
        for (sha, label) in [
            (
                &r.current,
                if n == 0 {
                    format!("{}  · live since {when}", what(&r.current))
                } else {
                    format!("{}  · deployed {when}", what(&r.current))
                },
            ),
            (
                &r.previous,
                format!("{}  · running until {when}", what(&r.previous)),
            ),
        ] {
            if !refs.contains(sha) {
                refs.push(sha.clone());
                c.describe(sha, label);
            }
        }
    }
    if let Some(last) = records.and_then(|r| r.last()) {
        c.describe(
            "previous",
            format!(
                "previous: {}  · before the last deploy",
                what(&last.previous)
            ),
        );
    }
    c.set(Source::GitRefs, refs);
    c
}
