//! Editing one line of text with a cursor, as shells do: ←/→, Home/End
//! (Ctrl-A/Ctrl-E), Backspace/Delete, Ctrl-U (to the start), Ctrl-K (to
//! the end), Ctrl-W (the word before the cursor); typing and pasting insert
//! at the cursor. The cursor counts characters, not bytes.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// What a key did to the line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Edit {
    /// The text changed.
    Changed,
    /// Only the cursor moved.
    Moved,
    /// Not an editing key.
    Ignored,
}

fn byte_at(text: &str, chars: usize) -> usize {
    text.char_indices()
        .nth(chars)
        .map_or(text.len(), |(i, _)| i)
}

/// Insert `s` at `cursor` and move the cursor past it.
pub fn insert(text: &mut String, cursor: &mut usize, s: &str) {
    let at = byte_at(text, *cursor);
    text.insert_str(at, s);
    *cursor += s.chars().count();
}

/// Apply `key` to `text` with its cursor.
pub fn edit(text: &mut String, cursor: &mut usize, key: KeyEvent) -> Edit {
    let len = text.chars().count();
    *cursor = (*cursor).min(len);
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    let remove = |text: &mut String, from: usize, to: usize| {
        let (a, b) = (byte_at(text, from), byte_at(text, to));
        text.replace_range(a..b, "");
    };
    match key.code {
        KeyCode::Left if *cursor > 0 => *cursor -= 1,
        KeyCode::Right if *cursor < len => *cursor += 1,
        KeyCode::Home => *cursor = 0,
        KeyCode::End => *cursor = len,
        KeyCode::Char('a') if ctrl => *cursor = 0,
        KeyCode::Char('e') if ctrl => *cursor = len,
        KeyCode::Backspace if *cursor > 0 => {
            remove(text, *cursor - 1, *cursor);
            *cursor -= 1;
            return Edit::Changed;
        }
        KeyCode::Delete if *cursor < len => {
            remove(text, *cursor, *cursor + 1);
            return Edit::Changed;
        }
        KeyCode::Char('u') if ctrl => {
            remove(text, 0, *cursor);
            *cursor = 0;
            return Edit::Changed;
        }
        KeyCode::Char('k') if ctrl => {
            remove(text, *cursor, len);
            return Edit::Changed;
        }
        KeyCode::Char('w') if ctrl => {
            let chars: Vec<char> = text.chars().collect();
            let mut from = *cursor;
            while from > 0 && chars[from - 1].is_whitespace() {
                from -= 1;
            }
            while from > 0 && !chars[from - 1].is_whitespace() {
                from -= 1;
            }
            remove(text, from, *cursor);
            *cursor = from;
            return Edit::Changed;
        }
        KeyCode::Char(c) if !ctrl => {
            insert(text, cursor, c.encode_utf8(&mut [0; 4]));
            return Edit::Changed;
        }
        KeyCode::Left | KeyCode::Right | KeyCode::Backspace | KeyCode::Delete => {}
        _ => return Edit::Ignored,
    }
    Edit::Moved
}

/// A window of `text` at most `width` characters wide that shows the
/// cursor, with `…` where it is cut, and the cursor's column in it.
pub fn view(text: &str, cursor: usize, width: usize) -> (String, usize) {
    let chars: Vec<char> = text.chars().collect();
    let width = width.max(8);
    if chars.len() < width {
        return (text.to_string(), cursor.min(chars.len()));
    }
    let start = cursor
        .saturating_sub(width / 2)
        .min(chars.len() + 1 - width);
    let end = (start + width - 1).min(chars.len());
    let mut s: String = chars[start..end].iter().collect();
    let mut col = cursor - start;
    if start > 0 {
        s.replace_range(..s.char_indices().nth(1).map_or(s.len(), |(i, _)| i), "…");
    }
    if end < chars.len() {
        s.push('…');
    }
    col = col.min(s.chars().count());
    (s, col)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn k(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }
    fn ctrl(c: char) -> KeyEvent {
        KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL)
    }

    #[test]
    fn edits_like_a_shell_line() {
        let mut t = String::from("200");
        let mut c = 3;
        assert_eq!(edit(&mut t, &mut c, k(KeyCode::Home)), Edit::Moved);
        edit(&mut t, &mut c, k(KeyCode::Char('1')));
        assert_eq!((t.as_str(), c), ("1200", 1));
        edit(&mut t, &mut c, k(KeyCode::Right));
        edit(&mut t, &mut c, k(KeyCode::Delete));
        assert_eq!(t, "120");
        edit(&mut t, &mut c, k(KeyCode::End));
        edit(&mut t, &mut c, k(KeyCode::Left));
        edit(&mut t, &mut c, k(KeyCode::Backspace));
        assert_eq!((t.as_str(), c), ("10", 1));
        edit(&mut t, &mut c, ctrl('u'));
        assert_eq!((t.as_str(), c), ("0", 0));
        let mut t = String::from("select * from événements");
        let mut c = t.chars().count();
        edit(&mut t, &mut c, ctrl('w'));
        assert_eq!(t, "select * from ");
        edit(&mut t, &mut c, ctrl('w'));
        assert_eq!(t, "select * ");
        edit(&mut t, &mut c, ctrl('a'));
        edit(&mut t, &mut c, ctrl('k'));
        assert_eq!((t.as_str(), c), ("", 0));
        assert_eq!(edit(&mut t, &mut c, k(KeyCode::Tab)), Edit::Ignored);
    }

    #[test]
    fn a_long_value_shows_a_window_around_the_cursor() {
        let t: String = "x".repeat(1000);
        let (s, col) = view(&t, 500, 40);
        assert_eq!(s.chars().count(), 40);
        assert!(s.starts_with('…') && s.ends_with('…'));
        assert_eq!(col, 20);
        let (s, col) = view(&t, 1000, 40);
        assert!(s.starts_with('…') && !s.ends_with('…'));
        assert_eq!(col, s.chars().count());
        assert_eq!(view("short", 2, 40), ("short".into(), 2));
    }
}
