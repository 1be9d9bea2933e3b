//! Drawing the runbook picker, the parameter form and the preview.

use super::{centered, popup};
use crate::runbook::Danger;
use crate::runbook::spec::ParamType;
use crate::tui::app::runbooks::{Form, Picker};
use crate::tui::app::{App, Preview};
use crate::tui::ui::theme::Theme;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph, Wrap};

fn danger_style(d: Danger, theme: &Theme) -> Style {
    let c = match d {
        Danger::Read => theme.good,
        Danger::Change => theme.warn,
        Danger::Destructive => theme.bad,
    };
    Style::default().fg(c).add_modifier(Modifier::BOLD)
}

fn label(text: &str, theme: &Theme) -> Span<'static> {
    Span::styled(format!("{text:<10}"), Style::default().fg(theme.muted))
}

pub fn draw_picker(f: &mut Frame, area: Rect, p: &Picker, theme: &Theme) {
    let border = if p.target.production {
        theme.production
    } else {
        theme.accent
    };
    let target = match &p.fleet {
        Some(sel) => Line::from(vec![
            label("targets", theme),
            Span::styled(
                format!("{} marked instances: one run for all", sel.ids.len()),
                Style::default().add_modifier(Modifier::BOLD),
            ),
        ]),
        None => Line::from(vec![
            label("target", theme),
            Span::raw(format!("{} {}", p.target.kind.label(), p.target.label)),
            if p.target.production {
                Span::styled("  PRODUCTION", theme.badge(theme.production))
            } else {
                Span::raw("")
            },
        ]),
    };
    let mut lines = vec![
        target,
        Line::from(vec![
            label("filter", theme),
            Span::styled(
                format!("{}▏", p.filter),
                Style::default().add_modifier(Modifier::BOLD),
            ),
        ]),
        Line::raw(""),
    ];
    let visible = p.visible();
    if visible.is_empty() {
        lines.push(Line::styled(
            "  no runbook matches",
            Style::default().fg(theme.muted),
        ));
    }
    // The names' column fits the longest, with a space after it.
    let width = visible
        .iter()
        .map(|(n, ..)| n.chars().count() + 1)
        .max()
        .unwrap_or(18)
        .max(18);
    for (i, (name, title, danger, _)) in visible.iter().enumerate() {
        let sel = i == p.selected;
        let base = if sel {
            Style::default()
                .fg(theme.selected_fg)
                .bg(theme.selected_bg)
                .add_modifier(Modifier::BOLD)
        } else {
            Style::default()
        };
        lines.push(Line::from(vec![
            Span::styled(if sel { "▶ " } else { "  " }, base),
            Span::styled(format!("{name:<width$}"), base),
            Span::styled(
                format!("{:<12}", danger.label()),
                danger_style(*danger, theme),
            ),
            Span::styled(title.clone(), Style::default().fg(theme.muted)),
        ]));
    }
    let h = (lines.len() as u16 + 2).max(8);
    let r = centered(area, 90, h);
    f.render_widget(Clear, r);
    f.render_widget(
        Paragraph::new(lines).block(popup("runbooks", border, theme)),
        r,
    );
}

