//! The output pane's memory: a bounded ring of lines. The complete output
//! stays on disk (the engine's local log); memory stays bounded however long
//! a run talks.

use std::collections::VecDeque;

#[derive(Debug, Clone)]
pub struct OutputBuffer {
    lines: VecDeque<String>,
    partial: String,
    capacity: usize,
    /// Lines that fell out of the ring.
    pub dropped: u64,
    /// Complete lines received in total.
    pub total: u64,
}

pub const DEFAULT_CAPACITY: usize = 20_000;

impl Default for OutputBuffer {
    fn default() -> Self {
        Self::with_capacity(DEFAULT_CAPACITY)
    }
}

impl OutputBuffer {
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            lines: VecDeque::with_capacity(capacity.min(1024)),
            partial: String::new(),
            capacity: capacity.max(1),
            dropped: 0,
            total: 0,
        }
    }

    /// Append text that may hold several lines and a trailing partial line.
    pub fn push_str(&mut self, text: &str) {
        let mut rest = text;
        while let Some(nl) = rest.find('\n') {
            let (line, tail) = rest.split_at(nl);
            let line = line.strip_suffix('\r').unwrap_or(line);
            let full = if self.partial.is_empty() {
                line.to_string()
            } else {
                let mut p = std::mem::take(&mut self.partial);
                p.push_str(line);
                p
            };
            self.push_line(full);
            rest = &tail[1..];
        }
        self.partial.push_str(rest);
    }

    fn push_line(&mut self, line: String) {
        if self.lines.len() == self.capacity {
            self.lines.pop_front();
            self.dropped += 1;
        }
        self.lines.push_back(line);
        self.total += 1;
    }

    /// Lines kept in memory, plus the unfinished last line if any.
    pub fn len(&self) -> usize {
        self.lines.len() + usize::from(!self.partial.is_empty())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn line(&self, i: usize) -> Option<&str> {
        if i < self.lines.len() {
            self.lines.get(i).map(String::as_str)
        } else if i == self.lines.len() && !self.partial.is_empty() {
            Some(&self.partial)
        } else {
            None
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.lines
            .iter()
            .map(String::as_str)
            .chain((!self.partial.is_empty()).then_some(self.partial.as_str()))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn joins_partial_lines_across_chunks() {
        let mut b = OutputBuffer::default();
        b.push_str("step one\nstep t");
        b.push_str("wo\r\nthree");
        assert_eq!(
            b.iter().collect::<Vec<_>>(),
            ["step one", "step two", "three"]
        );
        assert_eq!(b.total, 2);
    }

    #[test]
    fn memory_is_bounded_by_the_ring() {
        let mut b = OutputBuffer::with_capacity(3);
        for i in 0..10 {
            b.push_str(&format!("{i}\n"));
        }
        assert_eq!(b.iter().collect::<Vec<_>>(), ["7", "8", "9"]);
        assert_eq!(b.dropped, 7);
        assert_eq!(b.total, 10);
    }
}
