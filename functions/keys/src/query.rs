//! The permission query of `POST /v1/keys/verify`: `resource:action` terms with `AND`, `OR` and
//! parentheses (`shortLinks:read AND (stats:read OR domains:read)`), AND binding tighter than OR.
//! A hand-written tokenizer and recursive descent, bounded in length, depth and terms, so a hostile
//! query costs linear time and a fixed stack.

use keyhive::auth::permissions::{permission_name, Action, Permissions, Resource};
use keyhive::ApiError;
use std::fmt;

/// The longest query, in characters (the contract's bound).
pub const MAX_QUERY_LEN: usize = 1000;
/// The deepest nesting of parentheses: the parser's recursion never goes further.
pub const MAX_DEPTH: usize = 16;
/// The most terms in a query (the length bound already keeps real queries under it).
pub const MAX_TERMS: usize = 100;

/// A parsed query. Built by the parser it is flattened: an `And` never directly holds an `And`,
/// an `Or` never an `Or`, and neither has fewer than two children.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Query {
    Term(Resource, Action),
    And(Vec<Query>),
    Or(Vec<Query>),
}

impl Query {
    /// Parses a query; the error is a short reason for the caller, with the character (1-based)
    /// where it went wrong.
    pub fn parse(text: &str) -> Result<Query, String> {
        // Stops counting at the bound: a huge body costs no more than a 1000-character one.
        if text.chars().nth(MAX_QUERY_LEN).is_some() {
            return Err(format!("is longer than {MAX_QUERY_LEN} characters"));
        }
        let tokens = tokenize(text)?;
        if tokens.is_empty() {
            return Err("is empty".into());
        }
        let mut parser = Parser { tokens, pos: 0 };
        let query = parser.or(0, "")?;
        match parser.peek() {
            None => Ok(query),
            Some(Token { tok: Tok::Close, at }) => {
                Err(format!("unbalanced parentheses: the ) at character {at} closes nothing"))
            }
            Some(Token { tok, at }) => Err(format!("expected AND or OR before {} at character {at}", tok.describe())),
        }
    }

    pub fn allows(&self, granted: &Permissions) -> bool {
        match self {
            Query::Term(resource, action) => granted.allows(*resource, *action),
            Query::And(children) => children.iter().all(|q| q.allows(granted)),
            Query::Or(children) => children.iter().any(|q| q.allows(granted)),
        }
    }

    /// The permissions the query names, deduplicated in first-seen order (a single-term query is
    /// recorded as the verified key's use).
    pub fn terms(&self) -> Vec<(Resource, Action)> {
        fn collect(query: &Query, out: &mut Vec<(Resource, Action)>) {
            match query {
                // At most 36 distinct pairs: `contains` stays cheap.
                Query::Term(r, a) if !out.contains(&(*r, *a)) => out.push((*r, *a)),
                Query::Term(..) => {}
                Query::And(children) | Query::Or(children) => children.iter().for_each(|q| collect(q, out)),
            }
        }
        let mut out = Vec::new();
        collect(self, &mut out);
        out
    }
}

/// Canonical text: uppercase keywords, single spaces, parentheses only around an `Or` inside an
/// `And`; parsing it gives back the same query.
impl fmt::Display for Query {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (children, separator) = match self {
            Query::Term(resource, action) => return f.write_str(&permission_name(*resource, *action)),
            Query::And(children) => (children, " AND "),
            Query::Or(children) => (children, " OR "),
        };
        for (i, child) in children.iter().enumerate() {
            if i > 0 {
                f.write_str(separator)?;
            }
            match (self, child) {
                (Query::And(_), Query::Or(_)) => write!(f, "({child})")?,
                _ => write!(f, "{child}")?,
            }
        }
        Ok(())
    }
}

