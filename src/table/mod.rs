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
    /// A column the rows are grouped by (sorted so a group is together):
    /// the console shows its value on a group's first row only.
    pub group: Option<usize>,
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

/// Columns worth showing only when everything else fits whole: left out
/// before any other column gives up width (a cut port list reads as noise).
const DROP_FIRST: [&str; 1] = ["PORTS"];

/// Free-text columns that give up width after the others (the row's name
/// still last): what state a row is in.
const SHRINK_LAST: [&str; 1] = ["STATUS"];

/// Whether a column gives up width after the other free text.
pub fn shrinks_last(header: &str) -> bool {
    SHRINK_LAST.contains(&header)
}

/// Whether a column is left out before any other gives up width.
pub fn drops_first(header: &str) -> bool {
    DROP_FIRST.contains(&header)
}

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
            group: None,
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
    /// No row matched as typed: `visible` holds the fuzzy matches.
    pub fuzzy: bool,
    /// The answers for the shorter filters this one was typed from
    /// (filter, visible, fuzzy), so that erasing a character is a lookup,
    /// not a search of every row. Forgotten when the rows change.
    earlier: Vec<(String, Vec<usize>, bool)>,
}

/// How many earlier answers a list keeps (the longest filters typed).
const EARLIER: usize = 64;

