//! Turn a ratatui buffer into an SVG "screenshot" (monospace text with the
//! theme's colours), deterministic byte for byte.

use ratatui::buffer::Buffer;
use ratatui::style::{Color, Modifier};

const CELL_W: f32 = 8.4;
const CELL_H: f32 = 17.0;
const DEFAULT_FG: &str = "#d0d0d0";
const DEFAULT_BG: &str = "#1c1c1c";

fn hex(c: Color, default: &str) -> String {
    match c {
        Color::Reset => default.to_string(),
        Color::Rgb(r, g, b) => format!("#{r:02x}{g:02x}{b:02x}"),
        Color::Black => "#000000".into(),
        Color::Red => "#cd3131".into(),
        Color::Green => "#0dbc79".into(),
        Color::Yellow => "#e5e510".into(),
        Color::Blue => "#2472c8".into(),
        Color::Magenta => "#bc3fbc".into(),
        Color::Cyan => "#11a8cd".into(),
        Color::Gray => "#b0b0b0".into(),
        Color::DarkGray => "#767676".into(),
        Color::LightRed => "#f14c4c".into(),
        Color::LightGreen => "#23d18b".into(),
        Color::LightYellow => "#f5f543".into(),
        Color::LightBlue => "#3b8eea".into(),
        Color::LightMagenta => "#d670d6".into(),
        Color::LightCyan => "#29b8db".into(),
        Color::White => "#ffffff".into(),
        Color::Indexed(i) => format!("#{0:02x}{0:02x}{0:02x}", i),
    }
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

pub fn render(buf: &Buffer) -> String {
    let w = buf.area.width;
    let h = buf.area.height;
    let mut out = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{:.0}\" height=\"{:.0}\" font-family=\"DejaVu Sans Mono, Menlo, Consolas, monospace\" font-size=\"14\">\n<rect width=\"100%\" height=\"100%\" fill=\"{DEFAULT_BG}\"/>\n",
        w as f32 * CELL_W + 16.0,
        h as f32 * CELL_H + 16.0
    );
    for y in 0..h {
        let ty = 8.0 + y as f32 * CELL_H;
        // Backgrounds: runs of the same colour.
        let mut x = 0;
        while x < w {
            let bg = hex(buf[(x, y)].bg, DEFAULT_BG);
            let start = x;
            while x < w && hex(buf[(x, y)].bg, DEFAULT_BG) == bg {
                x += 1;
            }
            if bg != DEFAULT_BG {
                out.push_str(&format!(
                    "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{CELL_H}\" fill=\"{bg}\"/>\n",
                    8.0 + start as f32 * CELL_W,
                    ty,
                    (x - start) as f32 * CELL_W
                ));
            }
        }
        // Text: one <text> per run of same style, placed per cell for alignment.
        let mut x = 0;
        while x < w {
            let cell = &buf[(x, y)];
            let fg = hex(cell.fg, DEFAULT_FG);
            let bold = cell.modifier.contains(Modifier::BOLD);
            let start = x;
            let mut s = String::new();
            while x < w {
                let c = &buf[(x, y)];
                if hex(c.fg, DEFAULT_FG) != fg || c.modifier.contains(Modifier::BOLD) != bold {
                    break;
                }
                s.push_str(c.symbol());
                x += 1;
            }
            if s.trim().is_empty() {
                continue;
            }
            out.push_str(&format!(
                "<text x=\"{:.1}\" y=\"{:.1}\" fill=\"{fg}\"{} textLength=\"{:.1}\" xml:space=\"preserve\">{}</text>\n",
                8.0 + start as f32 * CELL_W,
                ty + CELL_H * 0.78,
                if bold { " font-weight=\"bold\"" } else { "" },
                (x - start) as f32 * CELL_W,
                esc(&s)
            ));
        }
    }
    out.push_str("</svg>\n");
    out
}
