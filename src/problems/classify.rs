//! Reading a 存在问题及诉求 text into problems: deterministic keyword rules from the schema, each match
//! keeping the keyword that made it, so that a clerk can see why a text is in a category.

use crate::config::schema::{ProblemCategory, ProblemRules};
use std::sync::Arc;

/// One category a text is in, and the keyword that put it there (None for the other category).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Match {
    pub category: Arc<str>,
    pub keyword: Option<Arc<str>>,
}

/// What a text says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reading {
    /// Empty, or only a none marker (无, 暂无问题): no problem.
    Nothing,
    /// Every clause reports something solved (已解决): no open problem.
    Solved,
    /// The categories it names, in the schema's category order, each once.
    Problems(Vec<Match>),
}

impl Reading {
    pub fn matches(&self) -> &[Match] {
        match self {
            Reading::Problems(m) => m,
            _ => &[],
        }
    }
}

const CLAUSE_BREAKS: [char; 14] = [
    '，', ',', '；', ';', '。', '、', '\n', '\r', '！', '!', '？', '?', '：', ':',
];

fn is_punctuation(c: char) -> bool {
    c.is_whitespace()
        || c.is_ascii_punctuation()
        || CLAUSE_BREAKS.contains(&c)
        || matches!(
            c,
            '（' | '）'
                | '【'
                | '】'
                | '《'
                | '》'
                | '“'
                | '”'
                | '‘'
                | '’'
                | '…'
                | '—'
                | '·'
        )
        || c.is_ascii_digit()
}

/// What one pattern of the automaton is: a category keyword (which categories, at which place in
/// their keyword lists), a solved marker, a filler word, or several of these at once.
#[derive(Debug, Clone, Default)]
struct Pattern {
    /// (category index, keyword index in that category's list)
    keyword_of: Vec<(usize, usize)>,
    solved: bool,
    filler: bool,
}

/// All keywords, solved markers and filler words of the schema in one Aho–Corasick automaton, built once
/// with the schema. Matching is overlapping, so that every pattern present in a clause is seen and the
/// rules read exactly as "the first keyword of the category's list that the clause contains".
#[derive(Debug, Clone)]
pub struct Matcher {
    automaton: aho_corasick::AhoCorasick,
    patterns: Vec<Pattern>,
    /// Fillers, longest first (the order they are removed in).
    fillers: Vec<String>,
    any_filler: bool,
    /// An empty solved marker is in every clause.
    always_solved: bool,
}