pub fn draw_form(f: &mut Frame, area: Rect, app: &App, form: &Form, theme: &Theme) {
    let spec = app.library.get(&form.runbook);
    let border = if form.target.production || app.ctx.production {
        theme.production
    } else {
        theme.accent
    };
    let mut lines = form_header(form, theme);
    if let Some(s) = spec {
        lines.push(Line::from(vec![
            label("danger", theme),
            Span::styled(s.danger.label(), danger_style(s.danger, theme)),
        ]));
        if !s.description.is_empty() {
            lines.push(Line::styled(
                s.description.clone(),
                Style::default().fg(theme.muted),
            ));
        }
    }
    lines.push(Line::raw(""));
    if form.fields.is_empty() {
        lines.push(Line::styled(
            "  this runbook takes no parameters: Enter previews it",
            Style::default().fg(theme.muted),
        ));
    }
    // The names' column fits the longest, with a space after it; room for
    // a value: the popup's width less its borders and the name and type
    // columns.
    let name_width = form
        .fields
        .iter()
        .map(|f| f.name.chars().count() + 1)
        .max()
        .unwrap_or(14)
        .max(14);
    let value_width = usize::from(area.width).saturating_sub(8 + 2 + name_width + 11 + 4);
    for (i, field) in form.fields.iter().enumerate() {
        let focus = i == form.focus;
        let kind = match field.kind {
            ParamType::Choice => "choice",
            ParamType::Bool => "bool",
            ParamType::Int => "int",
            ParamType::Duration => "duration",
            ParamType::String => "string",
            ParamType::Text => "text",
        };
        let shown = field_value(field, focus, value_width);
        let value_style = if focus {
            Style::default()
                .fg(theme.selected_fg)
                .bg(theme.selected_bg)
                .add_modifier(Modifier::BOLD)
        } else {
            Style::default().add_modifier(Modifier::BOLD)
        };
        let cursor = if focus && matches!(field.kind, ParamType::Choice | ParamType::Bool) {
            " ◀▶"
        } else if focus && field.kind == ParamType::Text {
            "▏"
        } else {
            ""
        };
        lines.push(Line::from(vec![
            Span::raw(if focus { "▶ " } else { "  " }),
            Span::styled(
                format!("{:<name_width$}", field.name),
                Style::default().fg(theme.accent),
            ),
            Span::styled(format!("{kind:<9}"), Style::default().fg(theme.muted)),
            Span::styled(format!("{shown}{cursor}"), value_style),
        ]));
        match &field.error {
            Some(e) => lines.push(Line::styled(
                format!("{:<25}✗ {e}", ""),
                Style::default().fg(theme.bad),
            )),
            None if focus && !field.help.is_empty() => lines.push(Line::styled(
                format!("{:<25}{}", "", field.help),
                Style::default().fg(theme.muted),
            )),
            None => {}
        }
    }
    let r = centered(
        area,
        area.width.saturating_sub(8).max(40),
        area.height.saturating_sub(4).max(10),
    );
    f.render_widget(Clear, r);
    f.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(popup("parameters", border, theme)),
        r,
    );
    if let Some(ed) = &form.editor {
        let name = form
            .fields
            .get(form.focus)
            .map(|x| x.name.as_str())
            .unwrap_or("text");
        let er = centered(area, r.width.saturating_sub(6), r.height.saturating_sub(6));
        f.render_widget(Clear, er);
        let block = popup("editor · Esc keeps the text", theme.accent, theme).title_bottom(
            Line::styled(format!(" {name} "), Style::default().fg(theme.muted)),
        );
        let inner = block.inner(er);
        f.render_widget(block, er);
        f.render_widget(ed, inner);
    }
}

/// The form's first lines: the runbook, and what it runs on (a fleet's
/// selection, else the target and its host).
fn form_header(form: &Form, theme: &Theme) -> Vec<Line<'static>> {
    vec![
        Line::from(vec![
            label("runbook", theme),
            Span::styled(
                form.runbook.clone(),
                Style::default().add_modifier(Modifier::BOLD),
            ),
            Span::raw(format!(" — {}", form.title)),
        ]),
        match &form.fleet {
            Some(sel) => Line::from(vec![
                label("targets", theme),
                Span::styled(
                    match &sel.tag {
                        Some((k, v)) => format!(
                            "every instance with tag:{k}={v} ({}): one form for all",
                            sel.ids.len()
                        ),
                        None => format!("{} marked instances: one form for all", sel.ids.len()),
                    },
                    Style::default().add_modifier(Modifier::BOLD),
                ),
            ]),
            None => Line::from(vec![
                label("target", theme),
                Span::raw(format!(
                    "{} {} on {}",
                    form.target.kind.label(),
                    form.target.label,
                    form.target.host
                )),
            ]),
        },
    ]
}

