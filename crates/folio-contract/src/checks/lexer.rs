//! Tokens of the `checks` language (spec §7.1).
//!
//! The whole input is tokenised up front: it is at most [`super::MAX_CHECKS_BYTES`] long, so
//! the token list is small, and having it lets the parser look one token ahead without any
//! backtracking in the character stream.

use super::error::SyntaxError;

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Token {
    /// A quoted string with escapes resolved. Field references are strings too; which one a
    /// string is depends on its position, so the lexer does not distinguish them.
    Str(String),
    /// An unquoted number; always finite.
    Num(f64),
    Bool(bool),
    /// A bare word that is no keyword: only in [`Dialect::Search`], where built-in field
    /// names are unquoted (`name`, `createdAt`). In `checks` a bare word is an error.
    Word(String),
    /// `HAS` and `EXISTS`: keywords of [`Dialect::Search`] only (bare words in `checks`).
    Has,
    Exists,
    And,
    Or,
    In,
    Not,
    Eq,
    Colon,
    Lt,
    Le,
    Gt,
    Ge,
    LParen,
    RParen,
    LBracket,
    RBracket,
    Comma,
}

/// A token and the byte offset where it starts (for the log detail of syntax errors).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Spanned {
    pub token: Token,
    pub offset: usize,
}

/// Spec §7.1 lists exactly these as whitespace; other Unicode spaces are not tokens of the
/// language, so they are errors rather than silently skipped.
fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

/// Characters that continue a bare word. `.` is included so `file.size` is reported as one
/// bare word rather than as `file` followed by a stray `.`; `-` is included so `image-x` is one
/// word too.
fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '.' || c == '-'
}

/// The two languages sharing this lexer: `checks` (spec §7.1) and `searchQuery` (spec §8.9,
/// media-api §3), which adds unquoted field names and the `HAS` / `EXISTS` operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    Checks,
    Search,
}

pub(crate) fn tokenize(text: &str) -> Result<Vec<Spanned>, SyntaxError> {
    tokenize_in(text, Dialect::Checks)
}

pub(crate) fn tokenize_in(text: &str, dialect: Dialect) -> Result<Vec<Spanned>, SyntaxError> {
    let mut tokens = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some(&(offset, c)) = chars.peek() {
        if is_space(c) {
            chars.next();
            continue;
        }
        let token = match c {
            '"' | '\'' => {
                chars.next();
                lex_string(&mut chars, c, offset)?
            }
            '-' | '0'..='9' => lex_number(text, &mut chars, offset)?,
            '=' => single(&mut chars, Token::Eq),
            ':' => single(&mut chars, Token::Colon),
            '(' => single(&mut chars, Token::LParen),
            ')' => single(&mut chars, Token::RParen),
            '[' => single(&mut chars, Token::LBracket),
            ']' => single(&mut chars, Token::RBracket),
            ',' => single(&mut chars, Token::Comma),
            '<' | '>' => {
                chars.next();
                let or_equal = chars.next_if(|&(_, next)| next == '=').is_some();
                match (c, or_equal) {
                    ('<', false) => Token::Lt,
                    ('<', true) => Token::Le,
                    ('>', false) => Token::Gt,
                    _ => Token::Ge,
                }
            }
            c if c.is_alphabetic() || c == '_' => {
                let mut end = offset;
                while let Some((i, w)) = chars.next_if(|&(_, w)| is_word_char(w)) {
                    end = i + w.len_utf8();
                }
                let word = text.get(offset..end).unwrap_or_default();
                match (keyword(word, dialect), dialect) {
                    (Some(token), _) => token,
                    (None, Dialect::Search) => Token::Word(word.to_owned()),
                    (None, Dialect::Checks) => return Err(SyntaxError::new(offset, "bare word")),
                }
            }
            _ => return Err(SyntaxError::new(offset, "unexpected character")),
        };
        tokens.push(Spanned { token, offset });
    }
    Ok(tokens)
}

fn single(chars: &mut impl Iterator<Item = (usize, char)>, token: Token) -> Token {
    chars.next();
    token
}

/// Keywords and booleans, case-insensitive (spec §7.1, our choice).
fn keyword(word: &str, dialect: Dialect) -> Option<Token> {
    if dialect == Dialect::Search {
        if word.eq_ignore_ascii_case("HAS") {
            return Some(Token::Has);
        }
        if word.eq_ignore_ascii_case("EXISTS") {
            return Some(Token::Exists);
        }
    }
    const WORDS: [(&str, Token); 6] = [
        ("AND", Token::And),
        ("OR", Token::Or),
        ("IN", Token::In),
        ("NOT", Token::Not),
        ("true", Token::Bool(true)),
        ("false", Token::Bool(false)),
    ];
    WORDS
        .iter()
        .find(|(spelling, _)| spelling.eq_ignore_ascii_case(word))
        .map(|(_, token)| token.clone())
}

