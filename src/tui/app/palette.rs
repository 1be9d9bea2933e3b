//! The `:` palette: screens by name, `:run`, `:drill`, `:ctx`, `:quit`.
//! [`COMMANDS`] is the one table that help and Tab completion read.

use super::*;

/// The palette's commands beyond the screens: name, argument, what it does.
pub const COMMANDS: [(&str, &str, &str); 7] = [
    (
        "run",
        "NAME [tag:K=V]",
        "a runbook on the selected row, or on each instance with the tag",
    ),
    (
        "drill",
        "SCENARIO|verify",
        "start a drill on the sandbox, or verify the recovery",
    ),
    ("ctx", "NAME", "open another context"),
    (
        "forward",
        "[PORT]",
        "a local port to the selected row's database, until ended on Runs",
    ),
    (
        "login",
        "[PROFILE]",
        "aws sso login (the context's profile), then reopen the context",
    ),
    ("help", "", "this help"),
    ("quit", "", "quit (asks while runs are going)"),
];

impl App {
    /// What Tab can make of `typed`: command names, then after `run `,
    /// `drill ` or `ctx ` the runbooks for the selection, the scenarios,
    /// the contexts — whole command lines, in order.
    pub fn completions(&self, typed: &str) -> Vec<String> {
        let typed = typed.trim_start_matches(':');
        let Some((word, arg)) = typed.split_once(' ') else {
            return Screen::COMMANDS
                .iter()
                .map(|(n, _)| *n)
                .chain(COMMANDS.iter().map(|(n, _, _)| *n))
                .filter(|n| n.starts_with(typed))
                .map(|n| {
                    // A command that takes an argument gets its space.
                    if COMMANDS.iter().any(|(c, a, _)| *c == n && !a.is_empty()) {
                        format!("{n} ")
                    } else {
                        n.to_string()
                    }
                })
                .collect();
        };
        let arg = arg.trim_start();
        let candidates: Vec<String> = match word {
            "run" | "rb" | "runbook" => {
                let kinds: Vec<_> = self.selection_targets().iter().map(|t| t.kind).collect();
                let mut names: Vec<String> = self
                    .library
                    .all()
                    .filter(|s| kinds.is_empty() || kinds.contains(&s.target))
                    .map(|s| s.name().to_string())
                    .collect();
                names.sort();
                names.dedup();
                names
            }
            "drill" => crate::drill::Scenario::ALL
                .iter()
                .map(|s| s.name().to_string())
                .chain(["verify".to_string()])
                .collect(),
            "ctx" | "context" => self.contexts.clone(),
            _ => vec![],
        };
        candidates
            .into_iter()
            .filter(|c| c.starts_with(arg))
            .map(|c| format!("{word} {c}"))
            .collect()
    }

    /// Tab in the palette: complete, and on the next Tab the next candidate.
    pub(super) fn complete(&mut self, typed: &str) -> Option<String> {
        let (base, next) = match &self.palette_cycle {
            // Tab again on a completion: the next candidate (a single one
            // is complete: Tab goes on to what follows it).
            Some((base, i, shown)) if shown == typed && self.completions(base).len() > 1 => {
                (base.clone(), i + 1)
            }
            _ => (typed.to_string(), 0),
        };
        let all = self.completions(&base);
        if all.is_empty() {
            self.palette_cycle = None;
            self.notify(Level::Info, format!("nothing completes {base:?}"));
            return None;
        }
        let i = next % all.len();
        let line = all[i].clone();
        self.palette_cycle = Some((base, i, line.clone()));
        Some(line)
    }

