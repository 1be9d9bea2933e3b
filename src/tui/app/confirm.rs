//! The one confirmation every dialog uses: a change goes ahead on Enter,
//! and where a name is asked (production, destructive) only once that name
//! is typed exactly; Esc aborts. Yes/no questions (cancel a run, quit with
//! runs going) answer on `y`, anything else is no.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// What the operator has typed towards a confirmation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Typed {
    pub text: String,
}

/// What a key did to a confirmation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// Enter, and the name (if one is asked) typed exactly.
    Go,
    /// Esc.
    Abort,
    /// Enter without the name: the dialog stays and says what to type.
    NotYet(String),
    /// Typing or erasing the name.
    Edited,
    /// A key this component does not use (the dialog's own: scroll, Tab…).
    Other,
}

/// Longest name accepted while typing (names are far shorter).
const MAX_TYPED: usize = 200;

impl Typed {
    /// Handle `key` for a dialog that asks `need` typed (or nothing).
    pub fn key(&mut self, need: Option<&str>, key: KeyEvent) -> Answer {
        match key.code {
            KeyCode::Esc => Answer::Abort,
            KeyCode::Enter => match need {
                Some(n) if self.text != n => Answer::NotYet(n.to_string()),
                _ => Answer::Go,
            },
            KeyCode::Backspace if need.is_some() => {
                self.text.pop();
                Answer::Edited
            }
            KeyCode::Char(c)
                if need.is_some() && !key.modifiers.contains(KeyModifiers::CONTROL) =>
            {
                if self.text.chars().count() < MAX_TYPED {
                    self.text.push(c);
                }
                Answer::Edited
            }
            _ => Answer::Other,
        }
    }

    /// A paste towards the name asked (none asked: ignored); line breaks
    /// and other control characters are not part of a name.
    pub fn paste(&mut self, need: Option<&str>, text: &str) {
        if need.is_none() {
            return;
        }
        let room = MAX_TYPED.saturating_sub(self.text.chars().count());
        self.text
            .extend(text.chars().filter(|c| !c.is_control()).take(room));
    }

    /// Whether what is typed is the name asked for.
    pub fn matches(&self, need: &str) -> bool {
        self.text == need
    }

    /// What is typed, where a name is asked (for [`crate::ops::consent`]).
    pub fn as_asked(&self, need: Option<&str>) -> Option<&str> {
        need.map(|_| self.text.as_str())
    }
}

/// The warning shown when Enter came before the name.
pub fn type_exactly(need: &str) -> String {
    format!("type {need} exactly to confirm (or Esc)")
}

/// A yes/no question: `y` is yes, any other key no.
pub fn yes(key: KeyEvent) -> bool {
    matches!(key.code, KeyCode::Char('y' | 'Y'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    #[test]
    fn enter_goes_only_with_the_name_typed() {
        let mut t = Typed::default();
        assert_eq!(
            t.key(Some("db"), k(KeyCode::Enter)),
            Answer::NotYet("db".into())
        );
        assert_eq!(t.key(Some("db"), k(KeyCode::Char('d'))), Answer::Edited);
        assert_eq!(t.key(Some("db"), k(KeyCode::Char('x'))), Answer::Edited);
        assert_eq!(t.key(Some("db"), k(KeyCode::Backspace)), Answer::Edited);
        assert_eq!(t.key(Some("db"), k(KeyCode::Char('b'))), Answer::Edited);
        assert!(t.matches("db"));
        assert_eq!(t.key(Some("db"), k(KeyCode::Enter)), Answer::Go);
        // Ctrl-letters are not typed; with no name asked, letters are the dialog's.
        let ctrl = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
        assert_eq!(t.key(Some("db"), ctrl), Answer::Other);
        assert_eq!(
            Typed::default().key(None, k(KeyCode::Char('j'))),
            Answer::Other
        );
        assert_eq!(Typed::default().key(None, k(KeyCode::Enter)), Answer::Go);
        assert_eq!(Typed::default().key(None, k(KeyCode::Esc)), Answer::Abort);
        assert!(yes(k(KeyCode::Char('y'))) && !yes(k(KeyCode::Enter)));
    }
}
