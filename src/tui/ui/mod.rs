//! Drawing: one function of the app state to a frame. No IO, no mutation of
//! the state except the per-list scroll offset, which only drawing knows.

mod dialogs;
mod runbooks;
mod table;
pub mod theme;

use dialogs::{draw_action_confirm, draw_confirm, draw_detail, draw_help};
use table::draw_table;

use crate::table::{TableData, Tone};
use crate::tui::app::keymap::Action;
use crate::tui::app::{App, Level, Mode, RunKind, RunStatus, Screen};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Borders, Cell, Clear, Paragraph, Row, Table, Wrap};
use theme::Theme;

const SPINNER: [&str; 10] = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];

pub fn draw(f: &mut Frame, app: &App, theme: &Theme) {
    let area = f.area();
    f.render_widget(Block::default().style(theme.base()), area);
    let [header, tabs, body, status, hints] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Min(3),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(area);
    draw_header(f, header, app, theme);
    draw_tabs(f, tabs, app, theme);
    match app.screen {
        Screen::RunOutput => draw_output(f, body, app, theme),
        // The first screen leads with what needs attention.
        Screen::Tenants if !app.estate.attention.is_empty() && body.height >= 12 => {
            let shown = app.estate.attention.len().min(3);
            let [strip, rest] =
                Layout::vertical([Constraint::Length(shown as u16 + 1), Constraint::Min(3)])
                    .areas(body);
            draw_attention_strip(f, strip, app, theme, shown);
            draw_table(f, rest, app, theme, Screen::Tenants);
        }
        s => draw_table(f, body, app, theme, s),
    }
    draw_status(f, status, app, theme);
    draw_hints(f, hints, app, theme);
    match &app.mode {
        Mode::Help => draw_help(f, area, app, theme),
        Mode::Detail { title, fields } => {
            draw_detail(f, area, title, fields, app.nav.detail_scroll, theme);
        }
        Mode::Preview(p) => runbooks::draw_preview(f, area, app, p, theme),
        Mode::Picker(p) => runbooks::draw_picker(f, area, p, theme),
        Mode::Form(form) => runbooks::draw_form(f, area, app, form, theme),
        Mode::Confirm(c) => draw_action_confirm(f, area, c, theme),
        Mode::ConfirmCancel(id) => draw_confirm(
            f,
            area,
            theme,
            "cancel run",
            &format!(
                "Cancel {id}?\nIts whole process group on the host is killed.\n\ny = cancel it   any other key = keep it running"
            ),
        ),
        Mode::Locked(d) => draw_confirm(f, area, theme, "locked", &d.text(app.now)),
        Mode::ConfirmQuit => {
            // Name the runs that go on without a watcher.
            let going: Vec<String> = app
                .runs
                .all
                .iter()
                .filter(|r| r.status.is_active())
                .map(|r| {
                    let host = app
                        .host_names()
                        .get(&r.host)
                        .cloned()
                        .unwrap_or(r.host.clone());
                    format!("  {} on {host} ({})", r.title, r.id)
                })
                .collect();
            let forwards = app
                .runs
                .all
                .iter()
                .any(|r| r.status.is_active() && r.kind == RunKind::Forward);
            draw_confirm(
                f,
                area,
                theme,
                "quit",
                &format!(
                    "{} still going:\n{}\nThey go on on their hosts; opsdeck stops watching them\n(the next start follows them again).{}\n\ny = quit   any other key = stay",
                    if going.len() == 1 { "1 run" } else { "runs" },
                    going.join("\n"),
                    if forwards {
                        "\nPort forwards end with the console."
                    } else {
                        ""
                    }
                ),
            );
        }
        _ => {}
    }
}

