//! Drawing: one function of the app state to a frame. No IO, no mutation of
//! the state except the per-list scroll offset, which only drawing knows.

mod runbooks;
pub mod theme;

use crate::table::{TableData, Tone};
use crate::tui::app::keymap::Action;
use crate::tui::app::{App, Level, Mode, RunStatus, Screen};
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
        s => draw_table(f, body, app, theme, s),
    }
    draw_status(f, status, app, theme);
    draw_hints(f, hints, app, theme);
    match &app.mode {
        Mode::Help => draw_help(f, area, app, theme),
        Mode::Detail { title, fields } => {
            draw_detail(f, area, title, fields, app.detail_scroll, theme);
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
        Mode::ConfirmQuit => {
            // Name the runs that go on without a watcher.
            let going: Vec<String> = app
                .runs
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
            draw_confirm(
                f,
                area,
                theme,
                "quit",
                &format!(
                    "{} still going:\n{}\nThey go on on their hosts; opsdeck stops watching them\n(the next start follows them again).\n\ny = quit   any other key = stay",
                    if going.len() == 1 { "1 run" } else { "runs" },
                    going.join("\n")
                ),
            );
        }
        _ => {}
    }
}

fn draw_header(f: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let mut spans = vec![Span::styled(" opsdeck ", theme.header()), Span::raw(" ")];
    // A drill in progress is the first thing to see, with its clock.
    if let Some(d) = &app.drill {
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
            " SANDBOX · docker & db simulated ",
            theme.badge(theme.simulation),
        ));
    }
    if app.busy() {
        spans.push(Span::raw("  "));
        spans.push(Span::styled(
            format!("{} working", SPINNER[app.spinner % SPINNER.len()]),
            Style::default().fg(theme.accent),
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
    let current = match app.screen {
        Screen::Objects | Screen::Versions => Screen::Buckets,
        Screen::RunOutput => Screen::Runs,
        s => s,
    };
    // Each tab with the key that opens it (from the keymap); when the line
    // is too narrow, the other tabs show their key only.
    let tabs: Vec<(String, Screen)> = Action::SCREENS
        .iter()
        .filter_map(|a| Some((key_of(app, *a), a.screen()?)))
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

fn tone_style(t: Tone, theme: &Theme) -> Style {
    match t {
        Tone::Normal => Style::default().fg(theme.fg),
        Tone::Good => Style::default().fg(theme.good),
        Tone::Warn => Style::default().fg(theme.warn),
        Tone::Bad => Style::default().fg(theme.bad).add_modifier(Modifier::BOLD),
        Tone::Dim => Style::default().fg(theme.dim),
    }
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

/// Shorten a long path in the middle: `s3://bucket/…/entity_id=x/`.
fn elide_middle(s: &str, max: usize) -> String {
    let n = s.chars().count();
    if n <= max || max < 5 {
        return s.to_string();
    }
    let head = (max - 1) / 2;
    let tail = max - 1 - head;
    let start: String = s.chars().take(head).collect();
    let end: String = s.chars().skip(n - tail).collect();
    format!("{start}…{end}")
}

fn screen_title(app: &App, s: Screen) -> String {
    match s {
        Screen::Objects => elide_middle(&format!("s3://{}/{}", app.s3.at.0, app.s3.at.1), 72),
        Screen::Versions => format!(
            "versions of {}",
            elide_middle(
                &format!("s3://{}/{}", app.s3.versions_of.0, app.s3.versions_of.1),
                72
            )
        ),
        other => other.title().to_string(),
    }
}

fn loading_state(app: &App, s: Screen) -> (bool, Option<String>) {
    match s {
        Screen::Instances => (app.instances.loading, app.instances.error.clone()),
        Screen::Buckets => (app.buckets.loading, app.buckets.error.clone()),
        Screen::Objects => (app.s3.objects.loading, app.s3.objects.error.clone()),
        Screen::Versions => (app.s3.versions.loading, app.s3.versions.error.clone()),
        Screen::Findings => (app.findings.loading, app.findings.error.clone()),
        Screen::Tenants | Screen::Containers | Screen::Backups => (
            app.instances.loading || app.snapshots.values().any(|l| l.loading),
            app.snapshots.values().find_map(|l| l.error.clone()),
        ),
        _ => (false, None),
    }
}

/// Each column's width on screen, `None` where a column is left out. Sized
/// to what is shown; when the terminal is narrow, free-text columns give
/// up width first (widest first, the row's name last), then id, time and
/// number columns are left out from the right rather than cut mid-value.
fn column_widths(table: &TableData, visible: &[usize], width: u16) -> Vec<Option<usize>> {
    let n = table.headers.len();
    let mut w: Vec<usize> = table.headers.iter().map(|h| h.chars().count()).collect();
    for &i in visible {
        for (c, cell) in table.rows[i].cells.iter().enumerate().take(n) {
            w[c] = w[c].max(cell.chars().count());
        }
    }
    let full = w.clone();
    let whole: Vec<bool> = table
        .headers
        .iter()
        .map(|h| crate::table::keeps_whole(h))
        .collect();
    // Free text keeps a readable width (12) before id and number columns
    // are left out; only then is it cut further, to 6.
    let floor = |c: usize, hard: bool| {
        let h = table.headers[c].chars().count();
        if hard || crate::table::shrinks_first(table.headers[c]) {
            h.max(6)
        } else {
            h.max(12)
        }
    };
    let mut shown = vec![true; n];
    // The marker column and one space before each column.
    let total = |w: &[usize], shown: &[bool]| {
        1 + w
            .iter()
            .zip(shown)
            .filter(|(_, s)| **s)
            .map(|(x, _)| x + 1)
            .sum::<usize>()
    };
    let avail = usize::from(width);
    while total(&w, &shown) > avail {
        let shrinkable = |c: usize, hard: bool| shown[c] && !whole[c] && w[c] > floor(c, hard);
        let widest = |from: usize, hard: bool| {
            (from..n)
                .filter(|&c| shrinkable(c, hard))
                .max_by_key(|&c| w[c])
        };
        let first =
            (1..n).find(|&c| shrinkable(c, false) && crate::table::shrinks_first(table.headers[c]));
        if let Some(c) = first
            .or_else(|| widest(1, false))
            .or_else(|| widest(0, false))
        {
            w[c] -= 1;
        } else if let Some(c) = (1..n).rev().find(|&c| shown[c] && whole[c]) {
            shown[c] = false;
        } else if let Some(c) = widest(1, true).or_else(|| widest(0, true)) {
            w[c] -= 1;
        } else if let Some(c) = (1..n).rev().find(|&c| shown[c]) {
            shown[c] = false;
        } else {
            break;
        }
    }
    // Width left over after leaving columns out goes back to the cut
    // free text, the row's name first.
    let mut spare = avail.saturating_sub(total(&w, &shown));
    while spare > 0 {
        let Some(c) = (0..n)
            .filter(|&c| shown[c] && w[c] < full[c])
            .max_by_key(|&c| (c == 0, full[c] - w[c]))
        else {
            break;
        };
        w[c] += 1;
        spare -= 1;
    }
    w.into_iter()
        .zip(shown)
        .map(|(x, s)| s.then_some(x))
        .collect()
}

/// `text` in `width` characters: whole, or cut with `…` so a cut shows.
fn fit(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_string();
    }
    let mut s: String = text.chars().take(width.saturating_sub(1)).collect();
    s.push('…');
    s
}

/// A cell with the filter's words underlined and bold where they appear.
fn highlighted(text: String, filter: &str, theme: &Theme) -> Line<'static> {
    let ranges = crate::table::highlights(filter, &text);
    if ranges.is_empty() {
        return Line::raw(text);
    }
    let hit = Style::default()
        .fg(theme.accent)
        .add_modifier(Modifier::BOLD | Modifier::UNDERLINED);
    let mut spans = Vec::new();
    let mut at = 0;
    for r in ranges {
        if r.start < at || !text.is_char_boundary(r.start) || !text.is_char_boundary(r.end) {
            continue;
        }
        spans.push(Span::raw(text[at..r.start].to_string()));
        spans.push(Span::styled(text[r.start..r.end].to_string(), hit));
        at = r.end;
    }
    spans.push(Span::raw(text[at..].to_string()));
    Line::from(spans)
}

/// Problem rows carry a mark that survives `NO_COLOR`, not colour alone.
fn tone_mark(tone: Tone) -> &'static str {
    match tone {
        Tone::Bad => "✗",
        Tone::Warn => "!",
        _ => " ",
    }
}

fn draw_table(f: &mut Frame, area: Rect, app: &App, theme: &Theme, s: Screen) {
    let table = app.table(s);
    let list = app.list(s);
    let (loading, error) = loading_state(app, s);
    let count = if list.filter.is_empty() {
        format!("{}", table.rows.len())
    } else {
        format!("{}/{}", list.visible.len(), table.rows.len())
    };
    let mut title = vec![
        Span::styled(
            format!(" {} ", screen_title(app, s)),
            Style::default()
                .fg(theme.accent)
                .add_modifier(Modifier::BOLD),
        ),
        Span::styled(format!("[{count}] "), Style::default().fg(theme.muted)),
    ];
    if !list.filter.is_empty() {
        title.push(Span::styled(
            format!("/{} ", list.filter),
            Style::default().fg(theme.warn),
        ));
        if list.fuzzy {
            title.push(Span::styled(
                "(fuzzy: nothing matches as typed) ",
                Style::default().fg(theme.muted),
            ));
        }
    }
    if loading {
        title.push(Span::styled(
            format!("{} loading ", SPINNER[app.spinner % SPINNER.len()]),
            Style::default().fg(theme.accent),
        ));
    }
    let block = frame_block(Line::from(title), app.production_in_view(), theme);
    let inner = block.inner(area);
    f.render_widget(block, area);
    let height = inner.height.saturating_sub(1) as usize;
    if table.rows.is_empty() || list.visible.is_empty() {
        let msg = match (&error, loading) {
            (Some(e), _) => format!("failed: {e}"),
            (None, true) => "loading…".to_string(),
            (None, false) if !list.filter.is_empty() => format!("nothing matches /{}", list.filter),
            _ => "nothing here".to_string(),
        };
        let style = if error.is_some() {
            Style::default().fg(theme.bad)
        } else {
            Style::default().fg(theme.muted)
        };
        f.render_widget(
            Paragraph::new(msg).style(style).wrap(Wrap { trim: true }),
            inner,
        );
        return;
    }
    // Only the rows on screen are built: a 100k-row list costs one page.
    let offset = list.selected.saturating_sub(height.saturating_sub(1));
    let window: Vec<usize> = list
        .visible
        .iter()
        .skip(offset)
        .take(height)
        .copied()
        .collect();
    let widths = column_widths(table, &window, inner.width);
    let cols: Vec<(usize, usize)> = widths
        .iter()
        .enumerate()
        .filter_map(|(c, w)| w.map(|w| (c, w)))
        .collect();
    let header = Row::new(
        std::iter::once(Cell::from(" "))
            .chain(cols.iter().map(|&(c, _)| Cell::from(table.headers[c]))),
    )
    .style(
        Style::default()
            .fg(theme.muted)
            .add_modifier(Modifier::BOLD),
    );
    let rows = window.iter().enumerate().map(|(pos, &i)| {
        let r = &table.rows[i];
        let style = if offset + pos == list.selected {
            theme.selected()
        } else {
            tone_style(r.tone, theme)
        };
        let cells = cols.iter().map(|&(c, w)| {
            let text = fit(r.cells.get(c).map_or("", String::as_str), w);
            Cell::from(highlighted(text, &list.filter, theme))
        });
        Row::new(std::iter::once(Cell::from(tone_mark(r.tone))).chain(cells)).style(style)
    });
    let widths: Vec<Constraint> = std::iter::once(Constraint::Length(1))
        .chain(
            cols.iter()
                .map(|&(_, w)| Constraint::Length(u16::try_from(w).unwrap_or(u16::MAX))),
        )
        .collect();
    f.render_widget(
        Table::new(rows, widths).header(header).column_spacing(1),
        inner,
    );
}

fn status_style(s: &RunStatus, theme: &Theme) -> Style {
    let c = match s {
        RunStatus::Succeeded => theme.good,
        RunStatus::Starting | RunStatus::Running => theme.accent,
        RunStatus::Cancelled(_) => theme.warn,
        _ => theme.bad,
    };
    Style::default().fg(c).add_modifier(Modifier::BOLD)
}

fn draw_output(f: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let Some(run) = app.pane.run.as_deref().and_then(|id| app.run(id)) else {
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
            format!("{} ", SPINNER[app.spinner % SPINNER.len()]),
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
    let follow = if app.pane.follow {
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
    app.pane.set_height(text.height as usize);
    let lines: Vec<Line> = app
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
            Line::styled(l.to_string(), style)
        })
        .collect();
    f.render_widget(Paragraph::new(lines), text);
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
            if let Some(n) = &app.notice {
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

fn draw_help(f: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let mut lines = vec![
        Line::styled(
            format!("{} — keys", app.screen.title()),
            Style::default().add_modifier(Modifier::BOLD),
        ),
        Line::raw(""),
    ];
    let mut actions: Vec<Action> = app.screen.actions().to_vec();
    actions.extend([
        Action::Up,
        Action::Down,
        Action::Top,
        Action::Bottom,
        Action::PageUp,
        Action::PageDown,
        Action::Back,
        Action::Palette,
        Action::Notices,
        Action::Help,
        Action::Quit,
    ]);
    let mut seen = Vec::new();
    for a in actions {
        if seen.contains(&a) {
            continue;
        }
        seen.push(a);
        let keys = app.keymap.keys_for(a).join(" ");
        lines.push(Line::from(vec![
            Span::styled(format!("{keys:>14}  "), Style::default().fg(theme.accent)),
            Span::raw(a.describe()),
        ]));
    }
    // The screens' keys and the palette's commands, from the keymap and
    // the command table: what this help says is what the keys do.
    let screens: Vec<String> = Action::SCREENS
        .iter()
        .filter_map(|a| {
            let key = app.keymap.keys_for(*a).into_iter().next()?;
            Some(format!("{key} {}", a.screen()?.title().to_lowercase()))
        })
        .collect();
    for (i, row) in screens.chunks(5).enumerate() {
        let label = if i == 0 { "screens" } else { "" };
        lines.push(Line::from(vec![
            Span::styled(format!("{label:>14}  "), Style::default().fg(theme.accent)),
            Span::raw(row.join("  ")),
        ]));
    }
    lines.push(Line::raw(""));
    let cmds: Vec<String> = crate::tui::app::Screen::COMMANDS
        .iter()
        .map(|(n, _)| format!(":{n}"))
        .collect();
    lines.push(Line::styled(
        cmds.join(" "),
        Style::default().fg(theme.muted),
    ));
    for (name, arg, what) in crate::tui::app::palette::COMMANDS {
        let call = if arg.is_empty() {
            format!(":{name}")
        } else {
            format!(":{name} {arg}")
        };
        lines.push(Line::from(vec![
            Span::styled(format!("{call:>22}  "), Style::default().fg(theme.accent)),
            Span::raw(what),
        ]));
    }
    lines.push(Line::styled(
        "Tab in the palette completes commands, runbooks, scenarios and contexts",
        Style::default().fg(theme.muted),
    ));
    let r = centered(area, 100, lines.len() as u16 + 2);
    f.render_widget(Clear, r);
    f.render_widget(
        Paragraph::new(lines).block(popup("help", theme.accent, theme)),
        r,
    );
}

/// A popup of fields, wrapped to its width and scrolled (j/k, PgUp/PgDn).
fn draw_detail(
    f: &mut Frame,
    area: Rect,
    title: &str,
    fields: &[(String, String)],
    scroll: u16,
    theme: &Theme,
) {
    let w = fields
        .iter()
        .map(|(k, _)| k.chars().count())
        .max()
        .unwrap_or(0);
    let lines: Vec<Line> = fields
        .iter()
        .map(|(k, v)| {
            Line::from(vec![
                Span::styled(format!("{k:>w$}  "), Style::default().fg(theme.muted)),
                Span::raw(v.clone()),
            ])
        })
        .collect();
    let width = area.width.saturating_sub(4).min(100);
    let inner = usize::from(width.saturating_sub(2)).max(1);
    // Rows once wrapped (a long value takes several).
    let rows: usize = lines.iter().map(|l| l.width().max(1).div_ceil(inner)).sum();
    let height = u16::try_from(rows + 2).unwrap_or(u16::MAX);
    let r = centered(area, width, height);
    let title = if usize::from(r.height.saturating_sub(2)) < rows {
        format!("{title} · j/k PgUp/PgDn scroll")
    } else {
        title.to_string()
    };
    f.render_widget(Clear, r);
    f.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .scroll((scroll, 0))
            .block(popup(&title, theme.accent, theme)),
        r,
    );
}

fn draw_action_confirm(
    f: &mut Frame,
    area: Rect,
    c: &crate::tui::app::ActionConfirm,
    theme: &Theme,
) {
    let border = if c.production {
        theme.production
    } else {
        theme.warn
    };
    let mut lines: Vec<Line> = c.lines.iter().map(|l| Line::raw(l.clone())).collect();
    if c.production {
        lines.push(Line::styled(" PRODUCTION ", theme.badge(theme.production)));
    }
    lines.push(Line::raw(""));
    match &c.confirm_with {
        Some(name) => lines.push(Line::from(vec![
            Span::raw(format!("type {name} then Enter: ")),
            typed_span(&c.typed, name, theme),
        ])),
        None => lines.push(Line::raw("Enter does it, Esc aborts")),
    }
    let w = lines
        .iter()
        .map(|l| l.width() as u16)
        .max()
        .unwrap_or(40)
        .max(40)
        + 4;
    let r = centered(area, w, lines.len() as u16 + 2);
    f.render_widget(Clear, r);
    f.render_widget(
        Paragraph::new(lines).block(popup(&c.title, border, theme)),
        r,
    );
}

/// What is typed towards a confirmation: green once it is the name asked.
pub(super) fn typed_span(
    typed: &crate::tui::app::confirm::Typed,
    need: &str,
    theme: &Theme,
) -> Span<'static> {
    Span::styled(
        format!("{}▏", typed.text),
        Style::default()
            .fg(if typed.matches(need) {
                theme.good
            } else {
                theme.warn
            })
            .add_modifier(Modifier::BOLD),
    )
}

fn draw_confirm(f: &mut Frame, area: Rect, theme: &Theme, title: &str, text: &str) {
    let r = centered(area, 64, text.lines().count() as u16 + 2);
    f.render_widget(Clear, r);
    f.render_widget(
        Paragraph::new(text.to_string())
            .wrap(Wrap { trim: false })
            .block(popup(title, theme.warn, theme)),
        r,
    );
}
