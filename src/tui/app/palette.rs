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
            return Screen::commands()
                .map(|(n, _)| n)
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
            "ctx" | "context" => self.estate.contexts.clone(),
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
        let (base, next) = match &self.nav.palette_cycle {
            // Tab again on a completion: the next candidate (a single one
            // is complete: Tab goes on to what follows it).
            Some((base, i, shown)) if shown == typed && self.completions(base).len() > 1 => {
                (base.clone(), i + 1)
            }
            _ => (typed.to_string(), 0),
        };
        let all = self.completions(&base);
        if all.is_empty() {
            self.nav.palette_cycle = None;
            self.notify(Level::Info, format!("nothing completes {base:?}"));
            return None;
        }
        let i = next % all.len();
        let line = all[i].clone();
        self.nav.palette_cycle = Some((base, i, line.clone()));
        Some(line)
    }

    pub(super) fn run_command(&mut self, line: &str) -> Vec<Effect> {
        match line.parse::<Command>() {
            Ok(c) => self.execute(c),
            Err(e) => {
                self.notify(Level::Error, e.to_string());
                vec![]
            }
        }
    }

    /// Do what a palette command says.
    pub(super) fn execute(&mut self, c: Command) -> Vec<Effect> {
        match c {
            Command::Nothing => vec![],
            Command::Go(s) => self.goto(s),
            Command::Run { name: None, .. } => self.open_picker(),
            // `:run NAME tag:KEY=VALUE` (or instance ids): a fleet run.
            Command::Run {
                name: Some(name),
                on: Some(sel),
            } => self.run_on_tag(&name, &sel),
            Command::Run {
                name: Some(name),
                on: None,
            } => self.run_named(&name),
            Command::Drill(None) => self.show_drill(),
            Command::Drill(Some(d)) => self.drill_command(&d),
            Command::Ctx(name) => self.switch_context(name.as_deref()),
            Command::Forward(port) => self.start_forward(&port),
            Command::Login(profile) => self.login(profile),
            Command::Help => {
                self.mode = Mode::Help;
                vec![]
            }
            Command::Quit => self.request_quit(),
        }
    }

    /// `:run NAME` on the selection's target of the runbook's kind (a
    /// backup row stands for the backup, its database and its host).
    fn run_named(&mut self, name: &str) -> Vec<Effect> {
        let targets = self.selection_targets();
        let Some(first) = targets.first().cloned() else {
            self.notify(
                Level::Info,
                "select a tenant, instance, container or backup first",
            );
            return vec![];
        };
        let kind = self.library.get(name).map(|s| s.target);
        let target = targets
            .into_iter()
            .find(|t| Some(t.kind) == kind)
            .unwrap_or(first);
        self.open_form(name, target, &BTreeMap::new())
    }

    /// `:drill` alone: the drill in progress, or how to start one.
    fn show_drill(&mut self) -> Vec<Effect> {
        let Some(d) = self.estate.drill.clone() else {
            self.notify(
                Level::Info,
                format!(
                    ":drill SCENARIO ({}) or :drill verify",
                    crate::drill::Scenario::ALL.map(|s| s.name()).join(", ")
                ),
            );
            return vec![];
        };
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

    /// `:drill verify` or `:drill SCENARIO`.
    fn drill_command(&mut self, arg: &str) -> Vec<Effect> {
        match arg {
            "verify" if self.estate.drill.is_none() && self.estate.drills.loaded() => {
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
                self.runs.actions_in_flight += 1;
                vec![Effect::VerifyDrill]
            }
            name => {
                self.runs.actions_in_flight += 1;
                vec![Effect::StartDrill(name.to_string())]
            }
        }
    }

    /// `:login [PROFILE]` (the context's profile by default).
    fn login(&mut self, profile: Option<String>) -> Vec<Effect> {
        let profile = profile.or_else(|| {
            self.config
                .contexts
                .iter()
                .find(|c| c.name == self.ctx.name)
                .and_then(|c| c.profile.clone())
        });
        match profile {
            Some(profile) => {
                self.runs.actions_in_flight += 1;
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

    /// `:ctx [NAME]`: open another context, or say which are known.
    fn switch_context(&mut self, name: Option<&str>) -> Vec<Effect> {
        let arg = name.unwrap_or_default();
        if arg.is_empty() || arg == self.ctx.name {
            let others: Vec<&str> = self
                .estate
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
        } else if !self.estate.contexts.iter().any(|c| c == arg) {
            self.notify(
                Level::Error,
                format!(
                    "no context named {arg:?} (known: {})",
                    self.estate.contexts.join(", ")
                ),
            );
            vec![]
        } else {
            self.notify(Level::Info, format!("opening context {arg}…"));
            self.runs.actions_in_flight += 1;
            vec![Effect::SwitchContext(arg.to_string())]
        }
    }
}

/// A palette command, parsed once from what was typed after `:`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Nothing typed.
    Nothing,
    /// A screen by name (or an abbreviation of two letters or more).
    Go(Screen),
    /// `:run [NAME [tag:K=V]]`: the picker, a runbook's form, a fleet run.
    Run {
        name: Option<String>,
        on: Option<String>,
    },
    /// `:drill` (what is in progress), `:drill verify`, `:drill SCENARIO`.
    Drill(Option<String>),
    Ctx(Option<String>),
    /// `:forward [PORT]` (the port as typed: the app checks it).
    Forward(String),
    Login(Option<String>),
    Help,
    Quit,
}

/// A command the palette does not know, in words that say what it knows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown command :{word} (try {known}, ctx, help, quit)")]
pub struct UnknownCommand {
    pub word: String,
    known: String,
}

impl std::str::FromStr for Command {
    type Err = UnknownCommand;

    fn from_str(line: &str) -> Result<Command, UnknownCommand> {
        let line = line.trim_start_matches(':');
        let (word, arg) = line.split_once(' ').unwrap_or((line, ""));
        let arg = arg.trim();
        let some = |a: &str| Some(a.to_string()).filter(|a| !a.is_empty());
        // `:run` comes before `runs`, which `run` would abbreviate.
        Ok(match word {
            "" => Command::Nothing,
            "drill" => Command::Drill(some(arg)),
            "run" | "rb" | "runbook" => {
                let mut words = arg.split_whitespace();
                Command::Run {
                    name: words.next().map(str::to_string),
                    on: words.next().map(str::to_string),
                }
            }
            w if let Some((_, s)) =
                Screen::commands().find(|(n, _)| *n == w || (w.len() >= 2 && n.starts_with(w))) =>
            {
                Command::Go(s)
            }
            "q" | "quit" => Command::Quit,
            "help" => Command::Help,
            "forward" => Command::Forward(arg.to_string()),
            "login" => Command::Login(some(arg)),
            "ctx" | "context" => Command::Ctx(some(arg)),
            other => {
                return Err(UnknownCommand {
                    word: other.to_string(),
                    known: Screen::commands()
                        .map(|(n, _)| n)
                        .collect::<Vec<_>>()
                        .join(", "),
                });
            }
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn commands_parse_once_into_their_kind() {
        let p = |s: &str| s.parse::<Command>();
        assert_eq!(
            p(":run"),
            Ok(Command::Run {
                name: None,
                on: None
            })
        );
        assert_eq!(
            p("run deploy tag:Env=prod"),
            Ok(Command::Run {
                name: Some("deploy".into()),
                on: Some("tag:Env=prod".into())
            })
        );
        assert_eq!(p("runs"), Ok(Command::Go(Screen::Runs)));
        assert_eq!(p("ins"), Ok(Command::Go(Screen::Instances)));
        assert_eq!(p("drill"), Ok(Command::Drill(None)));
        assert_eq!(p("drill verify"), Ok(Command::Drill(Some("verify".into()))));
        assert_eq!(p("ctx  prod "), Ok(Command::Ctx(Some("prod".into()))));
        assert_eq!(p("q"), Ok(Command::Quit));
        let e = p("frobnicate").unwrap_err();
        assert_eq!(e.word, "frobnicate");
        assert!(
            e.to_string()
                .starts_with("unknown command :frobnicate (try tenants")
        );
    }
}
