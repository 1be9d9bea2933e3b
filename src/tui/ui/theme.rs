//! Themes are TOML files: `dark` and `light` ship in the binary (from
//! `themes/`), a user may point at their own file. NO_COLOR turns every
//! colour off and leaves bold / reverse to carry the meaning.

use ratatui::style::{Color, Modifier, Style};
use serde::Deserialize;
use std::str::FromStr;

pub use crate::config::themes::{DARK, LIGHT, builtin};

message_error!(
    /// Why a theme cannot be read (the file and what is wrong).
    ThemeError
);

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
    pub fn parse(text: &str, source: &str) -> Result<Theme, ThemeError> {
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
    pub fn load(name_or_path: &str) -> Result<Theme, ThemeError> {
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
                .fg(badge_text(color))
                .bg(color)
                .add_modifier(Modifier::BOLD)
        }
    }
}

/// Relative luminance (WCAG 2) of a colour given as RGB; `None` for the
/// terminal's own and for palette colours whose value the terminal decides.
pub fn luminance(c: Color) -> Option<f64> {
    let Color::Rgb(r, g, b) = c else {
        return match c {
            Color::Black => Some(0.0),
            Color::White => Some(1.0),
            _ => None,
        };
    };
    let lin = |v: u8| {
        let v = f64::from(v) / 255.0;
        if v <= 0.039_28 {
            v / 12.92
        } else {
            ((v + 0.055) / 1.055).powf(2.4)
        }
    };
    Some(0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b))
}

/// WCAG contrast ratio of two colours (1 to 21), when both are known.
pub fn contrast(a: Color, b: Color) -> Option<f64> {
    let (x, y) = (luminance(a)?, luminance(b)?);
    let (hi, lo) = if x > y { (x, y) } else { (y, x) };
    Some((hi + 0.05) / (lo + 0.05))
}

/// Black or white on a badge of `bg`, whichever reads better.
fn badge_text(bg: Color) -> Color {
    match (contrast(Color::Black, bg), contrast(Color::White, bg)) {
        (Some(black), Some(white)) if white > black => Color::White,
        _ => Color::Black,
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

    #[test]
    fn badges_read_at_4_5_to_1_and_no_text_uses_palette_colour_8() {
        for name in ["dark", "light"] {
            let t = Theme::load(name).unwrap();
            for (what, c) in [("PRODUCTION", t.production), ("SANDBOX", t.simulation)] {
                let style = t.badge(c);
                let ratio = contrast(style.fg.unwrap(), c).unwrap();
                assert!(ratio >= 4.5, "{name}: {what} badge {ratio:.2}:1");
            }
            for c in [
                t.fg, t.accent, t.muted, t.border, t.good, t.warn, t.bad, t.dim,
            ] {
                assert!(
                    !matches!(c, Color::DarkGray | Color::Indexed(8)),
                    "{name}: colour 8 is invisible on some dark schemes"
                );
            }
        }
        // The light theme's purple badge was black on #8700af: 2.65:1.
        assert!(contrast(Color::Black, Color::Rgb(0x87, 0, 0xaf)).unwrap() < 3.0);
    }
}