fn lex_string(
    chars: &mut std::iter::Peekable<std::str::CharIndices<'_>>,
    quote: char,
    start: usize,
) -> Result<Token, SyntaxError> {
    let mut value = String::new();
    loop {
        match chars.next() {
            None => return Err(SyntaxError::new(start, "unterminated string")),
            Some((_, c)) if c == quote => return Ok(Token::Str(value)),
            Some((at, '\\')) => match chars.next() {
                Some((_, escaped @ ('"' | '\'' | '\\'))) => value.push(escaped),
                // Only the three escapes of spec §7.1 exist. Keeping an unknown `\x` verbatim
                // would make `"\n"` silently mean backslash-n to one reader and a newline to
                // another, so it is refused.
                _ => return Err(SyntaxError::new(at, "unknown escape")),
            },
            Some((_, c)) => value.push(c),
        }
    }
}

/// `-?[0-9]+(\.[0-9]+)?`, not immediately followed by a word character or `.`: `1mb`, `1.5.2`
/// and `1e3` are errors instead of a number glued to something else.
fn lex_number(
    text: &str,
    chars: &mut std::iter::Peekable<std::str::CharIndices<'_>>,
    start: usize,
) -> Result<Token, SyntaxError> {
    let mut end = start;
    if let Some((i, c)) = chars.next_if(|&(_, c)| c == '-') {
        end = i + c.len_utf8();
    }
    let mut integer_digits = 0;
    while let Some((i, _)) = chars.next_if(|&(_, c)| c.is_ascii_digit()) {
        end = i + 1;
        integer_digits += 1;
    }
    if integer_digits == 0 {
        return Err(SyntaxError::new(start, "malformed number"));
    }
    if chars.next_if(|&(_, c)| c == '.').is_some() {
        let mut fraction_digits = 0;
        while let Some((i, _)) = chars.next_if(|&(_, c)| c.is_ascii_digit()) {
            end = i + 1;
            fraction_digits += 1;
        }
        if fraction_digits == 0 {
            return Err(SyntaxError::new(start, "malformed number"));
        }
    }
    if chars.peek().is_some_and(|&(_, c)| is_word_char(c)) {
        return Err(SyntaxError::new(start, "malformed number"));
    }
    let literal = text.get(start..end).unwrap_or_default();
    match literal.parse::<f64>() {
        // Hundreds of digits overflow to infinity, which has no spelling in the language
        // (so it could not be printed back) and no sensible meaning: refuse it.
        Ok(value) if value.is_finite() => Ok(Token::Num(value)),
        _ => Err(SyntaxError::new(start, "number out of range")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str) -> Vec<Token> {
        match tokenize(text) {
            Ok(tokens) => tokens.into_iter().map(|t| t.token).collect(),
            Err(e) => panic!("{text:?}: {e:?}"),
        }
    }

    fn fails(text: &str) -> SyntaxError {
        match tokenize(text) {
            Ok(tokens) => panic!("{text:?} tokenised: {tokens:?}"),
            Err(e) => e,
        }
    }

    fn s(v: &str) -> Token {
        Token::Str(v.to_string())
    }

    #[test]
    fn both_quote_styles_and_escapes() {
        assert_eq!(kinds(r#""a b""#), [s("a b")]);
        assert_eq!(kinds("'a b'"), [s("a b")]);
        assert_eq!(kinds(r#""it's""#), [s("it's")]);
        assert_eq!(kinds(r#"'say "hi"'"#), [s("say \"hi\"")]);
        assert_eq!(kinds(r#""a\"b""#), [s("a\"b")]);
        assert_eq!(kinds(r"'a\'b'"), [s("a'b")]);
        assert_eq!(kinds(r#""a\'b""#), [s("a'b")]);
        assert_eq!(kinds(r"'a\\b'"), [s("a\\b")]);
        assert_eq!(kinds(r#""\\""#), [s("\\")]);
        assert_eq!(kinds(r#""""#), [s("")]);
        assert_eq!(kinds("\"line\nbreak\""), [s("line\nbreak")]);
        assert_eq!(kinds("\"ünï 😀\""), [s("ünï 😀")]);
    }

    #[test]
    fn bad_strings() {
        assert_eq!(fails(r#""abc"#).offset(), 0);
        assert_eq!(fails(r#"  'abc""#).offset(), 2);
        // A backslash at the very end escapes nothing.
        assert_eq!(fails(r#""a\"#).offset(), 2);
        assert_eq!(fails(r#""a\nb""#).offset(), 2);
        fails(r#""a\tb""#);
        fails(r#""\x41""#);
    }

    #[test]
    fn numbers() {
        assert_eq!(kinds("0"), [Token::Num(0.0)]);
        assert_eq!(kinds("1024"), [Token::Num(1024.0)]);
        assert_eq!(kinds("-5"), [Token::Num(-5.0)]);
        assert_eq!(kinds("1.5"), [Token::Num(1.5)]);
        assert_eq!(kinds("-0.25"), [Token::Num(-0.25)]);
        assert_eq!(kinds("007"), [Token::Num(7.0)]);
        assert_eq!(
            kinds("1,2"),
            [Token::Num(1.0), Token::Comma, Token::Num(2.0)]
        );
        assert_eq!(kinds("1]"), [Token::Num(1.0), Token::RBracket]);
        assert_eq!(
            kinds("(1)"),
            [Token::LParen, Token::Num(1.0), Token::RParen]
        );
        assert_eq!(kinds("1\"a\""), [Token::Num(1.0), s("a")]);
        for bad in [
            "-", "- 1", "1.", ".5", "1.2.3", "1mb", "1e3", "1_000", "--1", "1-", "0x10", "1.a",
        ] {
            fails(bad);
        }
        let huge = format!("1{}", "0".repeat(400));
        assert_eq!(fails(&huge).reason(), "number out of range");
        // Large but finite is fine.
        let big = format!("1{}", "0".repeat(300));
        assert_eq!(kinds(&big), [Token::Num(1e300)]);
    }

    #[test]
    fn keywords_and_booleans_any_case() {
        assert_eq!(
            kinds("AND and And OR or Or IN in iN NOT not nOt"),
            [
                Token::And,
                Token::And,
                Token::And,
                Token::Or,
                Token::Or,
                Token::Or,
                Token::In,
                Token::In,
                Token::In,
                Token::Not,
                Token::Not,
                Token::Not
            ]
        );
        assert_eq!(
            kinds("true TRUE True false FALSE fAlSe"),
            [
                Token::Bool(true),
                Token::Bool(true),
                Token::Bool(true),
                Token::Bool(false),
                Token::Bool(false),
                Token::Bool(false)
            ]
        );
        // Quoted booleans are strings.
        assert_eq!(kinds("'true'"), [s("true")]);
    }

    #[test]
    fn operators() {
        assert_eq!(
            kinds("= : < <= > >= NOT= NOT =<>"),
            [
                Token::Eq,
                Token::Colon,
                Token::Lt,
                Token::Le,
                Token::Gt,
                Token::Ge,
                Token::Not,
                Token::Eq,
                Token::Not,
                Token::Eq,
                Token::Lt,
                Token::Gt
            ]
        );
        // `< =` is two tokens, not `<=`.
        assert_eq!(kinds("< ="), [Token::Lt, Token::Eq]);
    }

    #[test]
    fn bare_words_are_errors() {
        for bad in [
            "image",
            "file.size",
            "mb",
            "ANDY",
            "NOTIN",
            "trueish",
            "_",
            "é",
            "x1",
            "and_",
        ] {
            assert_eq!(fails(bad).reason(), "bare word", "{bad:?}");
        }
        // The offending word is located.
        assert_eq!(fails("'a' = image").offset(), 6);
    }

    #[test]
    fn other_characters_are_errors() {
        for bad in [
            "!=",
            "&&",
            "|",
            "{",
            "\u{a0}",
            "\u{2003}",
            ".",
            "\"a\" ; 1",
            "#",
            "+1",
        ] {
            assert!(tokenize(bad).is_err(), "{bad:?}");
        }
        // `==` is two `=` tokens; the parser refuses the pair.
        assert_eq!(kinds("=="), [Token::Eq, Token::Eq]);
    }

    #[test]
    fn whitespace_is_space_tab_cr_lf() {
        assert_eq!(
            kinds(" \t\r\n'a'\n:\t\"b\"\r\n"),
            [s("a"), Token::Colon, s("b")]
        );
        assert_eq!(kinds(""), []);
        assert_eq!(
            kinds("'a'IN['b','c']"),
            [
                s("a"),
                Token::In,
                Token::LBracket,
                s("b"),
                Token::Comma,
                s("c"),
                Token::RBracket
            ]
        );
    }

    #[test]
    fn search_dialect_reads_bare_words_and_its_keywords() {
        let kinds = |text: &str| -> Vec<Token> {
            match tokenize_in(text, Dialect::Search) {
                Ok(tokens) => tokens.into_iter().map(|t| t.token).collect(),
                Err(e) => panic!("{text:?}: {e:?}"),
            }
        };
        assert_eq!(
            kinds("name HAS 'a' and tags exists"),
            [
                Token::Word("name".into()),
                Token::Has,
                s("a"),
                Token::And,
                Token::Word("tags".into()),
                Token::Exists
            ]
        );
        assert_eq!(
            kinds("private = TRUE"),
            [Token::Word("private".into()), Token::Eq, Token::Bool(true)]
        );
        // The checks dialect is unchanged: HAS and EXISTS are bare words there.
        assert_eq!(fails("HAS").reason(), "bare word");
        assert_eq!(fails("exists").reason(), "bare word");
        assert!(tokenize_in("1mb", Dialect::Search).is_err());
    }

    #[test]
    fn offsets_are_byte_offsets() {
        let offsets: Vec<usize> = match tokenize("'é' = 12") {
            Ok(tokens) => tokens.iter().map(|t| t.offset).collect(),
            Err(e) => panic!("{e:?}"),
        };
        assert_eq!(offsets, [0, 5, 7]);
        // A letter outside ASCII starts a bare word too; `'é'` takes four bytes, so the bare
        // word after it starts at byte 5.
        assert_eq!(fails("é, x").offset(), 0);
        assert_eq!(fails("'é' x").offset(), 5);
    }
}
