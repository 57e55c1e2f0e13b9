//! Text from outside (the org, the configuration file, a roster) made safe to show.
//!
//! Takes any string and hands on the same text with every control character
//! (Unicode category Cc) other than tab, line feed and carriage return replaced
//! by a visible stand-in:
//!
//! - U+0000–U+001F by its Control Pictures symbol, U+2400 + the code: NUL is
//!   `␀`, ESC is `␛`, BEL is `␇`;
//! - DEL (U+007F) by `␡` (U+2421);
//! - the C1 controls U+0080–U+009F, which have no picture, by `�` (U+FFFD).
//!
//! Why replace rather than drop or escape: a raw ESC in a terminal starts an
//! escape sequence, a raw NUL ends a string for C tools and is not allowed in
//! XML (so in XLSX), and every one of them is invisible in a spreadsheet or a
//! browser. A dropped character would hide that the org holds odd data; a
//! backslash escape would look like the org's own text. The pictures show
//! exactly which control it was, and no org text can contain them by accident.
//!
//! Every output that shows org text (CSV, HTML, XLSX) and every error message
//! goes through [`visible`], so a value looks the same everywhere.
//! `summary.json` needs no help: JSON writes controls as `\u0000` escapes.

use std::borrow::Cow;

/// Whether `c` is replaced: a control character other than tab, line feed and carriage return.
pub fn is_hidden_control(c: char) -> bool {
    c.is_control() && !matches!(c, '\t' | '\n' | '\r')
}

/// The visible stand-in of a hidden control character (see the module documentation).
fn picture(c: char) -> char {
    match c as u32 {
        code @ 0x00..=0x1F => char::from_u32(0x2400 + code).unwrap_or(char::REPLACEMENT_CHARACTER),
        0x7F => '\u{2421}',
        _ => char::REPLACEMENT_CHARACTER,
    }
}

/// `text` with every hidden control character replaced by its visible stand-in; borrowed when none.
pub fn visible(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_hidden_control) {
        return Cow::Borrowed(text);
    }
    Cow::Owned(text.chars().map(|c| if is_hidden_control(c) { picture(c) } else { c }).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_become_their_pictures() {
        assert_eq!(visible("a\0b"), "a\u{2400}b");
        assert_eq!(visible("\u{1b}[31mred"), "\u{241B}[31mred");
        assert_eq!(visible("bell\u{7}"), "bell\u{2407}");
        assert_eq!(visible("\u{1f}"), "\u{241F}");
        assert_eq!(visible("del\u{7f}"), "del\u{2421}");
        assert_eq!(visible("c1\u{85}\u{9b}"), "c1\u{FFFD}\u{FFFD}");
    }

    #[test]
    fn tab_newlines_and_other_text_stay() {
        for text in ["", "plain", "tab\there", "two\nlines\r\n", "\u{202E}rtl \u{1F600} é ␀ already a picture"] {
            assert!(matches!(visible(text), Cow::Borrowed(_)), "{text:?}");
        }
    }

    #[test]
    fn every_hidden_control_is_replaced_and_nothing_else() {
        for code in 0u32..0x110000 {
            let Some(c) = char::from_u32(code) else { continue };
            let shown = visible(&c.to_string()).into_owned();
            let hidden = code < 0x20 && !matches!(code, 0x09 | 0x0A | 0x0D) || (0x7F..=0x9F).contains(&code);
            if hidden {
                assert_ne!(shown, c.to_string(), "U+{code:04X}");
                assert!(!shown.chars().any(char::is_control), "U+{code:04X}");
            } else {
                assert_eq!(shown, c.to_string(), "U+{code:04X}");
            }
        }
    }
}