impl PartialEq for Matcher {
    /// A matcher is built from the rules it sits in: equal rules have equal matchers.
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Matcher {
    pub fn new(
        categories: &[ProblemCategory],
        solved_markers: &[String],
        filler_words: &[String],
    ) -> Result<Matcher, aho_corasick::BuildError> {
        let mut strings: Vec<String> = Vec::new();
        let mut patterns: Vec<Pattern> = Vec::new();
        let mut slot = |s: &str| -> usize {
            match strings.iter().position(|t| t == s) {
                Some(i) => i,
                None => {
                    strings.push(s.to_string());
                    patterns.push(Pattern::default());
                    strings.len() - 1
                }
            }
        };
        let mut marks: Vec<(usize, u8, usize, usize)> = Vec::new();
        for (c, category) in categories.iter().enumerate() {
            for (k, keyword) in category.keywords.iter().enumerate() {
                if !keyword.is_empty() {
                    marks.push((slot(keyword), 0, c, k));
                }
            }
        }
        for m in solved_markers.iter().filter(|m| !m.is_empty()) {
            marks.push((slot(m), 1, 0, 0));
        }
        for f in filler_words.iter().filter(|f| !f.is_empty()) {
            marks.push((slot(f), 2, 0, 0));
        }
        for (i, kind, c, k) in marks {
            match kind {
                0 => patterns[i].keyword_of.push((c, k)),
                1 => patterns[i].solved = true,
                _ => patterns[i].filler = true,
            }
        }
        let automaton = aho_corasick::AhoCorasick::builder()
            .match_kind(aho_corasick::MatchKind::Standard)
            .build(&strings)?;
        let mut fillers: Vec<String> = filler_words.to_vec();
        fillers.sort_by_key(|f| std::cmp::Reverse(f.chars().count()));
        Ok(Matcher {
            automaton,
            any_filler: patterns.iter().any(|p| p.filler),
            always_solved: solved_markers.iter().any(|m| m.is_empty()),
            patterns,
            fillers,
        })
    }
}

/// Classify one text.
pub fn classify(rules: &ProblemRules, text: &str) -> Reading {
    let text = text.trim();
    if is_none(rules, text) {
        return Reading::Nothing;
    }
    let matcher = &rules.matcher;
    let mut found: Vec<Match> = Vec::new();
    // Per category, the best (lowest) keyword index seen in the current clause.
    let mut best: Vec<usize> = vec![usize::MAX; rules.categories.len()];
    let mut open_clauses = 0;
    for clause in text.split(CLAUSE_BREAKS) {
        let clause = clause.trim();
        if clause.is_empty() || is_none(rules, clause) {
            continue;
        }
        best.iter_mut().for_each(|b| *b = usize::MAX);
        let mut solved = matcher.always_solved;
        for m in matcher.automaton.find_overlapping_iter(clause) {
            let pattern = &matcher.patterns[m.pattern().as_usize()];
            solved |= pattern.solved;
            for &(c, k) in &pattern.keyword_of {
                best[c] = best[c].min(k);
            }
        }
        if solved {
            continue;
        }
        open_clauses += 1;
        for (c, category) in rules.categories.iter().enumerate() {
            if best[c] == usize::MAX || found.iter().any(|m| m.category == category.name) {
                continue;
            }
            found.push(Match {
                category: category.name.clone(),
                keyword: Some(category.keywords[best[c]].clone()),
            });
        }
    }
    if found.is_empty() {
        return if open_clauses == 0 {
            Reading::Solved
        } else {
            Reading::Problems(vec![Match {
                category: rules.other_category.clone(),
                keyword: None,
            }])
        };
    }
    // The schema's category order, whatever order the clauses named them in.
    found.sort_by_key(|m| {
        rules
            .categories
            .iter()
            .position(|c| c.name == m.category)
            .unwrap_or(usize::MAX)
    });
    found.shrink_to_fit();
    Reading::Problems(found)
}

/// Whether a text (or clause) says nothing but "none": punctuation and filler words removed, it is empty
/// or one of the none markers. Fillers are removed longest first, one after another (so that 需要协调
/// goes before 需求 could split it); when the automaton finds no filler in the text, none can appear by
/// removing others, and the removals are skipped.
fn is_none(rules: &ProblemRules, text: &str) -> bool {
    let matcher = &rules.matcher;
    let mut rest: String = text.chars().filter(|c| !is_punctuation(*c)).collect();
    if rest.is_empty() {
        return true;
    }
    let has_filler = matcher.any_filler
        && matcher
            .automaton
            .find_overlapping_iter(rest.as_str())
            .any(|m| matcher.patterns[m.pattern().as_usize()].filler);
    if has_filler {
        for filler in &matcher.fillers {
            if rest.contains(filler.as_str()) {
                rest = rest.replace(filler.as_str(), "");
            }
        }
    }
    rest.is_empty() || rules.none_markers.contains(&rest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Schema;

    fn rules() -> ProblemRules {
        Schema::builtin().expect("schema").problems
    }

    fn categories(text: &str) -> Vec<String> {
        match classify(&rules(), text) {
            Reading::Nothing => vec!["-".into()],
            Reading::Solved => vec!["solved".into()],
            Reading::Problems(m) => m.into_iter().map(|m| m.category.to_string()).collect(),
        }
    }

    /// Real-looking texts as districts write them, and what each must read as.
    const CASES: &[(&str, &[&str])] = &[
        ("", &["-"]),
        ("无", &["-"]),
        ("暂无", &["-"]),
        ("暂无问题", &["-"]),
        ("没有困难", &["-"]),
        ("无。", &["-"]),
        ("目前无困难和问题", &["-"]),
        ("生产经营正常", &["-"]),
        ("一切正常", &["-"]),
        ("/", &["-"]),
        ("已解决", &["solved"]),
        ("口罩问题已协调解决", &["solved"]),
        ("原材料供应问题已经解决", &["solved"]),
        ("缺少口罩和消毒液，员工返岗困难", &["用工", "防疫物资"]),
        ("员工返岗难，外地员工无法返回", &["用工"]),
        ("招工难，缺少熟练技工", &["用工"]),
        ("部分员工仍在隔离期", &["用工"]),
        ("无法招工", &["用工"]),
        ("原材料短缺", &["原材料"]),
        ("上游供应商未复工，零部件供应不上", &["原材料"]),
        ("芯片缺货", &["原材料"]),
        ("物流不畅，运输成本高", &["物流"]),
        ("货车通行证办理难", &["物流"]),
        ("快递停运，产品发不出去", &["物流"]),
        ("道路封闭，原料运不进来", &["原材料", "物流"]),
        ("资金紧张，需要贷款支持", &["资金"]),
        ("流动资金周转困难", &["资金"]),
        ("希望减免社保和房屋租金", &["资金"]),
        ("银行贷款到期需续贷", &["资金"]),
        ("应收账款回款慢", &["资金"]),
        ("缺少测温枪", &["防疫物资"]),
        ("防护服、酒精不足", &["防疫物资"]),
        ("口罩缺口大", &["防疫物资"]),
        ("订单减少", &["订单"]),
        ("出口订单被取消，客户推迟提货", &["订单"]),
        ("市场需求不足，销售下滑", &["订单"]),
        ("担心合同违约", &["订单"]),
        ("口罩已解决，但缺少员工", &["用工"]),
        ("资金问题已落实；物流仍不畅", &["物流"]),
        ("需要政府协调", &["其他"]),
        ("设备检修中", &["其他"]),
        ("电力供应不稳定", &["其他"]),
        (
            "缺少口罩，资金紧张，订单下滑，员工不足",
            &["用工", "资金", "防疫物资", "订单"],
        ),
        ("员工不足；口罩不足", &["用工", "防疫物资"]),
        ("无！", &["-"]),
    ];

    #[test]
    fn real_looking_texts_read_as_a_clerk_would() {
        assert!(CASES.len() >= 40);
        let mut wrong = Vec::new();
        for (text, want) in CASES {
            let got = categories(text);
            if got != want.iter().map(|s| s.to_string()).collect::<Vec<_>>() {
                wrong.push(format!("{text:?}: got {got:?}, want {want:?}"));
            }
        }
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    }

    #[test]
    fn the_matched_keyword_explains_the_category() {
        let reading = classify(&rules(), "缺少口罩和消毒液，员工返岗困难");
        assert_eq!(
            reading.matches(),
            &[
                Match {
                    category: "用工".into(),
                    keyword: Some("返岗".into())
                },
                Match {
                    category: "防疫物资".into(),
                    keyword: Some("口罩".into())
                },
            ]
        );
        assert_eq!(
            classify(&rules(), "需要政府协调").matches()[0].keyword,
            None,
            "the other category has no keyword"
        );
    }
}