/// A field's value as the form shows it: a text's first line and its
/// length, a secret masked, an option by its label, the focused one around
/// its cursor, the others cut to `width`.
fn field_value(field: &crate::tui::app::runbooks::Field, focus: bool, width: usize) -> String {
    if field.kind == ParamType::Text {
        let n = field.value.lines().count();
        let first = field.value.lines().next().unwrap_or("");
        if n > 1 {
            format!("{first} … ({n} lines)")
        } else {
            first.to_string()
        }
    } else if crate::runbook::is_secret_name(&field.name) && !field.value.is_empty() {
        "••••••".into()
    } else if let Some(label) = field.labels.get(&field.value) {
        label.clone()
    } else if focus {
        // Typing goes where the cursor is; a long value shows around it.
        let (text, col) = crate::tui::app::line_edit::view(&field.value, field.cursor, width);
        let mut t: String = text.chars().take(col).collect();
        t.push('▏');
        t.extend(text.chars().skip(col));
        t
    } else {
        crate::tui::app::line_edit::view(&field.value, field.value.chars().count(), width).0
    }
}

/// Lines of the prelude in a rendered script (folded in the preview).
fn prelude_range(script: &str) -> Option<(usize, usize)> {
    let lines: Vec<&str> = script.lines().collect();
    let start = lines
        .iter()
        .position(|l| l.starts_with("# ---- opsdeck prelude"))?;
    let end = lines
        .iter()
        .position(|l| l.starts_with("# ---- runbook blocks"))?;
    Some((start, end))
}

/// Lines of the embedded rollback script (between its heredoc markers).
fn rollback_range(script: &str) -> Option<(usize, usize)> {
    let lines: Vec<&str> = script.lines().collect();
    let start = lines
        .iter()
        .position(|l| l.contains("<<'__OPSDECK_ROLLBACK_"))?;
    let delim = lines[start]
        .split("<<'")
        .nth(1)?
        .trim_end_matches('\'')
        .to_string();
    let end = start + 1 + lines[start + 1..].iter().position(|l| *l == delim)?;
    Some((start + 1, end))
}

pub fn draw_preview(f: &mut Frame, area: Rect, app: &App, p: &Preview, theme: &Theme) {
    let run = &p.run;
    let border = if run.production {
        theme.production
    } else {
        theme.accent
    };
    let mut lines = preview_head(app, run, theme);
    // The plan in words, above the script, packed to the popup's width.
    let room = usize::from(area.width.saturating_sub(6 + 2 + 22)).max(20);
    let mut first = true;
    for (what, items) in run.plan.items() {
        for (j, text) in pack(&items, crate::runbook::Plan::separator(what), room)
            .into_iter()
            .enumerate()
        {
            lines.push(Line::from(vec![
                label(if first { "plan" } else { "" }, theme),
                Span::styled(
                    format!("{:<12}", if j == 0 { what } else { "" }),
                    Style::default().fg(theme.muted),
                ),
                Span::raw(text),
            ]));
            first = false;
        }
    }
    lines.push(Line::from(vec![
        label("digest", theme),
        Span::styled(
            format!("sha256 {}", &run.digest[..run.digest.len().min(16)]),
            Style::default().fg(theme.muted),
        ),
    ]));
    match &run.confirm_with {
        Some(name) => lines.push(Line::from(vec![
            label("confirm", theme),
            Span::raw(format!(
                "{}: type {name} then Enter: ",
                if run.danger == Danger::Destructive {
                    "destructive"
                } else {
                    "production"
                }
            )),
            super::dialogs::typed_span(&p.typed, name, theme),
        ])),
        None => lines.push(Line::from(vec![
            label("confirm", theme),
            Span::raw(format!("{}; Esc aborts", run.guard_text())),
        ])),
    }
    lines.push(Line::styled(
        if run.procedure.is_some() {
            "─── the procedure: the cloud calls opsdeck makes, the script parts it sends to their instance ───"
        } else {
            "─── the script sent to the host (run detached, output streamed) ───"
        },
        Style::default().fg(theme.muted),
    ));
    let script_lines = script_shown(&run.script, theme);
    lines.extend(script_lines.into_iter().skip(p.scroll as usize));
    let r = centered(
        area,
        area.width.saturating_sub(6).max(40),
        area.height.saturating_sub(4).max(10),
    );
    f.render_widget(Clear, r);
    f.render_widget(
        Paragraph::new(lines).block(popup("preview", border, theme)),
        r,
    );
}

