//! Themes are TOML files: `dark` and `light` ship in the binary (from
//! `themes/`), a user may point at their own file. NO_COLOR turns every
//! colour off and leaves bold / reverse to carry the meaning.

use ratatui::style::{Color, Modifier, Style};
use serde::Deserialize;
use std::str::FromStr;

pub use crate::config::themes::{DARK, LIGHT, builtin};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ThemeFile {
    name: String,
    fg: String,
    bg: String,
    accent: String,
    muted: String,
    border: String,
    header_fg: String,
    header_bg: String,
    selected_fg: String,
    selected_bg: String,
    good: String,
    warn: String,
    bad: String,
    dim: String,
    production: String,
    simulation: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Theme {
    pub name: String,
    pub fg: Color,
    pub bg: Color,
    pub accent: Color,
    pub muted: Color,
    pub border: Color,
    pub header_fg: Color,
    pub header_bg: Color,
    pub selected_fg: Color,
    pub selected_bg: Color,
    pub good: Color,
    pub warn: Color,
    pub bad: Color,
    pub dim: Color,
    pub production: Color,
    pub simulation: Color,
    /// NO_COLOR: every colour is the terminal's own.
    pub monochrome: bool,
}

impl Theme {
    pub fn parse(text: &str, source: &str) -> Result<Theme, String> {
        let f: ThemeFile = toml::from_str(text).map_err(|e| format!("theme {source}: {e}"))?;
        let c = |field: &str, v: &str| {
            Color::from_str(v)
                .map_err(|_| format!("theme {source}: field `{field}`: `{v}` is not a colour"))
        };
        Ok(Theme {
            name: f.name.clone(),
            fg: c("fg", &f.fg)?,
            bg: c("bg", &f.bg)?,
            accent: c("accent", &f.accent)?,
            muted: c("muted", &f.muted)?,
            border: c("border", &f.border)?,
            header_fg: c("header_fg", &f.header_fg)?,
            header_bg: c("header_bg", &f.header_bg)?,
            selected_fg: c("selected_fg", &f.selected_fg)?,
            selected_bg: c("selected_bg", &f.selected_bg)?,
            good: c("good", &f.good)?,
            warn: c("warn", &f.warn)?,
            bad: c("bad", &f.bad)?,
            dim: c("dim", &f.dim)?,
            production: c("production", &f.production)?,
            simulation: c("simulation", &f.simulation)?,
            monochrome: false,
        })
    }

    /// A built-in theme by name, or a theme file by path.
    pub fn load(name_or_path: &str) -> Result<Theme, String> {
        match builtin(name_or_path) {
            Some(text) => Theme::parse(text, name_or_path),
            None => {
                let text = std::fs::read_to_string(name_or_path)
                    .map_err(|e| format!("theme {name_or_path}: {e} (built in: dark, light)"))?;
                Theme::parse(&text, name_or_path)
            }
        }
    }

    #[allow(
        clippy::expect_used,
        reason = "the built-in theme ships in the binary and a unit test parses it"
    )]
    pub fn dark() -> Theme {
        Theme::parse(DARK, "dark").expect("built-in dark theme parses")
    }

    pub fn monochrome(mut self) -> Theme {
        for c in [
            &mut self.fg,
            &mut self.bg,
            &mut self.accent,
            &mut self.muted,
            &mut self.border,
            &mut self.header_fg,
            &mut self.header_bg,
            &mut self.selected_fg,
            &mut self.selected_bg,
            &mut self.good,
            &mut self.warn,
            &mut self.bad,
            &mut self.dim,
            &mut self.production,
            &mut self.simulation,
        ] {
            *c = Color::Reset;
        }
        self.monochrome = true;
        self
    }

    pub fn base(&self) -> Style {
        Style::default().fg(self.fg).bg(self.bg)
    }
    pub fn selected(&self) -> Style {
        let s = Style::default().fg(self.selected_fg).bg(self.selected_bg);
        if self.monochrome {
            s.add_modifier(Modifier::REVERSED)
        } else {
            s
        }
    }
    pub fn header(&self) -> Style {
        Style::default()
            .fg(self.header_fg)
            .bg(self.header_bg)
            .add_modifier(Modifier::BOLD)
    }
    pub fn badge(&self, color: Color) -> Style {
        if self.monochrome {
            Style::default().add_modifier(Modifier::BOLD | Modifier::REVERSED)
        } else {
            Style::default()
                .fg(Color::Black)
                .bg(color)
                .add_modifier(Modifier::BOLD)
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn both_builtin_themes_parse_and_bad_colours_name_the_field() {
        Theme::load("dark").unwrap();
        Theme::load("light").unwrap();
        let bad = DARK.replace("good = \"#5fd75f\"", "good = \"greenish\"");
        let e = Theme::parse(&bad, "mine.toml").unwrap_err();
        assert!(e.contains("field `good`"), "{e}");
    }

    #[test]
    fn no_color_leaves_only_modifiers() {
        let t = Theme::dark().monochrome();
        assert!(t.monochrome);
        assert_eq!(t.bad, Color::Reset);
        assert_eq!(t.production, Color::Reset);
        assert!(t.selected().add_modifier.contains(Modifier::REVERSED));
        assert!(
            t.badge(t.production)
                .add_modifier
                .contains(Modifier::REVERSED)
        );
    }
}
