//! Text made safe for a terminal: descriptions, outputs, discoveries and reports are
//! written by agents, and an escape sequence in them, printed raw, could retitle the
//! terminal, clear it, move the cursor over what was printed, or hide text. What
//! people read (the CLI's human output, the run's report) shows every such character
//! as a visible escape instead.

use std::borrow::Cow;

/// `text` with every character that could steer a terminal shown as an escape:
/// C0 controls but newline and tab, DEL, C1 controls, the bidirectional overrides,
/// isolates and marks that reorder what follows them, and the invisible line and
/// paragraph separators and byte order mark.
pub fn text(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_steering) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\r' => out.push_str("\\r"),
            '\0' => out.push_str("\\0"),
            c if is_steering(c) && (c as u32) < 0x100 => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c if is_steering(c) => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// Whether `c` could steer a terminal or hide what follows it.
pub fn is_steering(c: char) -> bool {
    match c {
        '\n' | '\t' => false,
        '\u{0}'..='\u{1f}' | '\u{7f}'..='\u{9f}' => true,
        // Bidirectional embeddings, overrides and isolates, and the marks.
        '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' => true,
        '\u{200e}' | '\u{200f}' | '\u{061c}' => true,
        // Line and paragraph separators, and the byte order mark (invisible).
        '\u{2028}' | '\u{2029}' | '\u{feff}' => true,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_become_visible_escapes_and_newlines_and_tabs_stay() {
        let cases = [
            ("plain text, ünïcode ✓", "plain text, ünïcode ✓"),
            ("two\nlines\tand a tab", "two\nlines\tand a tab"),
            ("\u{1b}]0;pwned\u{7}title", "\\x1b]0;pwned\\x07title"),
            ("\u{1b}[2J\u{1b}[1;1Hcleared", "\\x1b[2J\\x1b[1;1Hcleared"),
            ("over\rwritten", "over\\rwritten"),
            ("nul\0byte", "nul\\0byte"),
            ("del\u{7f} and C1 \u{9b}31m", "del\\x7f and C1 \\x9b31m"),
            (
                "bidi \u{202e}desrever\u{2069}",
                "bidi \\u{202e}desrever\\u{2069}",
            ),
            (
                "marks \u{200f}\u{61c} lines\u{2028}\u{2029} bom\u{feff}",
                "marks \\u{200f}\\u{61c} lines\\u{2028}\\u{2029} bom\\u{feff}",
            ),
            (
                "a family 👨\u{200d}👩\u{200d}👧 stays",
                "a family 👨\u{200d}👩\u{200d}👧 stays",
            ),
        ];
        for (raw, shown) in cases {
            assert_eq!(text(raw), shown, "{raw:?}");
        }
    }
}
