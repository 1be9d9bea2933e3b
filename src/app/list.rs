//! Table data for every list screen, and the selection / fuzzy filter state
//! over it. Plain data: the UI decides how a row looks.

use nucleo_matcher::pattern::{CaseMatching, Normalization, Pattern};
use nucleo_matcher::{Config, Matcher, Utf32Str};

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

#[derive(Debug, Clone, PartialEq, Default)]
pub struct TableData {
    pub headers: Vec<&'static str>,
    pub rows: Vec<Row>,
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
}

impl ListState {
    /// Recompute the visible rows after the data or the filter changed,
    /// keeping the selected row if it is still there.
    pub fn refilter(&mut self, table: &TableData, matcher: &mut Matcher) {
        self.visible.clear();
        if self.filter.trim().is_empty() {
            self.visible.extend(0..table.rows.len());
        } else {
            let pattern = Pattern::parse(&self.filter, CaseMatching::Smart, Normalization::Smart);
            let mut buf = Vec::new();
            let mut hay = String::new();
            for (i, row) in table.rows.iter().enumerate() {
                hay.clear();
                for c in &row.cells {
                    hay.push_str(c);
                    hay.push(' ');
                }
                if pattern
                    .score(Utf32Str::new(&hay, &mut buf), matcher)
                    .is_some()
                {
                    self.visible.push(i);
                }
            }
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

pub fn new_matcher() -> Matcher {
    Matcher::new(Config::DEFAULT)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(names: &[&str]) -> TableData {
        TableData {
            headers: vec!["NAME"],
            rows: names
                .iter()
                .map(|n| Row {
                    key: n.to_string(),
                    cells: vec![n.to_string()],
                    tone: Tone::Normal,
                })
                .collect(),
        }
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
        s.filter = "fib prod".into();
        s.refilter(&t, &mut m);
        assert_eq!(s.visible, vec![2]);
        assert_eq!(
            s.selected_row(&t).unwrap().key,
            "filter-ical-backend-production"
        );
        s.filter = "nothing-matches-this".into();
        s.refilter(&t, &mut m);
        assert!(s.selected_row(&t).is_none());
        s.move_by(1, &t);
    }
}
