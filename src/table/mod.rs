//! Table data for every list (the console's screens and `opsdeck ls`), the
//! row builders (`rows`), and the selection / fuzzy filter state over a
//! table. Plain data: the console decides how a row looks, `ls` prints it.

pub mod rows;

use nucleo_matcher::pattern::{AtomKind, CaseMatching, Normalization, Pattern};
use nucleo_matcher::{Config, Matcher, Utf32Str, Utf32String};
use std::sync::OnceLock;

/// How a row should stand out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    Normal,
    Good,
    Warn,
    Bad,
    Dim,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// Stable identity of the row (instance id, container name, key…).
    pub key: String,
    pub cells: Vec<String>,
    pub tone: Tone,
}

#[derive(Debug, Clone, Default)]
pub struct TableData {
    pub headers: Vec<&'static str>,
    pub rows: Vec<Row>,
    /// Each row's cells joined, as UTF-32 for the matcher: built once per
    /// table on the first filter, not on every keystroke.
    pub(crate) haystacks: OnceLock<Vec<Utf32String>>,
}

/// Columns whose values are ids, times, sizes or counts: shown whole or
/// not at all on a narrow terminal (`i-0b3c9d2e1f4a5000` would read as a
/// real id). The others are free text and give up width first, cut with `…`.
const WHOLE: [&str; 29] = [
    "ID",
    "REGION",
    "TYPE",
    "STATE",
    "PRIVATE IP",
    "PUBLIC IP",
    "SSM",
    "UP",
    "DEPLOYED",
    "LAST DEPLOY",
    "LAST BACKUP",
    "RESTARTS",
    "CPU",
    "MEM",
    "SIZE",
    "MODIFIED",
    "VERSION ID",
    "LATEST",
    "TAKEN AT",
    "AGE",
    "RUN",
    "STARTED",
    "ELAPSED",
    "EXIT",
    "TOOK",
    "HEALTH",
    "ENV",
    "CHECK",
    "INSTANCES",
];

/// Free-text columns that matter least: they give up their width before
/// the other free text (an image tag before a container's status).
const SHRINK_FIRST: [&str; 4] = ["IMAGE", "RESULT", "DETAIL", "RESOURCE"];

/// Whether a column gives up width before the other free text.
pub fn shrinks_first(header: &str) -> bool {
    SHRINK_FIRST.contains(&header)
}

/// Whether a column is shown whole or not at all (see [`WHOLE`]).
pub fn keeps_whole(header: &str) -> bool {
    WHOLE.contains(&header)
}

impl TableData {
    pub fn new(headers: Vec<&'static str>, rows: Vec<Row>) -> Self {
        Self {
            headers,
            rows,
            haystacks: OnceLock::new(),
        }
    }

    fn haystacks(&self) -> &[Utf32String] {
        self.haystacks.get_or_init(|| {
            self.rows
                .iter()
                .map(|r| Utf32String::from(r.cells.join(" ")))
                .collect()
        })
    }
}

/// Selection, scroll and filter of one list.
#[derive(Debug, Clone, Default)]
pub struct ListState {
    pub filter: String,
    /// Indices into the table's rows that pass the filter, in table order.
    pub visible: Vec<usize>,
    /// Position within `visible`.
    pub selected: usize,
    /// Remembered so the selection survives a reload.
    selected_key: Option<String>,
    /// The filter `visible` was computed for.
    applied: String,
}

impl ListState {
    /// Recompute the visible rows after the data changed (every row is
    /// searched), keeping the selected row if it is still there.
    pub fn refilter(&mut self, table: &TableData, matcher: &mut Matcher) {
        self.filter_rows(table, matcher, None);
    }

    /// Change the filter, as a keystroke does. When the new filter only
    /// extends the old one, only the rows that matched before are searched.
    pub fn set_filter(&mut self, filter: String, table: &TableData, matcher: &mut Matcher) {
        let narrowing = !self.applied.is_empty()
            && filter.starts_with(&self.applied)
            && !self.applied.ends_with(' ')
            && !self.applied.ends_with('\\');
        self.filter = filter;
        if narrowing {
            let candidates = std::mem::take(&mut self.visible);
            self.filter_rows(table, matcher, Some(candidates));
        } else {
            self.filter_rows(table, matcher, None);
        }
    }

    fn filter_rows(
        &mut self,
        table: &TableData,
        matcher: &mut Matcher,
        candidates: Option<Vec<usize>>,
    ) {
        self.applied = self.filter.clone();
        if self.filter.trim().is_empty() {
            self.visible.clear();
            self.visible.extend(0..table.rows.len());
        } else {
            let pattern = Pattern::parse(&self.filter, CaseMatching::Smart, Normalization::Smart);
            let hay = table.haystacks();
            let rows: Vec<usize> = match candidates {
                Some(c) => c,
                None => (0..table.rows.len()).collect(),
            };
            // Rows where every word appears as typed come first ("gabs stag"
            // puts gabs-massage before filter-ical staging); each group
            // keeps the list's order.
            let mut exact = Vec::new();
            let mut fuzzy = Vec::new();
            for i in rows {
                match match_kind(&pattern, hay[i].slice(..), matcher) {
                    Some(true) => exact.push(i),
                    Some(false) => fuzzy.push(i),
                    None => {}
                }
            }
            exact.sort_unstable();
            fuzzy.sort_unstable();
            exact.extend(fuzzy);
            self.visible = exact;
        }
        if let Some(key) = &self.selected_key
            && let Some(pos) = self.visible.iter().position(|&i| &table.rows[i].key == key)
        {
            self.selected = pos;
            return;
        }
        self.selected = self.selected.min(self.visible.len().saturating_sub(1));
        self.remember(table);
    }

