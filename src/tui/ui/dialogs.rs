//! Popups: help (from the keymap and the command table), details (wrapped,
//! scrolled), the confirmation of a change, yes/no questions, and the one
//! way a typed name is drawn.

use super::*;

pub(super) fn draw_help(f: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let mut lines = vec![
        Line::styled(
            format!("{} — keys", app.screen.title()),
            Style::default().add_modifier(Modifier::BOLD),
        ),
        Line::raw(""),
    ];
    let section = app.screen.view().keys();
    if section != crate::tui::app::keymap::Section::Screens {
        lines.insert(
            1,
            Line::styled(
                format!(
                    "keys of {} ([{}] in keymap.toml)",
                    section.about(),
                    section.name()
                ),
                Style::default().fg(theme.muted),
            ),
        );
    }
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
        let keys = app.keymap.keys_in(section, a).join(" ");
        lines.push(Line::from(vec![
            Span::styled(format!("{keys:>14}  "), Style::default().fg(theme.accent)),
            Span::raw(a.describe()),
        ]));
    }
    // The screens' keys and the palette's commands, from the keymap and
    // the command table: what this help says is what the keys do.
    let screens: Vec<String> = Screen::tabs()
        .filter_map(|s| {
            let key = app.keymap.keys_for(Action::Go(s)).into_iter().next()?;
            Some(format!("{key} {}", s.title().to_lowercase()))
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
    let cmds: Vec<String> = crate::tui::app::Screen::commands()
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
pub(super) fn draw_detail(
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

pub(super) fn draw_action_confirm(
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
pub(in crate::tui::ui) fn typed_span(
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

pub(super) fn draw_confirm(f: &mut Frame, area: Rect, theme: &Theme, title: &str, text: &str) {
    // As wide as its longest line (64 at least, the screen at most), and as
    // tall as its lines once wrapped: the answer keys on the last line
    // are never cut off.
    let longest = text.lines().map(|l| l.chars().count()).max().unwrap_or(0);
    let width = u16::try_from(longest + 2)
        .unwrap_or(u16::MAX)
        .clamp(64, area.width.saturating_sub(2).max(64));
    let inner = usize::from(width.saturating_sub(2)).max(1);
    let rows: usize = text
        .lines()
        .map(|l| l.chars().count().div_ceil(inner).max(1))
        .sum();
    let r = centered(area, width, u16::try_from(rows + 2).unwrap_or(u16::MAX));
    f.render_widget(Clear, r);
    f.render_widget(
        Paragraph::new(text.to_string())
            .wrap(Wrap { trim: false })
            .block(popup(title, theme.warn, theme)),
        r,
    );
}
