//! Text as districts type it, reduced to what it means: NFKC (full-width `１８６２` → `1862`), no
//! zero-width characters, trimmed, inner whitespace collapsed; and header cells reduced to the key they
//! are matched by. A leaf module: the schema (config) and the validator both use it, it uses neither.

use std::borrow::Cow;

use unicode_normalization::{IsNormalized, UnicodeNormalization, is_nfkc_quick};

/// Characters that are invisible and carry no meaning in a cell.
fn is_zero_width(c: char) -> bool {
    matches!(
        c,
        '\u{200B}' | '\u{200C}' | '\u{200D}' | '\u{2060}' | '\u{FEFF}' | '\u{00AD}'
    )
}

/// Characters NFKC leaves alone that make up most cell text: printable ASCII and CJK unified
/// ideographs (a fast path before the table lookup).
fn is_nfkc_stable(c: char) -> bool {
    (' '..='~').contains(&c) || ('\u{4E00}'..='\u{9FFF}').contains(&c)
}

/// NFKC (full-width `１８６２` → `1862`), drop zero-width characters, trim, collapse inner whitespace.
/// Most cells (printable ASCII and CJK ideographs, single inner spaces) are already normal: one pass
/// over their characters proves it and borrows them.
pub fn normalize_text(s: &str) -> Cow<'_, str> {
    if is_already_normal(s) {
        return Cow::Borrowed(s);
    }
    if s.is_ascii() {
        return normalize_ascii(s);
    }
    let out: Cow<'_, str> =
        if s.chars().all(is_nfkc_stable) || is_nfkc_quick(s.chars()) == IsNormalized::Yes {
            Cow::Borrowed(s)
        } else {
            Cow::Owned(s.nfkc().collect())
        };
    clean(out)
}

/// Whether `normalize_text` leaves `s` as it is because every character is NFKC-stable (so none is
/// zero-width and the only whitespace is `' '`), none is a space at either end, and no two spaces
/// meet.
fn is_already_normal(s: &str) -> bool {
    let mut last = None;
    for c in s.chars() {
        if !is_nfkc_stable(c) || (c == ' ' && matches!(last, None | Some(' '))) {
            return false;
        }
        last = Some(c);
    }
    last != Some(' ')
}

/// An ASCII string: trimmed (of Unicode whitespace, which in ASCII includes the vertical tab) and its
/// whitespace collapsed when it has whitespace at an end, two ASCII whitespace bytes together, or an
/// ASCII whitespace byte other than `' '` (the vertical tab is not one, so an inner one is kept).
fn normalize_ascii(s: &str) -> Cow<'_, str> {
    let b = s.as_bytes();
    let needs_collapse = s.trim().len() != s.len()
        || b.windows(2)
            .any(|w| w[0].is_ascii_whitespace() && w[1].is_ascii_whitespace())
        || b.iter().any(|c| c.is_ascii_whitespace() && *c != b' ');
    match needs_collapse {
        true => Cow::Owned(collapse(s)),
        false => Cow::Borrowed(s),
    }
}