/// Reads the query of a body field: a malformed one is a 400 naming `field`.
pub fn read(field: &str, text: &str) -> Result<Query, ApiError> {
    Query::parse(text).map_err(|reason| ApiError::validation(field, reason))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tok {
    Open,
    Close,
    And,
    Or,
    Term(Resource, Action),
}

impl Tok {
    fn describe(self) -> String {
        match self {
            Tok::Open => "\"(\"".into(),
            Tok::Close => "\")\"".into(),
            Tok::And => "AND".into(),
            Tok::Or => "OR".into(),
            Tok::Term(r, a) => format!("{:?}", permission_name(r, a)),
        }
    }
}

/// A token and the character (1-based) it starts at, for error messages.
#[derive(Debug, Clone, Copy)]
struct Token {
    tok: Tok,
    at: usize,
}

/// Splits on whitespace and around parentheses; terms are resolved here, so an unknown one is
/// reported where it stands.
fn tokenize(text: &str) -> Result<Vec<Token>, String> {
    let mut tokens = Vec::new();
    let mut terms = 0;
    let mut chars = text.char_indices().enumerate().peekable();
    while let Some((n, (start, c))) = chars.next() {
        let at = n + 1;
        let tok = match c {
            c if c.is_whitespace() => continue,
            '(' => Tok::Open,
            ')' => Tok::Close,
            _ => {
                let mut end = text.len();
                while let Some(&(_, (i, d))) = chars.peek() {
                    if d.is_whitespace() || d == '(' || d == ')' {
                        end = i;
                        break;
                    }
                    chars.next();
                }
                word(text.get(start..end).unwrap_or_default(), at)?
            }
        };
        if let Tok::Term(..) = tok {
            terms += 1;
            if terms > MAX_TERMS {
                return Err(format!("has more than {MAX_TERMS} permissions"));
            }
        }
        tokens.push(Token { tok, at });
    }
    Ok(tokens)
}

/// A keyword (any case) or a `resource:action` term (exact case, as the public spelling).
fn word(text: &str, at: usize) -> Result<Tok, String> {
    if text.eq_ignore_ascii_case("and") {
        return Ok(Tok::And);
    }
    if text.eq_ignore_ascii_case("or") {
        return Ok(Tok::Or);
    }
    match text.split_once(':') {
        Some((r, a)) => match (Resource::parse(r), Action::parse(a)) {
            (Some(r), Some(a)) => Ok(Tok::Term(r, a)),
            _ => Err(format!("unknown permission {text:?} at character {at}")),
        },
        None => Err(format!("expected a permission (resource:action), found {text:?} at character {at}")),
    }
}

/// Precedence climbing over two levels: `or` holds `and`s, `and` holds primaries. `depth` counts
/// open parentheses, so recursion stops at `MAX_DEPTH`.
struct Parser {
    tokens: Vec<Token>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<Token> {
        self.tokens.get(self.pos).copied()
    }

    fn at(&self, tok: Tok) -> bool {
        self.peek().is_some_and(|t| t.tok == tok)
    }

    fn or(&mut self, depth: usize, after: &'static str) -> Result<Query, String> {
        let mut children = Vec::new();
        flatten(&mut children, self.and(depth, after)?, false);
        while self.at(Tok::Or) {
            self.pos += 1;
            flatten(&mut children, self.and(depth, " after OR")?, false);
        }
        Ok(join(children, Query::Or))
    }

    fn and(&mut self, depth: usize, after: &'static str) -> Result<Query, String> {
        let mut children = Vec::new();
        flatten(&mut children, self.primary(depth, after)?, true);
        while self.at(Tok::And) {
            self.pos += 1;
            flatten(&mut children, self.primary(depth, " after AND")?, true);
        }
        Ok(join(children, Query::And))
    }

    /// A term or a parenthesised query; `after` (" after AND") says what came before, for errors.
    fn primary(&mut self, depth: usize, after: &'static str) -> Result<Query, String> {
        let Some(Token { tok, at }) = self.peek() else {
            return Err(format!("expected a permission{after} at the end"));
        };
        self.pos += 1;
        match tok {
            Tok::Term(resource, action) => Ok(Query::Term(resource, action)),
            Tok::Open if depth >= MAX_DEPTH => {
                Err(format!("parentheses nested deeper than {MAX_DEPTH} at character {at}"))
            }
            Tok::Open if self.at(Tok::Close) => Err(format!("empty parentheses at character {at}")),
            Tok::Open => {
                let inner = self.or(depth + 1, " after (")?;
                match self.peek() {
                    Some(Token { tok: Tok::Close, .. }) => {
                        self.pos += 1;
                        Ok(inner)
                    }
                    None => Err(format!("unbalanced parentheses: the ( at character {at} is never closed")),
                    Some(t) => Err(format!("expected AND, OR or ) before {} at character {}", t.tok.describe(), t.at)),
                }
            }
            Tok::Close if depth == 0 => Err(format!("unbalanced parentheses: the ) at character {at} closes nothing")),
            Tok::Close | Tok::And | Tok::Or => {
                Err(format!("expected a permission{after} at character {at}, found {}", tok.describe()))
            }
        }
    }
}

/// Adds a child, splicing in a parenthesised group of the same operator (`(a AND b) AND c`).
fn flatten(children: &mut Vec<Query>, child: Query, and: bool) {
    match child {
        Query::And(grandchildren) if and => children.extend(grandchildren),
        Query::Or(grandchildren) if !and => children.extend(grandchildren),
        child => children.push(child),
    }
}

/// A lone child stands for itself; more become the operator's node.
fn join(children: Vec<Query>, node: fn(Vec<Query>) -> Query) -> Query {
    match <[Query; 1]>::try_from(children) {
        Ok([only]) => only,
        Err(children) => node(children),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn p(text: &str) -> Query {
        Query::parse(text).unwrap()
    }

    fn err(text: &str) -> String {
        Query::parse(text).unwrap_err()
    }

    #[test]
    fn and_binds_tighter_than_or_and_parentheses_group() {
        let (a, b, c) = (p("shortLinks:read"), p("stats:read"), p("domains:read"));
        let (and_ab, and_bc) = (Query::And(vec![a.clone(), b.clone()]), Query::And(vec![b.clone(), c.clone()]));
        assert_eq!(p("shortLinks:read OR stats:read AND domains:read"), Query::Or(vec![a.clone(), and_bc]));
        assert_eq!(p("shortLinks:read AND stats:read OR domains:read"), Query::Or(vec![and_ab, c.clone()]));
        let text = "shortLinks:read AND (stats:read OR domains:read)";
        assert_eq!(p(text), Query::And(vec![a, Query::Or(vec![b.clone(), c])]));
        assert_eq!(p(text).to_string(), text, "canonical text keeps the needed parentheses");
        assert_eq!(p("((stats:read))"), b);
        let redundant = p("(files:read AND stats:read) OR audit:read");
        assert_eq!(redundant.to_string(), "files:read AND stats:read OR audit:read");
    }

    #[test]
    fn keywords_ignore_case_terms_do_not_and_parentheses_need_no_spaces() {
        let upper = p("shortLinks:read AND stats:read OR domains:read");
        assert_eq!(p("shortLinks:read and stats:read Or domains:read"), upper);
        assert_eq!(p("  shortLinks:read\tAnD\nstats:read  oR domains:read "), upper);
        assert!(err("shortlinks:read").starts_with("unknown permission \"shortlinks:read\""));
        assert!(err("shortLinks:READ").starts_with("unknown permission"));
        let or = Query::Or(vec![p("shortLinks:read"), p("stats:read")]);
        assert_eq!(p("(shortLinks:read OR stats:read)AND domains:read"), Query::And(vec![or, p("domains:read")]));
        assert_eq!(p("stats:read and(files:read)"), p("stats:read AND files:read"));
    }

    #[test]
    fn same_operator_chains_flatten_into_one_node() {
        let (f, s, a) = (p("files:read"), p("stats:read"), p("audit:read"));
        let three = Query::And(vec![f.clone(), s.clone(), a.clone()]);
        assert_eq!(p("files:read AND stats:read AND audit:read"), three);
        assert_eq!(p("(files:read AND stats:read) AND audit:read"), three);
        assert_eq!(p("files:read OR (stats:read OR audit:read)"), Query::Or(vec![f, s, a]));
    }

    #[test]
    fn malformed_queries_say_why_and_where() {
        assert_eq!(err(""), "is empty");
        assert_eq!(err(" \t\n "), "is empty");
        assert_eq!(err("stats:read AND"), "expected a permission after AND at the end");
        assert_eq!(err("stats:read AND OR files:read"), "expected a permission after AND at character 16, found OR");
        assert_eq!(err("()"), "empty parentheses at character 1");
        assert_eq!(err("(stats:read"), "unbalanced parentheses: the ( at character 1 is never closed");
        assert_eq!(err("stats:read)"), "unbalanced parentheses: the ) at character 11 closes nothing");
        assert!(err(")stats:read").starts_with("unbalanced parentheses"));
        assert_eq!(err("stats:read AND links:read"), "unknown permission \"links:read\" at character 16");
        assert_eq!(err("shortLinks:fly"), "unknown permission \"shortLinks:fly\" at character 1");
        assert!(err("shortLinks").starts_with("expected a permission (resource:action), found \"shortLinks\""));
        assert!(err("stats:read files:read").starts_with("expected AND or OR before \"files:read\""));
        assert!(err("(stats:read files:read)").starts_with("expected AND, OR or ) before"));
    }

    #[test]
    fn bounds_are_enforced_without_deep_recursion() {
        let padded = |n: usize| format!("{:<n$}", "stats:read");
        assert!(Query::parse(&padded(MAX_QUERY_LEN)).is_ok());
        assert_eq!(err(&padded(MAX_QUERY_LEN + 1)), "is longer than 1000 characters");
        let nested = |n: usize| format!("{}stats:read{}", "(".repeat(n), ")".repeat(n));
        assert_eq!(p(&nested(16)), p("stats:read"));
        assert_eq!(err(&nested(17)), "parentheses nested deeper than 16 at character 17");
        assert!(Query::parse(&"(".repeat(MAX_QUERY_LEN)).is_err());
        assert!(Query::parse(&"(".repeat(1_000_000)).is_err());
        // A term takes at least 14 characters with its operator: the length bound refuses 101
        // terms before they are counted, so the count is pinned on the tokenizer.
        let terms = |n: usize| vec!["stats:read"; n].join(" OR ");
        assert!(Query::parse(&terms(101)).is_err());
        assert_eq!(tokenize(&terms(101)).unwrap_err(), "has more than 100 permissions");
        assert_eq!(tokenize(&terms(100)).unwrap().len(), 199);
    }

    #[test]
    fn evaluates_against_granted_permissions_and_names_its_terms() {
        let granted = Permissions::from_json("p", &json!({"shortLinks": ["read"], "stats": ["read"]})).unwrap();
        let allows = |text: &str| p(text).allows(&granted);
        assert!(allows("shortLinks:read AND (stats:read OR domains:read)"));
        assert!(allows("domains:read OR shortLinks:read"));
        assert!(!allows("shortLinks:read AND domains:read"));
        assert!(!allows("shortLinks:create"));
        let q = p("stats:read OR shortLinks:read AND stats:read");
        assert_eq!(q.terms(), vec![(Resource::Stats, Action::Read), (Resource::ShortLinks, Action::Read)]);
        let e = read("permissions", "stats:read AND").unwrap_err();
        assert!(matches!(e, ApiError::Validation { ref field, .. } if field == "permissions"));
    }

    fn all_pairs() -> Vec<(Resource, Action)> {
        Resource::ALL.into_iter().flat_map(|r| Action::ALL.into_iter().map(move |a| (r, a))).collect()
    }

    /// Random trees of depth at most 4, flattened as the parser flattens them.
    fn query() -> impl Strategy<Value = Query> {
        let terms: Vec<Query> = all_pairs().into_iter().map(|(r, a)| Query::Term(r, a)).collect();
        let node = |and: bool, children: Vec<Query>| {
            let mut out = Vec::new();
            children.into_iter().for_each(|c| flatten(&mut out, c, and));
            if and {
                Query::And(out)
            } else {
                Query::Or(out)
            }
        };
        prop::sample::select(terms)
            .prop_recursive(4, 32, 3, move |inner| {
                (any::<bool>(), prop::collection::vec(inner, 2..=3)).prop_map(move |(and, c)| node(and, c))
            })
            .prop_filter("fits MAX_QUERY_LEN", |q| q.to_string().chars().count() <= MAX_QUERY_LEN)
    }

    /// Every group in parentheses, keywords lowercase: another spelling of the same query.
    fn explicit(q: &Query) -> String {
        let group = |c: &[Query], op: &str| format!("({})", c.iter().map(explicit).collect::<Vec<_>>().join(op));
        match q {
            Query::Term(..) => q.to_string(),
            Query::And(c) => group(c, " and "),
            Query::Or(c) => group(c, " or "),
        }
    }

    fn eval(q: &Query, held: &[(Resource, Action)]) -> bool {
        match q {
            Query::Term(r, a) => held.contains(&(*r, *a)),
            Query::And(c) => c.iter().all(|q| eval(q, held)),
            Query::Or(c) => c.iter().any(|q| eval(q, held)),
        }
    }

    fn accepted_reparses(text: &str) -> Result<(), TestCaseError> {
        if let Ok(q) = Query::parse(text) {
            prop_assert_eq!(Query::parse(&q.to_string()), Ok(q));
        }
        Ok(())
    }

    /// The canonical text's tokens, parentheses split off.
    fn tokens(q: &Query) -> Vec<String> {
        q.to_string().replace('(', " ( ").replace(')', " ) ").split_whitespace().map(String::from).collect()
    }

    const ALPHABET: [&str; 8] = ["(", ")", "AND", "OR", "and", "shortLinks:read", "x:y", " "];
    const SPACES: [&str; 6] = ["", " ", "  ", "\t", "\n", " \r\n "];

    proptest! {
        #[test]
        fn canonical_text_parses_back_to_the_same_query(q in query()) {
            prop_assert_eq!(Query::parse(&q.to_string()), Ok(q));
        }

        #[test]
        fn allows_matches_an_independent_evaluation(q in query(), bits in prop::collection::vec(any::<bool>(), 36)) {
            let held: Vec<_> = all_pairs().into_iter().zip(&bits).filter(|(_, b)| **b).map(|(p, _)| p).collect();
            let mut map = serde_json::Map::new();
            for (r, a) in &held {
                map.entry(r.as_str()).or_insert_with(|| json!([])).as_array_mut().unwrap().push(json!(a.as_str()));
            }
            let granted = Permissions::from_json("p", &serde_json::Value::Object(map)).unwrap();
            prop_assert_eq!(q.allows(&granted), eval(&q, &held));
            let spelled = explicit(&q);
            if spelled.chars().count() <= MAX_QUERY_LEN {
                prop_assert_eq!(Query::parse(&spelled), Ok(q));
            }
        }

        #[test]
        fn arbitrary_text_never_panics(text in ".{0,1200}") {
            accepted_reparses(&text)?;
        }

        #[test]
        fn token_soup_never_panics(words in prop::collection::vec(prop::sample::select(ALPHABET.to_vec()), 0..60)) {
            accepted_reparses(&words.concat())?;
        }

        #[test]
        fn extra_whitespace_between_tokens_changes_nothing((q, spaces) in query().prop_flat_map(|q| {
            let n = tokens(&q).len();
            (Just(q), prop::collection::vec(prop::sample::select(SPACES.to_vec()), n + 1))
        })) {
            let words = tokens(&q);
            let mut text = String::from(spaces[0]);
            for (i, word) in words.iter().enumerate() {
                let paren = |s: &str| s == "(" || s == ")";
                if i > 0 {
                    // Two words need some whitespace between them; a parenthesis needs none.
                    let needs = spaces[i].is_empty() && !paren(word) && !paren(&words[i - 1]);
                    text.push_str(if needs { " " } else { spaces[i] });
                }
                text.push_str(word);
            }
            text.push_str(spaces[words.len()]);
            if text.chars().count() <= MAX_QUERY_LEN {
                prop_assert_eq!(Query::parse(&text), Ok(q));
            } else {
                prop_assert!(Query::parse(&text).is_err());
            }
        }
    }
}
