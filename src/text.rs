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
pub fn normalize_text(s: &str) -> Cow<'_, str> {
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
        let collapsed = out.split_whitespace().collect::<Vec<_>>().join(" ");
        Cow::Owned(collapsed)
    } else {
        out
    }
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