/// Text that is not all ASCII, after NFKC: its zero-width characters dropped, and its whitespace
/// collapsed when, once they are dropped, it has whitespace at an end, two ASCII whitespace characters
/// together or any whitespace but `' '`. One pass finds out; a second builds the result, if needed.
fn clean(out: Cow<'_, str>) -> Cow<'_, str> {
    let (mut zero_width, mut needs_collapse) = (false, false);
    let mut last: Option<char> = None;
    for c in out.chars() {
        if is_zero_width(c) {
            zero_width = true;
            continue;
        }
        let ws = c.is_whitespace();
        if (ws && (last.is_none() || c != ' '))
            || (c.is_ascii_whitespace() && last.is_some_and(|l| l.is_ascii_whitespace()))
        {
            needs_collapse = true;
        }
        last = Some(c);
    }
    if last.is_some_and(char::is_whitespace) {
        needs_collapse = true;
    }
    let kept = |t: &str| t.chars().filter(|&c| !is_zero_width(c)).collect::<String>();
    match (zero_width, needs_collapse) {
        (true, true) => Cow::Owned(collapse(&kept(&out))),
        (false, true) => Cow::Owned(collapse(&out)),
        (true, false) => Cow::Owned(kept(&out)),
        (false, false) => out,
    }
}

/// Words (runs of non-whitespace) joined by single spaces.
fn collapse(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A string's first 16 bytes as a number that orders as the bytes do (big-endian, zero-padded): two
/// numbers that differ order their strings; equal ones say nothing (compare the strings). Sorting on it
/// first keeps most comparisons off the strings themselves.
pub fn order_prefix(s: &str) -> u128 {
    let mut b = [0u8; 16];
    let n = s.len().min(16);
    b[..n].copy_from_slice(&s.as_bytes()[..n]);
    u128::from_be_bytes(b)
}

/// A header cell's text reduced to its matching key, and the unit it names, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderKey {
    pub key: String,
    pub unit: Option<String>,
}

/// Header matching key: NFKC, no whitespace at all, no `*` required-marks, and a trailing unit in brackets
/// (`(人)`, `（万元）`, `(%)`) split off into `unit`.
pub fn header_key(text: &str) -> HeaderKey {
    let normal = normalize_text(text);
    let mut key: String = normal
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '*')
        .collect();
    let mut unit = None;
    // NFKC has already turned full-width brackets into ASCII ones.
    while key.ends_with(')') {
        match key.rfind('(') {
            Some(open) if open > 0 => {
                let inner = key[open + 1..key.len() - 1].to_string();
                key.truncate(open);
                if unit.is_none() {
                    unit = Some(inner);
                }
            }
            _ => break,
        }
    }
    // "融资需求/万元" and "融资需求万元" also name a unit.
    for u in ["亿元", "万元", "元"] {
        if let Some(stripped) = key.strip_suffix(&format!("/{u}")) {
            unit.get_or_insert_with(|| u.to_string());
            key = stripped.to_string();
            break;
        }
    }
    HeaderKey { key, unit }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// `normalize_text` as it was written before it was made one pass: the reference it must equal.
    fn reference(s: &str) -> Cow<'_, str> {
        let ascii = s.is_ascii();
        let stable = ascii || s.chars().all(is_nfkc_stable);
        let mut out: Cow<'_, str> = if stable || is_nfkc_quick(s.chars()) == IsNormalized::Yes {
            Cow::Borrowed(s)
        } else {
            Cow::Owned(s.nfkc().collect())
        };
        if !stable && out.chars().any(is_zero_width) {
            out = Cow::Owned(out.chars().filter(|&c| !is_zero_width(c)).collect());
        }
        let needs_collapse = {
            let t = out.as_ref();
            t.trim().len() != t.len()
                || t.as_bytes()
                    .windows(2)
                    .any(|w| w[0].is_ascii_whitespace() && w[1].is_ascii_whitespace())
                || (!stable && t.chars().any(|c| c.is_whitespace() && c != ' '))
                || (ascii && t.bytes().any(|b| b.is_ascii_whitespace() && b != b' '))
        };
        if needs_collapse {
            Cow::Owned(out.split_whitespace().collect::<Vec<_>>().join(" "))
        } else {
            out
        }
    }

    /// Characters that take every branch: ASCII (spaces, tabs, the vertical tab, controls), CJK,
    /// full-width digits and punctuation, the ideographic space, no-break space, zero-width characters,
    /// a combining mark and a ligature.
    const CHARS: &[char] = &[
        'a', 'Z', '1', ' ', ' ', '\t', '\n', '\r', '\u{0B}', '\u{0C}', '\u{01}', '~', '济', '南',
        '市', '１', '８', '，', '（', '）', '\u{3000}', '\u{A0}', '\u{200B}', '\u{200C}',
        '\u{200D}', '\u{2060}', '\u{FEFF}', '\u{AD}', '\u{301}', 'é', 'ﬁ', '\u{2028}', '\u{85}',
    ];

    proptest! {
        // No regressions file: the top level holds only what the design names.
        #![proptest_config(ProptestConfig {
            failure_persistence: None,
            ..ProptestConfig::with_cases(4000)
        })]
        #[test]
        fn one_pass_normalisation_is_the_reference_one(
            picks in proptest::collection::vec(0..CHARS.len(), 0..12)
        ) {
            let s: String = picks.iter().map(|&i| CHARS[i]).collect();
            let (got, want) = (normalize_text(&s), reference(&s));
            prop_assert_eq!(&got, &want, "{:?}", s);
            prop_assert_eq!(
                matches!(got, Cow::Borrowed(_)),
                matches!(want, Cow::Borrowed(_)),
                "borrowed or not: {:?}", s
            );
        }
    }

    #[test]
    fn common_cells_are_borrowed_and_odd_ones_cleaned() {
        for s in ["plain", "济南市 历下区", "91370102MA0000001X", "a b c", ""] {
            assert!(matches!(normalize_text(s), Cow::Borrowed(_)), "{s:?}");
        }
        assert_eq!(normalize_text("１８６２"), "1862");
        assert_eq!(normalize_text("  济南\u{200B}市  历下区 "), "济南市 历下区");
        assert_eq!(normalize_text("a\u{3000}\u{3000}b"), "a b");
        assert_eq!(normalize_text("a \u{200B} b"), "a b");
        assert_eq!(normalize_text("a\u{0B}b"), "a\u{0B}b");
        assert_eq!(normalize_text("a\u{0B}"), "a");
        assert_eq!(
            normalize_text("原材料不足，物流不畅"),
            "原材料不足,物流不畅"
        );
    }
}