impl ListState {
    /// Recompute the visible rows after the data changed (every row is
    /// searched), keeping the selected row if it is still there.
    pub fn refilter(&mut self, table: &TableData, matcher: &mut Matcher) {
        self.earlier.clear();
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
        // Back to a filter typed on the way here (Backspace)?
        if let Some(at) = self.earlier.iter().rposition(|(f, ..)| *f == self.filter) {
            self.earlier.truncate(at + 1);
        }
        if let Some((applied, visible, fuzzy)) = self.earlier.pop_if(|(f, ..)| *f == self.filter) {
            self.applied = applied;
            self.visible = visible;
            self.fuzzy = fuzzy;
            self.keep_selection(table);
        } else if narrowing {
            if self.earlier.len() == EARLIER {
                self.earlier.remove(0);
            }
            let candidates = std::mem::take(&mut self.visible);
            self.earlier
                .push((self.applied.clone(), candidates.clone(), self.fuzzy));
            self.filter_rows(table, matcher, Some(candidates));
        } else {
            self.earlier.clear();
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
        let (scoped, rest) = scoped_terms(&self.filter, &table.headers);
        if self.filter.trim().is_empty() {
            self.visible.clear();
            self.visible.extend(0..table.rows.len());
        } else {
            let pattern = Pattern::parse(&rest, CaseMatching::Smart, Normalization::Smart);
            let hay = table.haystacks();
            let narrowed = candidates.is_some();
            let rows: Vec<usize> = match candidates {
                Some(c) => c,
                None => (0..table.rows.len()).collect(),
            };
            let in_scope = |i: usize| {
                scoped.iter().all(|(col, needle, negative)| {
                    let cell = table.rows[i].cells.get(*col).map_or("", String::as_str);
                    let hit = match needle.strip_prefix('=') {
                        // `column:=value`: the whole cell, not a part of it.
                        Some(whole) => cell.to_lowercase() == whole,
                        None => cell.to_lowercase().contains(needle.as_str()),
                    };
                    hit != *negative
                })
            };
            // Rows where every word appears as typed are the answer; only
            // when none does is the match fuzzy (`failed` must not keep a
            // succeeded run whose letters happen to spell it).
            let mut exact = Vec::new();
            let mut fuzzy = Vec::new();
            for &i in &rows {
                if !in_scope(i) {
                    continue;
                }
                match match_kind(&pattern, hay[i].slice(..), matcher) {
                    Some(true) => exact.push(i),
                    Some(false) => fuzzy.push(i),
                    None => {}
                }
            }
            if exact.is_empty() && narrowed {
                // The rows kept so far were exact ones: fuzzy ones may lie
                // outside them, so search everything again.
                self.filter_rows(table, matcher, None);
                return;
            }
            self.fuzzy = exact.is_empty() && !fuzzy.is_empty();
            self.visible = if exact.is_empty() { fuzzy } else { exact };
            self.visible.sort_unstable();
        }
        self.keep_selection(table);
    }

    /// After `visible` changed: the remembered row if it is still shown,
    /// else the nearest position.
    fn keep_selection(&mut self, table: &TableData) {
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

/// Split `column:value` terms (a header, lower case, spaces as `_` or
/// `-`; `!column:value` excludes; `column:=value` matches the whole cell)
/// from the rest of a filter.
fn scoped_terms(filter: &str, headers: &[&str]) -> (Vec<(usize, String, bool)>, String) {
    let mut scoped = Vec::new();
    let mut rest = Vec::new();
    for word in filter.split_whitespace() {
        let (negative, w) = match word.strip_prefix('!') {
            Some(w) => (true, w),
            None => (false, word),
        };
        let col = w.split_once(':').and_then(|(name, value)| {
            let name = name.to_lowercase().replace(['_', '-'], " ");
            let col = headers.iter().position(|h| h.to_lowercase() == name)?;
            (!value.is_empty()).then(|| (col, value.to_lowercase()))
        });
        match col {
            Some((c, v)) => scoped.push((c, v, negative)),
            None => rest.push(word),
        }
    }
    (scoped, rest.join(" "))
}

/// Where the filter's plain words appear in `cell` (byte ranges, case
/// folded), to highlight them.
pub fn highlights(filter: &str, cell: &str) -> Vec<std::ops::Range<usize>> {
    // No filter (most frames): nothing to fold, nothing to allocate.
    if filter.trim().is_empty() {
        return vec![];
    }
    let lower = cell.to_lowercase();
    // Folding may change byte lengths: highlight only when it does not.
    if lower.len() != cell.len() {
        return vec![];
    }
    let mut out: Vec<std::ops::Range<usize>> = Vec::new();
    for word in filter.split_whitespace() {
        if word.starts_with('!') || word.contains(':') {
            continue;
        }
        let w = word
            .trim_start_matches(['\'', '^'])
            .trim_end_matches('$')
            .to_lowercase();
        if w.is_empty() {
            continue;
        }
        let mut from = 0;
        while let Some(i) = lower[from..].find(&w) {
            out.push(from + i..from + i + w.len());
            from += i + w.len();
        }
    }
    out.sort_by_key(|r| r.start);
    out
}

pub fn new_matcher() -> Matcher {
    Matcher::new(Config::DEFAULT)
}

/// Shorten a long path in the middle: `s3://bucket/…/entity_id=x/`.
pub fn elide_middle(s: &str, max: usize) -> String {
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
        assert_eq!(s2.visible, vec![1], "rows matching as typed are the answer");
        // Nothing matches as typed: the fuzzy matches, marked as such.
        s2.set_filter("gbsmsg".into(), &t2, &mut m);
        assert_eq!(s2.visible, vec![1, 2]);
        assert!(s2.fuzzy);
        s2.set_filter("g".into(), &t2, &mut m);
        assert_eq!(s2.visible, vec![0, 1, 2]);
        assert!(s.selected_row(&t).is_none());
        s.move_by(1, &t);
    }

    #[test]
    fn erasing_a_character_gives_what_a_fresh_search_gives() {
        let names = [
            "web-prod-1",
            "web-staging-1",
            "db-prod-1",
            "wbxprd",
            "web-prod-2",
        ];
        let t = table(&names);
        let mut m = new_matcher();
        let fresh = |f: &str, t: &TableData, m: &mut Matcher| {
            let mut s = ListState::default();
            s.refilter(t, m);
            s.set_filter(f.into(), t, m);
            (s.visible, s.fuzzy)
        };
        let mut s = ListState::default();
        s.refilter(&t, &mut m);
        // Type "web-prod", then fall into fuzzy ("wbprd"-like) territory,
        // then erase back one character at a time.
        let typed = ["w", "we", "web", "web-", "web-p", "web-pr", "web-prd"];
        for f in typed {
            s.set_filter(f.into(), &t, &mut m);
            assert_eq!(
                (s.visible.clone(), s.fuzzy),
                fresh(f, &t, &mut m),
                "typing {f}"
            );
        }
        for f in typed.iter().rev().skip(1) {
            s.set_filter(f.to_string(), &t, &mut m);
            assert_eq!(
                (s.visible.clone(), s.fuzzy),
                fresh(f, &t, &mut m),
                "erasing to {f}"
            );
        }
        // The rows change under a typed filter (a reload): erasing then
        // searches the new rows, not the answers kept for the old ones.
        s.set_filter("web-p".into(), &t, &mut m);
        let t2 = table(&["web-prod-9", "api-prod", "web-prod-1"]);
        s.refilter(&t2, &mut m);
        s.set_filter("web-".into(), &t2, &mut m);
        assert_eq!(s.visible, vec![0, 2]);
        s.set_filter("w".into(), &t2, &mut m);
        assert_eq!((s.visible.clone(), s.fuzzy), fresh("w", &t2, &mut m));
    }

    #[test]
    fn column_scoped_terms_and_no_fuzzy_noise() {
        let t = TableData::new(
            vec!["RUNBOOK", "STATUS", "RESULT"],
            [
                ("deploy", "failed", "failed step=pull"),
                ("restart", "succeeded", "flaky and idle daemon"),
                ("backup", "succeeded", "ok"),
            ]
            .iter()
            .enumerate()
            .map(|(i, (a, b, c))| Row {
                key: i.to_string(),
                cells: vec![a.to_string(), b.to_string(), c.to_string()],
                tone: Tone::Normal,
            })
            .collect(),
        );
        let mut m = new_matcher();
        let mut s = ListState::default();
        s.refilter(&t, &mut m);
        // "flaky and idle daemon" spells f-a-i-l-e-d: not kept.
        s.set_filter("failed".into(), &t, &mut m);
        assert_eq!(s.visible, vec![0]);
        s.set_filter("status:succeeded".into(), &t, &mut m);
        assert_eq!(s.visible, vec![1, 2]);
        s.set_filter("status:succ runbook:back".into(), &t, &mut m);
        assert_eq!(s.visible, vec![2]);
        s.set_filter("!status:failed".into(), &t, &mut m);
        assert_eq!(s.visible, vec![1, 2]);
        // A colon that names no column is plain text.
        s.set_filter("step=pull".into(), &t, &mut m);
        assert_eq!(s.visible, vec![0]);
        assert_eq!(
            highlights("fail pull", "failed step=pull"),
            vec![0..4, 12..16]
        );
        assert!(highlights("status:failed", "failed").is_empty());
    }
}
