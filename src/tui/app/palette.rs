//! The `:` palette: screens by name, `:run`, `:drill`, `:ctx`, `:quit`.

use super::*;

impl App {
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
            let name = arg.trim();
            if name.is_empty() {
                return self.open_picker();
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