    pub(super) fn run_command(&mut self, cmd: &str) -> Vec<Effect> {
        let cmd = cmd.trim_start_matches(':');
        let (word, arg) = cmd.split_once(' ').unwrap_or((cmd, ""));
        if word == "drill" {
            let arg = arg.trim();
            return match arg {
                "" if let Some(d) = self.drill.clone() => {
                    let secs = (self.now - d.started_at).num_seconds().max(0);
                    let mut fields = vec![
                        ("scenario".to_string(), d.scenario.clone()),
                        (
                            "running".to_string(),
                            format!("{}:{:02}", secs / 60, secs % 60),
                        ),
                        (String::new(), String::new()),
                    ];
                    // The alarm, wrapped for the popup.
                    let mut line = String::new();
                    for w in d.alarm.split_whitespace() {
                        if line.len() + w.len() > 80 {
                            let key = if fields.iter().any(|(k, _)| k == "alarm") {
                                ""
                            } else {
                                "alarm"
                            };
                            fields.push((key.into(), std::mem::take(&mut line)));
                        }
                        if !line.is_empty() {
                            line.push(' ');
                        }
                        line.push_str(w);
                    }
                    let key = if fields.iter().any(|(k, _)| k == "alarm") {
                        ""
                    } else {
                        "alarm"
                    };
                    fields.push((key.into(), line));
                    fields.push((String::new(), String::new()));
                    fields.push(("then".into(), ":drill verify when it is recovered".into()));
                    self.mode = Mode::Detail {
                        title: format!("drill {}", d.id),
                        fields,
                    };
                    vec![]
                }
                "" => {
                    self.notify(
                        Level::Info,
                        format!(
                            ":drill SCENARIO ({}) or :drill verify",
                            crate::drill::Scenario::ALL.map(|s| s.name()).join(", ")
                        ),
                    );
                    vec![]
                }
                "verify" if self.drill.is_none() && self.drills.loaded => {
                    self.notify(
                        Level::Info,
                        format!(
                            "no drill in progress: :drill SCENARIO starts one ({})",
                            crate::drill::Scenario::ALL.map(|s| s.name()).join(", ")
                        ),
                    );
                    vec![]
                }
                "verify" => {
                    self.actions_in_flight += 1;
                    vec![Effect::VerifyDrill]
                }
                name => {
                    self.actions_in_flight += 1;
                    vec![Effect::StartDrill(name.to_string())]
                }
            };
        }
        // `:run NAME` (before `runs`, which `run` would abbreviate).
        if matches!(word, "run" | "rb" | "runbook") {
            let mut words = arg.split_whitespace();
            let name = words.next().unwrap_or_default();
            if name.is_empty() {
                return self.open_picker();
            }
            // `:run NAME tag:KEY=VALUE` (or instance ids): a fleet run.
            if let Some(sel) = words.next() {
                return self.run_on_tag(name, sel);
            }
            let targets = self.selection_targets();
            let Some(first) = targets.first().cloned() else {
                self.notify(
                    Level::Info,
                    "select a tenant, instance, container or backup first",
                );
                return vec![];
            };
            // The selection's target of the runbook's kind (a backup row
            // stands for the backup, its database and its host).
            let kind = self.library.get(name).map(|s| s.target);
            let target = targets
                .into_iter()
                .find(|t| Some(t.kind) == kind)
                .unwrap_or(first);
            return self.open_form(name, target, &BTreeMap::new());
        }
        if let Some((_, s)) = Screen::COMMANDS
            .iter()
            .find(|(n, _)| *n == word || (word.len() >= 2 && n.starts_with(word)))
        {
            return self.goto(*s);
        }
        match word {
            "" => vec![],

            "q" | "quit" => self.request_quit(),
            "help" => {
                self.mode = Mode::Help;
                vec![]
            }
            "forward" => self.start_forward(arg.trim()),
            "login" => {
                let profile = Some(arg.trim().to_string())
                    .filter(|p| !p.is_empty())
                    .or_else(|| {
                        self.config
                            .contexts
                            .iter()
                            .find(|c| c.name == self.ctx.name)
                            .and_then(|c| c.profile.clone())
                    });
                match profile {
                    Some(profile) => {
                        self.actions_in_flight += 1;
                        vec![Effect::Login { profile }]
                    }
                    None if self.ctx.simulated => {
                        self.notify(
                            Level::Info,
                            "the sandbox needs no login (:login PROFILE signs in to another)",
                        );
                        vec![]
                    }
                    None => {
                        self.notify(Level::Info, "this context names no profile: :login PROFILE");
                        vec![]
                    }
                }
            }
            "ctx" | "context" => {
                let arg = arg.trim();
                if arg.is_empty() || arg == self.ctx.name {
                    let others: Vec<&str> = self
                        .contexts
                        .iter()
                        .map(String::as_str)
                        .filter(|c| *c != self.ctx.name)
                        .collect();
                    self.notify(
                        Level::Info,
                        format!(
                            "context: {} (others: {})",
                            self.ctx.name,
                            if others.is_empty() {
                                "none".into()
                            } else {
                                others.join(", ")
                            }
                        ),
                    );
                    vec![]
                } else if !self.contexts.iter().any(|c| c == arg) {
                    self.notify(
                        Level::Error,
                        format!(
                            "no context named {arg:?} (known: {})",
                            self.contexts.join(", ")
                        ),
                    );
                    vec![]
                } else {
                    self.notify(Level::Info, format!("opening context {arg}…"));
                    self.actions_in_flight += 1;
                    vec![Effect::SwitchContext(arg.to_string())]
                }
            }
            other => {
                let known: Vec<&str> = Screen::COMMANDS.iter().map(|(n, _)| *n).collect();
                self.notify(
                    Level::Error,
                    format!(
                        "unknown command :{other} (try {}, ctx, help, quit)",
                        known.join(", ")
                    ),
                );
                vec![]
            }
        }
    }
}