fn draw_header(f: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let mut spans = vec![Span::styled(" opsdeck ", theme.header()), Span::raw(" ")];
    // A drill in progress is the first thing to see, with its clock.
    if let Some(d) = &app.estate.drill {
        let secs = (app.now - d.started_at).num_seconds().max(0);
        spans.push(Span::styled(
            format!(" DRILL {} {}:{:02} ", d.scenario, secs / 60, secs % 60),
            theme.badge(theme.bad),
        ));
        spans.push(Span::raw(" "));
    }
    spans.extend([
        Span::styled(
            format!("ctx:{}", app.ctx.name),
            Style::default()
                .fg(theme.accent)
                .add_modifier(Modifier::BOLD),
        ),
        Span::styled(
            format!(" ({})", app.ctx.provider),
            Style::default().fg(theme.muted),
        ),
    ]);
    // What must never be cut off comes before what may be: the badges and
    // the spinner, then the regions and the identity.
    if app.production_in_view() {
        spans.push(Span::raw("  "));
        spans.push(Span::styled(" PRODUCTION ", theme.badge(theme.production)));
    }
    if app.ctx.read_only || app.config.read_only {
        spans.push(Span::raw("  "));
        spans.push(Span::styled(" READ-ONLY ", theme.badge(theme.warn)));
    }
    if app.ctx.simulated {
        spans.push(Span::raw("  "));
        spans.push(Span::styled(
            if app.ctx.real_db {
                " SANDBOX · docker simulated, PostgreSQL real "
            } else {
                " SANDBOX · simulated "
            },
            theme.badge(theme.simulation),
        ));
    }
    if app.busy() {
        spans.push(Span::raw("  "));
        spans.push(Span::styled(
            format!("{} working", SPINNER[app.nav.spinner % SPINNER.len()]),
            Style::default().fg(theme.accent),
        ));
    }
    // On a sandbox without real databases, how to get them (before the
    // sandbox's made-up regions, which may be cut instead).
    if app.ctx.simulated && !app.ctx.real_db {
        spans.push(Span::styled(
            format!(
                "  real db: {}, then opsdeck sandbox reset",
                crate::provider::sandbox::pg_real::INSTALL_HINT
            ),
            Style::default().fg(theme.muted),
        ));
    }
    spans.push(Span::raw("  "));
    spans.push(Span::styled(
        app.ctx.regions.join(","),
        Style::default().fg(theme.muted),
    ));
    if let Some(id) = &app.ctx.identity {
        spans.push(Span::raw("  "));
        spans.push(Span::styled(id.clone(), Style::default().fg(theme.muted)));
    }
    f.render_widget(Paragraph::new(Line::from(spans)), area);
}

fn draw_tabs(f: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let current = app.screen.tab();
    // Each tab with the key that opens it (from the keymap); when the line
    // is too narrow, the other tabs show their key only.
    let tabs: Vec<(String, Screen)> = Screen::tabs()
        .map(|s| (key_of(app, Action::Go(s)), s))
        .collect();
    let full: usize = tabs
        .iter()
        .map(|(k, s)| k.chars().count() + s.title().chars().count() + 3)
        .sum::<usize>()
        + 1;
    let narrow = full > usize::from(area.width);
    let mut spans = vec![Span::raw(" ")];
    for (key, s) in tabs {
        if s == current {
            spans.push(Span::styled(
                format!(" {key} {} ", s.title()),
                theme.selected().add_modifier(Modifier::BOLD),
            ));
        } else if narrow {
            spans.push(Span::styled(
                format!(" {key} "),
                Style::default().fg(theme.muted),
            ));
        } else {
            spans.push(Span::styled(
                format!(" {key} {} ", s.title()),
                Style::default().fg(theme.muted),
            ));
        }
    }
    f.render_widget(Paragraph::new(Line::from(spans)), area);
}

fn frame_block<'a>(title: Line<'a>, production: bool, theme: &Theme) -> Block<'a> {
    let (style, kind) = if production {
        (
            Style::default()
                .fg(theme.production)
                .add_modifier(Modifier::BOLD),
            BorderType::Thick,
        )
    } else {
        (Style::default().fg(theme.border), BorderType::Rounded)
    };
    Block::default()
        .borders(Borders::ALL)
        .border_type(kind)
        .border_style(style)
        .title(title)
}

fn status_style(s: &RunStatus, theme: &Theme) -> Style {
    let c = match s {
        RunStatus::Succeeded => theme.good,
        RunStatus::Starting | RunStatus::Running => theme.accent,
        RunStatus::Cancelled(_) | RunStatus::Refused(_) | RunStatus::NotStarted => theme.warn,
        _ => theme.bad,
    };
    Style::default().fg(c).add_modifier(Modifier::BOLD)
}

