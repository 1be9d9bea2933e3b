//! The lists: column widths for the terminal at hand (free text gives way
//! first, ids and times are whole or left out), cuts shown with `…`, the
//! filter's matches underlined, marks for problem rows, titles and loading.

use super::*;

pub(super) fn tone_style(t: Tone, theme: &Theme) -> Style {
    match t {
        Tone::Normal => Style::default().fg(theme.fg),
        Tone::Good => Style::default().fg(theme.good),
        Tone::Warn => Style::default().fg(theme.warn),
        Tone::Bad => Style::default().fg(theme.bad).add_modifier(Modifier::BOLD),
        Tone::Dim => Style::default().fg(theme.dim),
    }
}

pub(super) fn screen_title(app: &App, s: Screen) -> String {
    s.view().title(app).unwrap_or_else(|| s.title().to_string())
}

/// Each column's width on screen, `None` where a column is left out. Sized
/// to what is shown; when the terminal is narrow, free-text columns give
/// up width first (widest first, the row's name last), then id, time and
/// number columns are left out from the right rather than cut mid-value.
/// Extras (ports) are left out before anything is cut.
pub(super) fn column_widths(
    table: &TableData,
    visible: &[usize],
    width: u16,
) -> Vec<Option<usize>> {
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
    for c in (1..n).rev() {
        if total(&w, &shown) > avail && crate::table::drops_first(table.headers[c]) {
            shown[c] = false;
        }
    }
    while total(&w, &shown) > avail {
        let shrinkable = |c: usize, hard: bool| shown[c] && !whole[c] && w[c] > floor(c, hard);
        let widest = |from: usize, hard: bool| {
            (from..n)
                .filter(|&c| shrinkable(c, hard))
                .max_by_key(|&c| w[c])
        };
        let first =
            (1..n).find(|&c| shrinkable(c, false) && crate::table::shrinks_first(table.headers[c]));
        // Other free text before a status (a cut `Restarting (137) …` hides why).
        let before_status = (1..n)
            .filter(|&c| shrinkable(c, false) && !crate::table::shrinks_last(table.headers[c]))
            .max_by_key(|&c| w[c]);
        if let Some(c) = first
            .or(before_status)
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
pub(super) fn fit(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_string();
    }
    let mut s: String = text.chars().take(width.saturating_sub(1)).collect();
    s.push('…');
    s
}

/// A cell with the filter's words underlined and bold where they appear.
pub(super) fn highlighted(text: String, filter: &str, theme: &Theme) -> Line<'static> {
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
pub(super) fn tone_mark(tone: Tone) -> &'static str {
    match tone {
        Tone::Bad => "✗",
        Tone::Warn => "!",
        _ => " ",
    }
}

pub(super) fn draw_table(f: &mut Frame, area: Rect, app: &App, theme: &Theme, s: Screen) {
    let table = app.table(s);
    let list = app.list(s);
    let (loading, error) = s.view().status(app);
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
    if let Some(badge) = s.view().badge(app) {
        title.push(Span::styled(
            format!("{badge} "),
            Style::default().fg(theme.accent),
        ));
    }
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
            format!("{} loading ", SPINNER[app.nav.spinner % SPINNER.len()]),
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
        // A group's value shows on its first row (and the selected one).
        let same_group = |c: usize| {
            table.group == Some(c)
                && offset + pos != list.selected
                && list
                    .visible
                    .get((offset + pos).wrapping_sub(1))
                    .is_some_and(|&p| table.rows[p].cells.get(c) == r.cells.get(c))
        };
        let cells = cols.iter().map(|&(c, w)| {
            let cell = if same_group(c) {
                ""
            } else {
                r.cells.get(c).map_or("", String::as_str)
            };
            let text = fit(cell, w);
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
