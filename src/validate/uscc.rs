//! 统一社会信用代码 (unified social credit code), GB 32100-2015: 18 characters from a 31-character set
//! (digits and capitals without I, O, S, V, Z); the last is a check character over the first 17.

/// The code's character set; a character's value is its index.
const CHARSET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
/// Weight of position i is 3^i mod 31.
const WEIGHTS: [u32; 17] = [
    1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
];

/// Why a code is not a valid USCC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UsccProblem {
    Length(usize),
    Charset { position: usize, character: char },
    CheckDigit { expected: char, found: char },
}

impl UsccProblem {
    /// A message a district clerk can act on.
    pub fn message(&self) -> String {
        match self {
            UsccProblem::Length(n) => {
                format!("统一社会信用代码应为18位，实际为{n}位，请核对是否多填或漏填")
            }
            UsccProblem::Charset {
                position,
                character,
            } => format!(
                "统一社会信用代码第{position}位“{character}”不是有效字符（只能是数字和除 I、O、S、V、Z 以外的大写字母），请核对"
            ),
            UsccProblem::CheckDigit { expected, found } => format!(
                "统一社会信用代码校验位错误：按前17位计算，第18位应为“{expected}”，实际为“{found}”，请核对是否抄错"
            ),
        }
    }
}

/// Canonical form: uppercase, spaces and `-` dropped (NFKC is applied by the caller).
pub fn canonical(code: &str) -> String {
    // Most codes are typed as they should be: no copy-and-filter needed.
    if code
        .bytes()
        .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase())
    {
        return code.to_string();
    }
    code.chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .flat_map(char::to_uppercase)
        .collect()
}

fn value_of(c: char) -> Option<u32> {
    u8::try_from(c)
        .ok()
        .and_then(|b| CHARSET.iter().position(|&x| x == b))
        .and_then(|i| u32::try_from(i).ok())
}

/// The check character for the first 17 characters, or None if one is outside the charset.
pub fn check_character(first17: &str) -> Option<char> {
    let mut sum = 0u32;
    let mut n = 0;
    for (c, w) in first17.chars().zip(WEIGHTS) {
        sum += value_of(c)? * w;
        n += 1;
    }
    if n != 17 {
        return None;
    }
    let check = (31 - sum % 31) % 31;
    Some(char::from(CHARSET[check as usize]))
}

/// Validate a canonical code.
pub fn validate(code: &str) -> Result<(), UsccProblem> {
    // The common case, 18 ASCII characters, without allocating.
    if code.len() == 18 && code.is_ascii() {
        let b = code.as_bytes();
        if let Some((i, &c)) = b
            .iter()
            .enumerate()
            .find(|(_, c)| value_of(char::from(**c)).is_none())
        {
            return Err(UsccProblem::Charset {
                position: i + 1,
                character: char::from(c),
            });
        }
        let expected = check_character(&code[..17]).unwrap_or('?');
        let found = char::from(b[17]);
        return if expected == found {
            Ok(())
        } else {
            Err(UsccProblem::CheckDigit { expected, found })
        };
    }
    let chars: Vec<char> = code.chars().collect();
    if chars.len() != 18 {
        return Err(UsccProblem::Length(chars.len()));
    }
    if let Some((i, &c)) = chars
        .iter()
        .enumerate()
        .find(|(_, c)| value_of(**c).is_none())
    {
        return Err(UsccProblem::Charset {
            position: i + 1,
            character: c,
        });
    }
    let first17: String = chars[..17].iter().collect();
    match check_character(&first17) {
        Some(expected) if expected == chars[17] => Ok(()),
        Some(expected) => Err(UsccProblem::CheckDigit {
            expected,
            found: chars[17],
        }),
        None => Err(UsccProblem::Length(chars.len())),
    }
}

/// Append the check character to 17 characters (for fixtures and the corpus generator).
pub fn complete(first17: &str) -> Option<String> {
    check_character(first17).map(|c| format!("{first17}{c}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn published_codes_validate() {
        // Codes printed on real business licences.
        for code in ["91350100M000100Y43", "91110000600037341L"] {
            assert_eq!(validate(code), Ok(()), "{code}");
        }
    }

    #[test]
    fn wrong_check_digit_length_and_charset() {
        assert_eq!(
            validate("91350100M000100Y44"),
            Err(UsccProblem::CheckDigit {
                expected: '3',
                found: '4'
            })
        );
        assert_eq!(validate("91350100M000100Y4"), Err(UsccProblem::Length(17)));
        assert_eq!(
            validate("9135O100M000100Y43"),
            Err(UsccProblem::Charset {
                position: 5,
                character: 'O'
            })
        );
    }

    #[test]
    fn canonical_form_drops_separators_and_uppercases() {
        assert_eq!(canonical("91350100m000100 y43"), "91350100M000100Y43");
        assert_eq!(canonical("913501-00M000100Y43"), "91350100M000100Y43");
    }
}