fn draw_output(f: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let Some(run) = app.nav.pane.run.as_deref().and_then(|id| app.run(id)) else {
        f.render_widget(Paragraph::new("no run selected"), area);
        return;
    };
    let elapsed = run.elapsed(app.now).num_seconds();
    let mut title = vec![
        Span::styled(
            format!(" {} ", run.title),
            Style::default()
                .fg(theme.accent)
                .add_modifier(Modifier::BOLD),
        ),
        Span::styled(
            format!(
                "on {} ",
                app.host_names()
                    .get(&run.host)
                    .cloned()
                    .unwrap_or(run.host.clone())
            ),
            Style::default().fg(theme.muted),
        ),
    ];
    if run.status.is_active() {
        title.push(Span::styled(
            format!("{} ", SPINNER[app.nav.spinner % SPINNER.len()]),
            Style::default().fg(theme.accent),
        ));
    }
    title.push(Span::styled(
        format!("{} ", run.status.label()),
        status_style(&run.status, theme),
    ));
    title.push(Span::styled(
        format!("{elapsed}s "),
        Style::default().fg(theme.muted),
    ));
    if let Some(code) = run.status.exit_code() {
        title.push(Span::styled(
            format!("exit {code} "),
            status_style(&run.status, theme),
        ));
    }
    let block = frame_block(
        Line::from(title),
        run.production || app.ctx.production,
        theme,
    );
    let inner = block.inner(area);
    f.render_widget(block, area);
    let [meta, text] = Layout::vertical([Constraint::Length(1), Constraint::Min(1)]).areas(inner);
    let follow = if app.nav.pane.follow {
        "following"
    } else {
        "scrolled (G follows)"
    };
    let dropped = if run.output.dropped > 0 {
        format!(" · {} earlier lines on disk only", run.output.dropped)
    } else {
        String::new()
    };
    f.render_widget(
        Paragraph::new(format!(
            "run {} · {} lines · {follow}{dropped}",
            run.id, run.output.total
        ))
        .style(Style::default().fg(theme.muted)),
        meta,
    );
    let len = run.output.len();
    app.nav.pane.set_height(text.height as usize);
    let lines: Vec<Line> = app
        .nav
        .pane
        .window(len)
        .filter_map(|i| run.output.line(i))
        .map(|l| {
            let style = if l.starts_with("==> ") {
                Style::default()
                    .fg(theme.accent)
                    .add_modifier(Modifier::BOLD)
            } else if l.starts_with("opsdeck:") || l.contains("failed") || l.contains("ERROR") {
                Style::default().fg(theme.bad)
            } else {
                Style::default().fg(theme.fg)
            };
            Line::styled(expand_tabs(l).into_owned(), style)
        })
        .collect();
    f.render_widget(Paragraph::new(lines), text);
}

/// A tab moves to the next tab stop (every 8 columns), as a terminal shows
/// it: the pane would otherwise drop it (`name<TAB>0.78%` read `name0.78%`).
pub fn expand_tabs(line: &str) -> std::borrow::Cow<'_, str> {
    if !line.contains('\t') {
        return line.into();
    }
    let mut out = String::with_capacity(line.len() + 16);
    let mut col = 0;
    for c in line.chars() {
        if c == '\t' {
            let next = (col / 8 + 1) * 8;
            out.extend(std::iter::repeat_n(' ', next - col));
            col = next;
        } else {
            col += unicode_width::UnicodeWidthChar::width(c).unwrap_or(0);
            out.push(c);
        }
    }
    out.into()
}