/// The preview's first lines: the runbook, its target, its danger, its
/// parameters.
fn preview_head(app: &App, run: &crate::runbook::RenderedRun, theme: &Theme) -> Vec<Line<'static>> {
    let host = app.host_names().get(&run.host).cloned().unwrap_or_default();
    let mut lines = vec![
        Line::from(vec![
            label("runbook", theme),
            Span::styled(
                run.runbook.clone(),
                Style::default().add_modifier(Modifier::BOLD),
            ),
            Span::raw(format!(" — {}", run.title)),
        ]),
        Line::from(vec![
            label("target", theme),
            Span::raw(format!(
                "{} {} on {} ({host}) via {}",
                run.target.kind.label(),
                run.target.label,
                run.host,
                if app.ctx.simulated {
                    "local transport (sandbox)"
                } else {
                    "SSM"
                }
            )),
        ]),
        Line::from(vec![
            label("danger", theme),
            Span::styled(run.danger.label(), danger_style(run.danger, theme)),
            if run.production {
                Span::styled("  PRODUCTION", theme.badge(theme.production))
            } else {
                Span::raw("")
            },
            Span::styled(
                format!("   on failure: {}", run.on_failure),
                Style::default().fg(theme.muted),
            ),
        ]),
    ];
    if !run.params.is_empty() {
        let text: Vec<String> = run
            .params
            .iter()
            .map(|(k, v)| {
                let v = if v.contains('\n') {
                    format!(
                        "{} … ({} lines)",
                        v.lines().next().unwrap_or(""),
                        v.lines().count()
                    )
                } else {
                    v.clone()
                };
                format!("{k}={v}")
            })
            .collect();
        lines.push(Line::from(vec![
            label("params", theme),
            Span::raw(text.join("  ")),
        ]));
    }
    lines
}

/// The script as the preview shows it: the prelude and the rollback
/// runbook's script folded to a line each.
fn script_shown(script: &str, theme: &Theme) -> Vec<Line<'static>> {
    let fold = prelude_range(script);
    let rollback = rollback_range(script);
    let mut script_lines: Vec<Line> = Vec::new();
    for (i, l) in script.lines().enumerate() {
        if let Some((a, b)) = fold {
            if i == a {
                script_lines.push(Line::styled(
                    format!(
                        "# ▸ opsdeck prelude: {} lines of helpers (say, keep, wait_project_healthy, …), the same in every run",
                        b - a
                    ),
                    Style::default().fg(theme.muted),
                ));
            }
            if i >= a && i < b {
                continue;
            }
        }
        if let Some((a, b)) = rollback {
            if i == a {
                script_lines.push(Line::styled(
                    format!(
                        "# ▸ the rollback runbook's script ({} lines), run only if a step fails (opsdeck run --dry-run shows it whole)",
                        b - a
                    ),
                    Style::default().fg(theme.warn),
                ));
            }
            if i >= a && i < b {
                continue;
            }
        }
        script_lines.push(Line::raw(l.to_string()));
    }
    script_lines
}

/// `items` joined by `sep` into lines of at most `width` characters (an
/// item longer than a line gets a line of its own).
fn pack(items: &[String], sep: &str, width: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut cur = String::new();
    for it in items {
        if !cur.is_empty() && cur.chars().count() + sep.len() + it.chars().count() > width {
            lines.push(std::mem::take(&mut cur));
        }
        if !cur.is_empty() {
            cur.push_str(sep);
        }
        cur.push_str(it);
    }
    if !cur.is_empty() || lines.is_empty() {
        lines.push(cur);
    }
    lines
}
