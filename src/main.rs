use anyhow::Context as _;
use clap::{Parser, Subcommand};
use opsdeck::cli;
use opsdeck::config::{Dirs, STARTER_CONFIG};
use opsdeck::provider::sandbox::Sandbox;
use opsdeck::session::{self, Options};
use opsdeck::tui::app::{App, keymap::Keymap};
use opsdeck::tui::effects::EffectsRunner;
use opsdeck::tui::ui::theme::Theme;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// opsdeck — a terminal ops console for small AWS estates: instances,
/// tenants, containers, buckets and backups; runbooks with streamed output.
/// With no config it opens on the embedded sandbox estate.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Cli {
    /// Config file (default: $XDG_CONFIG_HOME/opsdeck/config.toml, else the sandbox).
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    /// Context to open (a [[context]] name from the config).
    #[arg(long, global = true)]
    context: Option<String>,
    /// Theme: dark, light, or a path to a theme .toml file.
    #[arg(long)]
    theme: Option<String>,
    /// Refuse every change (deploy, restart…), whatever the config says.
    #[arg(long, global = true)]
    read_only: bool,
    /// Where the sandbox estate lives (default: $XDG_DATA_HOME/opsdeck/sandbox).
    #[arg(long, global = true)]
    sandbox_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Write a commented starter config to the config dir.
    Init {
        /// Overwrite an existing config.
        #[arg(long)]
        force: bool,
    },
    /// Manage the embedded sandbox estate.
    Sandbox {
        #[command(subcommand)]
        action: SandboxAction,
    },
    /// List the estate without the console: KIND [BUCKET [PREFIX]] for objects.
    Ls {
        /// What to list.
        kind: cli::ls::Kind,
        /// For objects: BUCKET [PREFIX].
        target: Vec<String>,
        /// JSON instead of a table.
        #[arg(long)]
        json: bool,
        /// Instances and objects: one JSON object per line, printed as each
        /// page arrives (unsorted; an instance's SSM status may say Unknown).
        #[arg(long, conflicts_with = "json")]
        stream: bool,
    },
    /// Run a runbook: RUNBOOK TARGET-KIND=NAME [PARAM=VALUE…]. Same guards as
    /// the console; output streams to stdout. Exit: 0 succeeded, 1 failed,
    /// 2 usage, 3 refused (nothing run: a guard, or a lock another run
    /// holds), 4 cancelled, 5 lost, 6 failed with the data kept (a restore
    /// that kept what it restored).
    Run {
        /// The runbook's name (`opsdeck runbook list`).
        runbook: String,
        /// tenant=APP-ENV | instance=ID|NAME | container=NAME[@ID] | backup=FILE, then PARAM=VALUE…
        assignments: Vec<String>,
        /// Print the preview (targets, guards, the exact script) and send nothing.
        #[arg(long)]
        dry_run: bool,
        /// Consent to a change or destructive runbook without the console.
        #[arg(long)]
        yes: bool,
        /// The name the console would ask you to type (production, destructive).
        #[arg(long, value_name = "NAME")]
        confirm: Option<String>,
        /// Output to stderr, a JSON summary on stdout.
        #[arg(long)]
        json: bool,
        /// Fleet runs (tag=KEY=VALUE): at most this many targets at once,
        /// N or N% (SSM's MaxConcurrency).
        #[arg(long, value_name = "N|N%", default_value = "50")]
        max_concurrency: cli::fleet::Limit,
        /// Fleet runs: no more targets are started once more than this
        /// many failed, N or N% (SSM's MaxErrors).
        #[arg(long, value_name = "N|N%", default_value = "0")]
        max_errors: cli::fleet::Limit,
        /// When another run holds the target (its lock on the host), wait
        /// for it to end, at most DURATION (90, 5m, 1h; 30m when bare),
        /// then start. Without it, such a run is refused at once (exit 3).
        #[arg(long, value_name = "DURATION", num_args = 0..=1, require_equals = true,
              default_missing_value = "30m", value_parser = wait_duration)]
        wait: Option<std::time::Duration>,
    },
    /// A shell on an instance (its Name or id), or inside one of its
    /// containers: `aws ssm start-session` on AWS (needs the AWS CLI and the
    /// Session Manager plugin), a shell in the host's tree on the sandbox.
    /// Journaled from start to end. Exit: the shell's, or 3 refused.
    Shell {
        /// The instance's Name tag or id.
        instance: String,
        /// A container on it: the shell runs inside (`docker exec -it`).
        #[arg(long)]
        container: Option<String>,
        /// The name the console would ask you to type (production).
        #[arg(long, value_name = "NAME")]
        confirm: Option<String>,
    },
    /// Forward a local port to a database through its host (SSM
    /// `AWS-StartPortForwardingSessionToRemoteHost` on AWS; a relay to the
    /// sandbox's real server), until Ctrl-C. Journaled. Exit: 0 ended, 1 it
    /// stopped by itself, 3 refused.
    Forward {
        /// The database (a tenant's, or one whose backups a host keeps).
        database: String,
        /// The port on this machine (default: a free one).
        #[arg(long)]
        local_port: Option<u16>,
        /// The database's name, typed (production).
        #[arg(long, value_name = "NAME")]
        confirm: Option<String>,
    },
    /// The sandbox's relay for a forward.
    #[command(name = "__forward", hide = true)]
    ForwardRelay { local_port: u16, target: String },
    /// Follow an unfinished run (the newest when none is named) to its end,
    /// headless, e.g. after the console that started it was killed. One
    /// opsdeck follows a run at a time. Exit: as `run`; 3 followed elsewhere.
    Attach {
        /// A run id (`opsdeck history`, or `opsdeck runs` for any operator's).
        run: Option<String>,
    },
    /// Everyone's runs on the estate's hosts, whoever started them (from
    /// any opsdeck): those in flight and the recent ones, newest first,
    /// marked yours or someone else's. `opsdeck attach RUN` follows any.
    Runs {
        /// JSON instead of a table.
        #[arg(long)]
        json: bool,
        /// How far back the ended runs go, in hours.
        #[arg(long, default_value_t = 24)]
        hours: i64,
    },
    /// Remove the lock records no run holds on a target (left by a run
    /// killed without its cleanup, unreadable, or from a newer opsdeck):
    /// shown first; a lock a running run holds is never broken. Journaled.
    /// Exit: 0 done (or nothing to do), 1 failed, 3 refused.
    Unlock {
        /// tenant=APP-ENV | database=NAME | instance=ID|NAME | container=NAME
        target: String,
        /// Consent to removing the records.
        #[arg(long)]
        yes: bool,
        /// The target's name, typed (production).
        #[arg(long, value_name = "NAME")]
        confirm: Option<String>,
    },
    /// The journal of runs, newest first; with RUN, that run's full output.
    History {
        /// A run id: print its full output (with --json, its record).
        run: Option<String>,
        /// JSON records instead of a table.
        #[arg(long)]
        json: bool,
        /// How many of the newest entries to list.
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// Rehearse an incident on the sandbox: start a scenario (the fault is
    /// injected, the timer starts), recover with runbooks, verify (a report
    /// with RTO, RPO and the steps taken goes to the journal).
    Drill {
        #[command(subcommand)]
        action: DrillAction,
    },
    /// The runbook library.
    Runbook {
        #[command(subcommand)]
        action: RunbookAction,
    },
    /// The recurring runs of the config's [[schedule]]s: each one's last run
    /// and next time (exit 1 when one failed or was missed); `run-due`
    /// starts those due, journaled as schedule:NAME (call it from cron or a
    /// systemd timer on a machine that is always up).
    Schedule {
        #[command(subcommand)]
        action: Option<ScheduleAction>,
        /// JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// The sandbox's simulated docker CLI (put on sandbox hosts' PATH).
    #[command(name = "__docker-sim", hide = true)]
    DockerSim {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
}

#[derive(Subcommand, Debug)]
enum DrillAction {
    /// The scenarios.
    List,
    /// Inject the fault and raise the alarm.
    Start {
        /// Which incident to rehearse (`opsdeck drill list`).
        scenario: opsdeck::drill::Scenario,
        /// A PostgreSQL (superuser postgres) for the database drills.
        #[arg(long, value_name = "HOST:PORT")]
        pg: Option<String>,
    },
    /// The drill in progress.
    Status,
    /// End the drill without verifying it (the sandbox's backups that a
    /// database drill set aside come back; `sandbox reset` undoes the fault).
    Stop,
    /// Check the recovery; write the report.
    Verify {
        /// The report as JSON instead of Markdown.
        #[arg(long)]
        json: bool,
    },
    /// A past drill's report (the newest without ID), as Markdown.
    Report {
        /// A drill id (see `opsdeck drill report` or the Drills screen).
        id: Option<String>,
        /// Also write it to this file.
        #[arg(long, value_name = "FILE")]
        markdown: Option<PathBuf>,
        /// The report as JSON instead of Markdown.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand, Debug)]
enum ScheduleAction {
    /// Each schedule, its last run, its next time (the default).
    List,
    /// Start every schedule that is due now.
    RunDue,
}

#[derive(Subcommand, Debug)]
enum RunbookAction {
    /// Every runbook: built in, and from $XDG_CONFIG_HOME/opsdeck/runbooks/.
    List {
        /// JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Check a runbook file; errors name the file, line and problem.
    Check {
        /// The runbook's TOML file.
        file: PathBuf,
    },
}

#[derive(Subcommand, Debug)]
enum SandboxAction {
    /// Delete the sandbox and build it anew.
    Reset,
    /// Print where the sandbox lives.
    Path,
    /// Stop the sandbox's PostgreSQL servers (they start again when used).
    Stop,
}

fn init_logging(dirs: &Dirs) -> Option<tracing_appender::non_blocking::WorkerGuard> {
    std::fs::create_dir_all(&dirs.state).ok()?;
    let appender = tracing_appender::rolling::never(&dirs.state, "opsdeck.log");
    let (writer, guard) = tracing_appender::non_blocking(appender);
    let filter = tracing_subscriber::EnvFilter::try_from_env("OPSDECK_LOG")
        .unwrap_or_else(|_| "info".into());
    tracing_subscriber::fmt()
        .with_writer(writer)
        .with_ansi(false)
        .with_env_filter(filter)
        .init();
    Some(guard)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(Command::DockerSim { args }) = &cli.command {
        return ExitCode::from(
            opsdeck::provider::sandbox::fake_binary_main(args).clamp(0, 255) as u8,
        );
    }
    if let Some(Command::ForwardRelay { local_port, target }) = &cli.command {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build();
        let code = rt
            .map_err(anyhow::Error::from)
            .and_then(|rt| rt.block_on(cli::forward::relay(*local_port, target)));
        return match code {
            Ok(c) => ExitCode::from(c),
            Err(e) => {
                eprintln!("opsdeck: relay: {e:#}");
                ExitCode::from(1)
            }
        };
    }
    match real_main(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("opsdeck: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// Everything but the sandbox's internal helpers (answered in `main`): one
/// match, a function per command. Commands that need no context answer
/// before one is opened; config and runbook errors are said before the
/// terminal is touched.
fn real_main(mut cli: Cli) -> anyhow::Result<u8> {
    let dirs = Dirs::discover();
    let exe = std::env::current_exe().context("cannot find the opsdeck executable")?;
    // A pinned clock that is no time is refused before anything is read.
    opsdeck::clock::pinned().map_err(anyhow::Error::msg)?;
    let now = opsdeck::clock::now();
    let sandbox_dir = cli
        .sandbox_dir
        .clone()
        .unwrap_or_else(|| dirs.data.join("sandbox"));
    let command = cli.command.take();
    let library = || opsdeck::runbook::Library::load(&dirs.config.join("runbooks"));
    match command {
        Some(Command::DockerSim { .. } | Command::ForwardRelay { .. }) => Ok(0),
        Some(Command::Init { force }) => init_config(cli.config.as_deref(), &dirs, force),
        Some(Command::Sandbox { action }) => sandbox_command(&sandbox_dir, now, &exe, &action),
        Some(Command::Runbook { action }) => runbook_command(&library()?, &action),
        command => {
            let library = library()?;
            let cx = Opened::open(&cli, &dirs, now, &exe)?;
            match command {
                Some(Command::Drill { action }) => drill_command(&cx.session, &action),
                Some(Command::Shell {
                    instance,
                    container,
                    confirm,
                }) => cx.rt.block_on(cli::run::shell(
                    &cx.session.providers,
                    &instance,
                    container.as_deref(),
                    confirm.as_deref(),
                    cx.session.ctx.read_only || cx.session.config.read_only,
                    cx.session.ctx.production,
                )),
                Some(Command::Forward {
                    database,
                    local_port,
                    confirm,
                }) => cx.rt.block_on(cli::forward::forward(
                    &cx.session.providers,
                    &cx.session.config,
                    &database,
                    local_port,
                    confirm.as_deref(),
                    cx.session.ctx.production,
                )),
                Some(Command::Attach { run }) => cx
                    .rt
                    .block_on(cli::run::attach(&cx.session.providers, run.as_deref())),
                Some(Command::Unlock {
                    target,
                    yes,
                    confirm,
                }) => cx.rt.block_on(cli::unlock::unlock(
                    &cx.session.providers,
                    &cx.session.config,
                    cli::unlock::UnlockArgs {
                        target,
                        yes,
                        confirm,
                        read_only: cx.session.ctx.read_only || cx.session.config.read_only,
                        production_context: cx.session.ctx.production,
                    },
                )),
                Some(Command::Runs { json, hours }) => {
                    let mut out = std::io::stdout().lock();
                    cx.rt.block_on(cli::runs::runs(
                        &cx.session.providers,
                        json,
                        hours,
                        &mut out,
                    ))
                }
                Some(Command::History { run, json, limit }) => {
                    let mut out = std::io::stdout().lock();
                    cli::run::history(&cx.session.providers, run.as_deref(), json, limit, &mut out)
                }
                Some(Command::Run {
                    runbook,
                    assignments,
                    dry_run,
                    yes,
                    confirm,
                    json,
                    max_concurrency,
                    max_errors,
                    wait,
                }) => {
                    let args = cli::run::RunArgs {
                        runbook,
                        assignments,
                        dry_run,
                        yes,
                        confirm,
                        json,
                        read_only: cx.session.ctx.read_only || cx.session.config.read_only,
                        production_context: cx.session.ctx.production,
                        max_concurrency,
                        max_errors,
                        wait,
                    };
                    run_command(cx, &library, args)
                }
                Some(Command::Ls {
                    kind,
                    target,
                    json,
                    stream,
                }) => ls_command(cx, kind, &target, json, stream),
                Some(Command::Schedule { action, json }) => {
                    schedule_command(cx, &library, action, json)
                }
                _ => console(cx, &cli, &dirs, &exe, now, library),
            }
        }
    }
}

/// A context opened: its session and the runtime it runs on (the log
/// starts with it).
struct Opened {
    rt: tokio::runtime::Runtime,
    session: session::Session,
    opts: Options,
    log: Option<tracing_appender::non_blocking::WorkerGuard>,
}

impl Opened {
    fn open(
        cli: &Cli,
        dirs: &Dirs,
        now: chrono::DateTime<chrono::Utc>,
        exe: &Path,
    ) -> anyhow::Result<Opened> {
        let opts = Options {
            config: cli.config.clone(),
            context: cli.context.clone(),
            read_only: cli.read_only,
            sandbox_dir: cli.sandbox_dir.clone(),
        };
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?;
        let session = rt.block_on(session::open(&opts, dirs, now, exe))?;
        let log = init_logging(dirs);
        Ok(Opened {
            rt,
            session,
            opts,
            log,
        })
    }

    /// A script asked for AWS: never answer it with the sandbox.
    fn refuse_fallback(&self) -> anyhow::Result<()> {
        match self.session.fallback_reason() {
            Some(why) => anyhow::bail!("{why}"),
            None => Ok(()),
        }
    }
}

fn init_config(config: Option<&Path>, dirs: &Dirs, force: bool) -> anyhow::Result<u8> {
    let path = config
        .map(Path::to_path_buf)
        .unwrap_or_else(|| dirs.config.join("config.toml"));
    if path.exists() && !force {
        anyhow::bail!(
            "{} already exists (use --force to overwrite)",
            path.display()
        );
    }
    if let Some(d) = path.parent() {
        std::fs::create_dir_all(d)?;
    }
    std::fs::write(&path, STARTER_CONFIG)?;
    println!("wrote {}", path.display());
    Ok(0)
}

fn sandbox_command(
    dir: &Path,
    now: chrono::DateTime<chrono::Utc>,
    exe: &Path,
    action: &SandboxAction,
) -> anyhow::Result<u8> {
    match action {
        SandboxAction::Reset => {
            Sandbox::reset(dir, now, exe)
                .with_context(|| format!("resetting the sandbox in {}", dir.display()))?;
            println!("sandbox rebuilt in {}", dir.display());
        }
        SandboxAction::Path => println!("{}", dir.display()),
        SandboxAction::Stop => {
            let stopped =
                opsdeck::provider::sandbox::pg_real::stop_all(dir).map_err(anyhow::Error::msg)?;
            if stopped.is_empty() {
                println!("no sandbox database server is running");
            } else {
                println!("stopped PostgreSQL: {}", stopped.join(", "));
            }
        }
    }
    Ok(0)
}

fn runbook_command(
    library: &opsdeck::runbook::Library,
    action: &RunbookAction,
) -> anyhow::Result<u8> {
    let mut out = std::io::stdout().lock();
    match action {
        RunbookAction::List { json } => cli::run::list(library, *json, &mut out),
        RunbookAction::Check { file } => {
            let s = opsdeck::runbook::check_file(file, library)?;
            println!(
                "{}: ok — `{}` on a {}, {}, {} parameter(s), {} pre-check(s), {} step(s), {} post-check(s)",
                file.display(),
                s.name(),
                s.target.label(),
                s.danger.label(),
                s.params.len(),
                s.prechecks.len(),
                s.steps.len(),
                s.postchecks.len()
            );
            Ok(0)
        }
    }
}

fn run_command(
    cx: Opened,
    library: &opsdeck::runbook::Library,
    args: cli::run::RunArgs,
) -> anyhow::Result<u8> {
    cx.refuse_fallback()?;
    cx.rt.block_on(cli::run::run(
        &cx.session.providers,
        &cx.session.config,
        library,
        args,
    ))
}

fn schedule_command(
    cx: Opened,
    library: &opsdeck::runbook::Library,
    action: Option<ScheduleAction>,
    json: bool,
) -> anyhow::Result<u8> {
    let s = &cx.session;
    match action.unwrap_or(ScheduleAction::List) {
        ScheduleAction::List => {
            let mut out = std::io::stdout().lock();
            cli::schedule::list(&s.providers, &s.config, json, &mut out)
        }
        ScheduleAction::RunDue => {
            cx.refuse_fallback()?;
            cx.rt.block_on(cli::schedule::run_due(
                &s.providers,
                &s.config,
                library,
                s.ctx.read_only || s.config.read_only,
                s.ctx.production,
            ))
        }
    }
}

fn ls_command(
    cx: Opened,
    kind: cli::ls::Kind,
    target: &[String],
    json: bool,
    stream: bool,
) -> anyhow::Result<u8> {
    cx.refuse_fallback()?;
    if let Some(w) = &cx.session.warning {
        eprintln!("warning: {w}");
    }
    let mut out = std::io::stdout().lock();
    let format = if stream {
        cli::ls::Format::Stream
    } else if json {
        cli::ls::Format::Json
    } else {
        cli::ls::Format::Table
    };
    let code = cx.rt.block_on(cli::ls::ls(
        &cx.session.providers,
        &cx.session.config,
        kind,
        target,
        format,
        &mut out,
    ))?;
    Ok(u8::try_from(code).unwrap_or(u8::MAX))
}

/// The console on the opened context, until it quits or a signal ends it.
fn console(
    cx: Opened,
    cli: &Cli,
    dirs: &Dirs,
    exe: &Path,
    now: chrono::DateTime<chrono::Utc>,
    library: opsdeck::runbook::Library,
) -> anyhow::Result<u8> {
    let Opened {
        rt,
        session,
        opts,
        log: _log,
    } = cx;
    let theme_name = cli
        .theme
        .clone()
        .or(session.config.theme.clone())
        .unwrap_or_else(|| "dark".into());
    // A relative theme path is looked up in the config dir too (themes/NAME.toml).
    let in_config_dir = dirs.config.join(&theme_name);
    let theme_source = if !Path::new(&theme_name).exists() && in_config_dir.exists() {
        in_config_dir.display().to_string()
    } else {
        theme_name
    };
    let mut theme = Theme::load(&theme_source).map_err(anyhow::Error::msg)?;
    if std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()) {
        theme = theme.monochrome();
    }
    let mut keymap = Keymap::builtin();
    let user_keys = dirs.config.join("keymap.toml");
    if let Ok(text) = std::fs::read_to_string(&user_keys) {
        keymap
            .apply(&text)
            .map_err(|e| anyhow::anyhow!("{}: {e}", user_keys.display()))?;
    }
    let exit = rt.block_on(async move {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        // `:ctx NAME` opens another context the same way the command line does.
        let opener: opsdeck::tui::effects::ContextOpener = {
            let (opts, dirs, exe) = (opts.clone(), dirs.clone(), exe.to_path_buf());
            std::sync::Arc::new(move |name: String| {
                let (mut opts, dirs, exe) = (opts.clone(), dirs.clone(), exe.clone());
                opts.context = Some(name);
                Box::pin(async move {
                    let s = session::open(&opts, &dirs, opsdeck::clock::now(), &exe)
                        .await
                        .map_err(|e| e.to_string())?;
                    if let Some(why) = s.fallback_reason() {
                        return Err(why);
                    }
                    Ok((s.providers, s.ctx, s.config))
                })
            })
        };
        let runner = EffectsRunner::new(session.providers.clone(), tx.clone()).with_opener(opener);
        let mut app = App::new(session.config, session.ctx, keymap, now);
        app.library = std::sync::Arc::new(library);
        app.estate.contexts = session.contexts.clone();
        app.runs.tag = opsdeck::ops::process_tag().to_string();
        if let Some(w) = session.warning {
            app.update(opsdeck::tui::app::Msg::Tick(now));
            tracing::warn!("{w}");
            app.notices.current = Some(opsdeck::tui::app::Notice {
                level: opsdeck::tui::app::Level::Warn,
                text: w,
                at: now,
            });
        }
        opsdeck::tui::console::run(app, theme, runner, rx, tx).await
    });
    // Tasks still following runs are dropped (the runs go on on their
    // hosts); a blocking read still going does not hold the exit.
    rt.shutdown_timeout(std::time::Duration::from_secs(1));
    let exit = exit?;
    // A signal ended it: 128 + its number, as a shell reports it. Runs in
    // flight stay in flight in the journal (the next console follows them).
    if let opsdeck::tui::terminal::Exit::Signal(n) = exit {
        tracing::warn!(signal = n, "the console ended on a signal");
    }
    Ok(exit.code())
}

fn drill_command(session: &session::Session, action: &DrillAction) -> anyhow::Result<u8> {
    use opsdeck::drill;
    let journal = &session.providers.journal;
    let sandbox = || {
        session
            .sandbox
            .as_ref()
            .filter(|_| !session.fell_back)
            .ok_or_else(|| anyhow::anyhow!("drills run on the sandbox only (--context sandbox)"))
    };
    match action {
        DrillAction::List => {
            for s in drill::Scenario::ALL {
                println!("{:<24} {}", s.name(), s.title());
            }
            Ok(0)
        }
        DrillAction::Start { scenario, pg } => {
            let pg = pg
                .as_deref()
                .map(drill::PgTarget::parse)
                .transpose()
                .map_err(anyhow::Error::msg)?;
            let a = drill::start(
                sandbox()?,
                journal,
                *scenario,
                pg.as_ref(),
                opsdeck::clock::now(),
            )
            .map_err(anyhow::Error::msg)?;
            println!(
                "drill {} started at {}",
                a.id,
                a.started_at.format("%H:%M:%S UTC")
            );
            println!("ALARM: {}", a.alarm);
            println!("the clock runs until `opsdeck drill verify` passes");
            Ok(0)
        }
        DrillAction::Status => match drill::active(journal) {
            Some(a) => {
                let secs = (opsdeck::clock::now() - a.started_at).num_seconds();
                println!("drill {} ({}) running for {secs} s", a.id, a.scenario);
                println!("ALARM: {}", a.alarm);
                Ok(0)
            }
            None => {
                println!("no drill is running");
                Ok(0)
            }
        },
        DrillAction::Stop => {
            let a = drill::stop(sandbox()?, journal).map_err(anyhow::Error::msg)?;
            println!("drill {} ({}) stopped without a report", a.id, a.scenario);
            Ok(0)
        }
        DrillAction::Verify { json } => {
            let r = drill::verify(sandbox()?, journal, opsdeck::clock::now())
                .map_err(anyhow::Error::msg)?;
            if *json {
                println!("{}", serde_json::to_string_pretty(&r)?);
            } else {
                print!("{}", drill::markdown(&r));
            }
            Ok(u8::from(!r.passed))
        }
        DrillAction::Report { id, markdown, json } => {
            let all = journal.drills();
            let r = match id {
                Some(id) => all.iter().rev().find(|r| &r.id == id),
                None => all.last(),
            };
            let Some(r) = r else {
                anyhow::bail!("no drill report in the journal");
            };
            let md = drill::markdown(r);
            if let Some(path) = markdown {
                std::fs::write(path, &md)?;
                eprintln!("wrote {}", path.display());
            }
            if *json {
                println!("{}", serde_json::to_string_pretty(r)?);
            } else {
                print!("{md}");
            }
            Ok(0)
        }
    }
}

/// `--wait`'s DURATION: seconds, or 5m, 1h30m…
fn wait_duration(s: &str) -> Result<std::time::Duration, String> {
    opsdeck::runbook::params::parse_duration(s)
        .map_err(|e| e.to_string())
        .and_then(|n| u64::try_from(n).map_err(|_| format!("{s:?}: not a duration")))
        .map(std::time::Duration::from_secs)
}