    fn remember(&mut self, table: &TableData) {
        self.selected_key = self
            .visible
            .get(self.selected)
            .map(|&i| table.rows[i].key.clone());
    }

    pub fn move_by(&mut self, delta: isize, table: &TableData) {
        if self.visible.is_empty() {
            return;
        }
        let max = self.visible.len() as isize - 1;
        self.selected = (self.selected as isize + delta).clamp(0, max) as usize;
        self.remember(table);
    }

    pub fn to_top(&mut self, table: &TableData) {
        self.selected = 0;
        self.remember(table);
    }

    pub fn to_bottom(&mut self, table: &TableData) {
        self.selected = self.visible.len().saturating_sub(1);
        self.remember(table);
    }

    pub fn selected_row<'a>(&self, table: &'a TableData) -> Option<&'a Row> {
        self.visible.get(self.selected).map(|&i| &table.rows[i])
    }
}

/// Whether every atom of `pattern` matches (None: no), and if so whether
/// every fuzzy word also appears as a plain substring (Some(true)). No score
/// is needed: fuzzy atoms use the greedy subsequence test, which finds a
/// match whenever one exists, at a fraction of the optimal scorer's cost.
fn match_kind(pattern: &Pattern, hay: Utf32Str<'_>, matcher: &mut Matcher) -> Option<bool> {
    let mut exact = true;
    for atom in &pattern.atoms {
        if atom.kind == AtomKind::Fuzzy && !atom.negative {
            let needle = atom.needle_text();
            // Smart case, as Pattern::parse decided: folded needles are lower case.
            matcher.config.ignore_case = !needle.chars().any(char::is_uppercase);
            matcher.fuzzy_match_greedy(hay, needle)?;
            if exact && matcher.substring_match(hay, needle).is_none() {
                exact = false;
            }
        } else {
            atom.score(hay, matcher)?;
        }
    }
    Some(exact)
}

pub fn new_matcher() -> Matcher {
    Matcher::new(Config::DEFAULT)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn table(names: &[&str]) -> TableData {
        TableData::new(
            vec!["NAME"],
            names
                .iter()
                .map(|n| Row {
                    key: n.to_string(),
                    cells: vec![n.to_string()],
                    tone: Tone::Normal,
                })
                .collect(),
        )
    }

    #[test]
    fn fuzzy_filter_keeps_order_and_selection() {
        let t = table(&[
            "paiss-web-staging",
            "filter-ical-backend-staging",
            "filter-ical-backend-production",
        ]);
        let mut m = new_matcher();
        let mut s = ListState::default();
        s.refilter(&t, &mut m);
        s.move_by(2, &t);
        assert_eq!(
            s.selected_row(&t).unwrap().key,
            "filter-ical-backend-production"
        );
        s.set_filter("fib".into(), &t, &mut m);
        assert_eq!(s.visible, vec![1, 2]);
        s.set_filter("fib prod".into(), &t, &mut m);
        assert_eq!(s.visible, vec![2]);
        // Deleting a character widens again: every row is searched.
        s.set_filter("fib".into(), &t, &mut m);
        assert_eq!(s.visible, vec![1, 2]);
        s.set_filter("fib prod".into(), &t, &mut m);
        assert_eq!(
            s.selected_row(&t).unwrap().key,
            "filter-ical-backend-production"
        );
        // Smart case: an upper-case letter makes the match case-sensitive.
        s.set_filter("PAISS".into(), &t, &mut m);
        assert!(s.visible.is_empty());
        s.set_filter("!staging".into(), &t, &mut m);
        assert_eq!(s.visible, vec![2]);
        s.set_filter("nothing-matches-this".into(), &t, &mut m);
        // Words typed as they appear rank first; the rest keep their order.
        let t2 = table(&[
            "filter-ical staging 2d ago bbs",
            "gabs-massage staging",
            "gabs-massage production",
        ]);
        let mut s2 = ListState::default();
        s2.refilter(&t2, &mut m);
        s2.set_filter("gabs stag".into(), &t2, &mut m);
        assert_eq!(s2.visible, vec![1, 0]);
        s2.set_filter("g".into(), &t2, &mut m);
        assert_eq!(s2.visible, vec![0, 1, 2]);
        assert!(s.selected_row(&t).is_none());
        s.move_by(1, &t);
    }
}