fn draw_status(f: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    match &app.mode {
        Mode::Filter(ta) | Mode::Palette(ta) => {
            let prefix = if matches!(app.mode, Mode::Filter(_)) {
                "/"
            } else {
                ":"
            };
            let [p, rest] =
                Layout::horizontal([Constraint::Length(1), Constraint::Min(1)]).areas(area);
            f.render_widget(
                Paragraph::new(prefix).style(Style::default().fg(theme.accent)),
                p,
            );
            f.render_widget(ta, rest);
        }
        _ => {
            if let Some(n) = &app.notices.current {
                let color = match n.level {
                    Level::Info => theme.fg,
                    Level::Warn => theme.warn,
                    Level::Error => theme.bad,
                };
                // A notice too long for the line says where to read it whole.
                let room = usize::from(area.width).saturating_sub(1);
                let text = if n.text.chars().count() > room {
                    let hint = format!(" … ({}: whole)", key_of(app, Action::Notices));
                    let keep = room.saturating_sub(hint.chars().count());
                    format!("{}{hint}", n.text.chars().take(keep).collect::<String>())
                } else {
                    n.text.clone()
                };
                f.render_widget(
                    Paragraph::new(format!(" {text}")).style(Style::default().fg(color)),
                    area,
                );
            }
        }
    }
}

fn key_of(app: &App, a: Action) -> String {
    app.keymap
        .keys_for(a)
        .into_iter()
        .next()
        .unwrap_or_else(|| "-".into())
}

fn draw_hints(f: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let hints: Vec<(String, &str)> = match &app.mode {
        Mode::Filter(_) => vec![("Enter".into(), "keep filter"), ("Esc".into(), "clear")],
        Mode::Palette(_) => vec![
            ("Enter".into(), "go"),
            ("Tab".into(), "complete"),
            ("Esc".into(), "close"),
        ],
        Mode::Preview(p) if p.run.confirm_with.is_some() => vec![
            ("type name + Enter".into(), "run"),
            ("Esc".into(), "abort"),
            ("Tab".into(), "edit parameters"),
            ("↑↓".into(), "scroll"),
        ],
        Mode::Preview(_) => vec![
            ("Enter".into(), "run"),
            ("Esc".into(), "abort"),
            ("Tab".into(), "edit parameters"),
            ("↑↓".into(), "scroll"),
        ],
        Mode::Picker(_) => vec![
            ("type".into(), "filter"),
            ("↑↓".into(), "choose"),
            ("Enter".into(), "parameters"),
            ("Esc".into(), "close"),
        ],
        Mode::Form(f) if f.editor.is_some() => vec![("Esc".into(), "keep the text")],
        Mode::Form(_) => vec![
            ("↑↓".into(), "field"),
            ("←→".into(), "choose"),
            ("Enter".into(), "preview"),
            ("type".into(), "edit"),
            ("Esc".into(), "abort"),
        ],
        Mode::Help => vec![("any key".into(), "close")],
        Mode::Detail { .. } => vec![
            ("j k PgUp PgDn".into(), "scroll"),
            ("any other key".into(), "close"),
        ],
        Mode::ConfirmCancel(_) | Mode::ConfirmQuit => {
            vec![("y".into(), "yes"), ("any key".into(), "no")]
        }
        Mode::Locked(d) if d.waiting.is_some() => {
            vec![("f".into(), "follow it"), ("Esc".into(), "stop waiting")]
        }
        Mode::Locked(_) => vec![
            ("f".into(), "follow it"),
            ("w".into(), "wait"),
            ("Esc".into(), "leave it"),
        ],
        Mode::Confirm(c) if c.confirm_with.is_some() => vec![
            ("type name + Enter".into(), "do it"),
            ("Esc".into(), "abort"),
        ],
        Mode::Confirm(_) => vec![("Enter".into(), "do it"), ("Esc".into(), "abort")],
        Mode::Normal => {
            let mut v: Vec<(String, &str)> = app
                .screen
                .actions()
                .iter()
                .map(|a| {
                    let label = match a {
                        Action::Deploy => "deploy",
                        Action::Restart => "restart",
                        Action::Runbooks => "runbooks",
                        Action::Select => "open",
                        Action::Back => "back",
                        Action::Filter => "filter",
                        Action::Refresh => "refresh",
                        Action::CancelRun => "cancel run",
                        Action::Bottom => "follow",
                        Action::StartInstance => "start",
                        Action::StopInstance => "stop",
                        Action::RestoreVersion => "restore",
                        Action::Undelete => "undelete",
                        Action::Download => "download",
                        Action::Project => "project",
                        Action::Shell => "shell",
                        Action::Mark => "mark",
                        Action::MarkAll => "mark all",
                        Action::Failures => "failures",
                        _ => "",
                    };
                    (key_of(app, *a), label)
                })
                .collect();
            v.push((key_of(app, Action::Palette), "cmd"));
            v.push((key_of(app, Action::Help), "help"));
            v.push((key_of(app, Action::Quit), "quit"));
            v
        }
    };
    // A narrow terminal drops hints from the middle: the last two (help
    // and quit, or a dialog's way out) always stay.
    let mut hints = hints;
    let width = |h: &[(String, &str)]| {
        1 + h
            .iter()
            .map(|(k, l)| k.chars().count() + l.chars().count() + 5)
            .sum::<usize>()
    };
    while width(&hints) > usize::from(area.width) && hints.len() > 2 {
        hints.remove(hints.len() - 3);
    }
    let mut spans = vec![Span::raw(" ")];
    for (k, label) in hints {
        spans.push(Span::styled(
            format!("<{k}>"),
            Style::default()
                .fg(theme.accent)
                .add_modifier(Modifier::BOLD),
        ));
        spans.push(Span::styled(
            format!(" {label}  "),
            Style::default().fg(theme.muted),
        ));
    }
    f.render_widget(Paragraph::new(Line::from(spans)), area);
}

fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width.saturating_sub(2));
    let h = h.min(area.height.saturating_sub(2));
    Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    }
}

fn popup<'a>(title: &'a str, border: ratatui::style::Color, theme: &Theme) -> Block<'a> {
    Block::default()
        .borders(Borders::ALL)
        .border_type(BorderType::Rounded)
        .border_style(Style::default().fg(border))
        .title(Span::styled(
            format!(" {title} "),
            Style::default()
                .fg(theme.accent)
                .add_modifier(Modifier::BOLD),
        ))
        .style(theme.base())
}

/// The worst items first, and how many there are; `0` lists them all.
fn draw_attention_strip(f: &mut Frame, area: Rect, app: &App, theme: &Theme, shown: usize) {
    use crate::ops::attention::Severity;
    let critical = app
        .estate
        .attention
        .iter()
        .filter(|i| i.severity == Severity::Critical)
        .count();
    let warnings = app.estate.attention.len() - critical;
    let key = key_of(app, Action::Go(Screen::Attention));
    let mut lines = vec![Line::from(vec![
        Span::styled(
            " ATTENTION ",
            theme.badge(if critical > 0 { theme.bad } else { theme.warn }),
        ),
        Span::styled(
            format!(
                " {critical} critical · {warnings} warning{} — {key} lists them, Enter there opens the fix",
                if warnings == 1 { "" } else { "s" }
            ),
            Style::default().fg(theme.muted),
        ),
    ])];
    for i in app.estate.attention.iter().take(shown) {
        let (mark, style) = match i.severity {
            Severity::Critical => (
                "!!",
                Style::default().fg(theme.bad).add_modifier(Modifier::BOLD),
            ),
            Severity::Warning => (" !", Style::default().fg(theme.warn)),
        };
        // Whole words only (ids are never cut): the fix when it fits.
        let head = format!(" {mark} {} ", i.subject);
        let room = usize::from(area.width).saturating_sub(head.chars().count());
        let what = whole_words(&i.what, room);
        let mut spans = vec![
            Span::styled(head, style),
            Span::styled(what.clone(), Style::default().fg(theme.fg)),
        ];
        if let Some(fix) = &i.fix {
            let fix = format!("  → {} {}", fix.runbook, fix.target);
            if what == i.what && what.chars().count() + fix.chars().count() <= room {
                spans.push(Span::styled(fix, Style::default().fg(theme.muted)));
            }
        }
        lines.push(Line::from(spans));
    }
    f.render_widget(Paragraph::new(lines), area);
}

/// `text` in at most `max` characters, cut after a whole word (with `…`).
fn whole_words(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut out = String::new();
    for word in text.split(' ') {
        let next = if out.is_empty() {
            word.chars().count()
        } else {
            out.chars().count() + 1 + word.chars().count()
        };
        if next + 1 > max {
            break;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out.push('…');
    out
}
