//! Bounds on the parts of a multipart body that the parser has to buffer whole.
//!
//! `multer` holds a part's header block in memory until the blank line that ends it, and the
//! preamble until the first delimiter, in both cases up to the whole-stream cap, searching the
//! growing buffer again for every chunk (quadratic CPU). It has no option to bound either.
//! [`MultipartGuard`] sees the body before `multer` does and follows just enough of its
//! structure, the way `multer` reads it, to refuse a body whose preamble or header block passes
//! a bound, before those bytes reach `multer`:
//!
//! ```text
//! preamble --BOUNDARY[--]  [padding] CRLF  headers CRLF CRLF  body  CRLF --BOUNDARY ...
//! └≤ max ─┘          close?└──────── header block ≤ max ────┘ (searched, not held)
//! ```
//!
//! Each byte is looked at a constant number of times (one `memmem` search per state, with the
//! last `needle − 1` bytes carried over between chunks), so the scan is linear in the body.
//! Pure (no I/O): the intake puts it in front of `multer`; tests and fuzzers call it directly.

use memchr::memmem::Finder;

/// Why a body was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Violation {
    #[error("no multipart boundary within the first {limit} bytes")]
    PreambleTooLong { limit: usize },
    #[error("a part's header block is longer than {limit} bytes")]
    HeaderBlockTooLong { limit: usize },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Before the first `--BOUNDARY`.
    Preamble,
    /// The two bytes after a delimiter: `--` ends the body.
    DelimiterEnd,
    /// The rest of the delimiter line (transport padding), up to its CRLF.
    DelimiterLine,
    /// A part's headers, up to the blank line.
    Headers,
    /// A part's content, up to `CRLF--BOUNDARY`.
    Body,
    /// After the close delimiter: the parser reads no further.
    Epilogue,
}

/// A streaming search for one needle: the last `needle − 1` bytes of what was searched are
/// kept, so a match that straddles two chunks is found.
#[derive(Debug)]
struct Search {
    finder: Finder<'static>,
    carry: Vec<u8>,
    /// Reused for the carried bytes plus the start of the next chunk.
    junction: Vec<u8>,
}

impl Search {
    fn new(needle: &[u8]) -> Self {
        Search {
            finder: Finder::new(needle).into_owned(),
            carry: Vec::new(),
            junction: Vec::new(),
        }
    }

    fn needle_len(&self) -> usize {
        self.finder.needle().len()
    }

    /// The offset in `input` just past the first match that ends in it, if any.
    fn find(&mut self, input: &[u8]) -> Option<usize> {
        let n = self.needle_len();
        if !self.carry.is_empty() {
            // A match that begins in the carried bytes ends within the first n − 1 of input.
            self.junction.clear();
            self.junction.extend_from_slice(&self.carry);
            self.junction
                .extend_from_slice(&input[..input.len().min(n - 1)]);
            if let Some(at) = self.finder.find(&self.junction) {
                if at < self.carry.len() {
                    let end = at + n - self.carry.len();
                    self.carry.clear();
                    return Some(end);
                }
            }
        }
        if let Some(at) = self.finder.find(input) {
            self.carry.clear();
            return Some(at + n);
        }
        let keep = n - 1;
        if input.len() >= keep {
            self.carry.clear();
            self.carry.extend_from_slice(&input[input.len() - keep..]);
        } else {
            self.carry.extend_from_slice(input);
            let excess = self.carry.len().saturating_sub(keep);
            self.carry.drain(..excess);
        }
        None
    }

    fn reset(&mut self) {
        self.carry.clear();
    }
}

/// Follows a multipart body chunk by chunk; see the module documentation.
#[derive(Debug)]
pub struct MultipartGuard {
    /// `--BOUNDARY`: the first delimiter may follow any preamble.
    first: Search,
    /// `CRLF--BOUNDARY`: every later delimiter.
    delimiter: Search,
    line_end: Search,
    blank_line: Search,
    stage: Stage,
    /// Bytes consumed in the preamble, or since the end of the current delimiter (the header
    /// block so far).
    seen: usize,
    /// The bytes right after a delimiter, while fewer than two have arrived.
    after_delimiter: Vec<u8>,
    max_preamble: usize,
    max_header_block: usize,
    failed: Option<Violation>,
}

impl MultipartGuard {
    /// A guard for the body of `boundary` (as in the `Content-Type`) that allows `max_bytes`
    /// of preamble and of each header block (counted from the end of the delimiter to the end
    /// of the blank line).
    pub fn new(boundary: &str, max_bytes: usize) -> Self {
        let first = format!("--{boundary}");
        MultipartGuard {
            delimiter: Search::new(format!("\r\n{first}").as_bytes()),
            first: Search::new(first.as_bytes()),
            line_end: Search::new(b"\r\n"),
            blank_line: Search::new(b"\r\n\r\n"),
            stage: Stage::Preamble,
            seen: 0,
            after_delimiter: Vec::with_capacity(2),
            max_preamble: max_bytes,
            max_header_block: max_bytes,
            failed: None,
        }
    }

    /// Looks at the next chunk of the body. Once it has failed, it fails for every chunk.
    pub fn feed(&mut self, chunk: &[u8]) -> Result<(), Violation> {
        if let Some(violation) = self.failed {
            return Err(violation);
        }
        self.scan(chunk).inspect_err(|v| self.failed = Some(*v))
    }

    fn scan(&mut self, mut input: &[u8]) -> Result<(), Violation> {
        while !input.is_empty() {
            match self.stage {
                Stage::Epilogue => return Ok(()),
                Stage::Preamble => match self.first.find(input) {
                    Some(end) => {
                        let preamble = self.seen + end - self.first.needle_len();
                        self.check_preamble(preamble)?;
                        input = &input[end..];
                        self.enter(Stage::DelimiterEnd);
                    }
                    None => {
                        self.seen += input.len();
                        // The last needle − 1 bytes may still begin the delimiter.
                        let certain = self.seen.saturating_sub(self.first.needle_len() - 1);
                        return self.check_preamble(certain);
                    }
                },
                Stage::DelimiterEnd => {
                    let take = input.len().min(2 - self.after_delimiter.len());
                    self.after_delimiter.extend_from_slice(&input[..take]);
                    input = &input[take..];
                    if self.after_delimiter.len() < 2 {
                        return Ok(());
                    }
                    if self.after_delimiter == b"--" {
                        self.stage = Stage::Epilogue;
                        return Ok(());
                    }
                    // The two bytes belong to the delimiter line (they may be its CRLF).
                    self.stage = Stage::DelimiterLine;
                    let peeked = std::mem::take(&mut self.after_delimiter);
                    self.scan(&peeked)?;
                    self.after_delimiter = peeked;
                    self.after_delimiter.clear();
                }
                Stage::DelimiterLine | Stage::Headers => {
                    let search = if self.stage == Stage::DelimiterLine {
                        &mut self.line_end
                    } else {
                        &mut self.blank_line
                    };
                    match search.find(input) {
                        Some(end) => {
                            self.seen += end;
                            self.check_header_block(self.seen)?;
                            input = &input[end..];
                            if self.stage == Stage::DelimiterLine {
                                // The header block is searched from after the line's CRLF,
                                // and its blank line is still to come: judged now, as when
                                // the body goes on (the body may end here).
                                self.stage = Stage::Headers;
                                self.blank_line.reset();
                                self.check_header_block(self.seen.saturating_add(1))?;
                            } else {
                                self.enter(Stage::Body);
                            }
                        }
                        None => {
                            self.seen += input.len();
                            // Any blank line still to come would end past the bound.
                            return self.check_header_block(self.seen.saturating_add(1));
                        }
                    }
                }
                Stage::Body => match self.delimiter.find(input) {
                    Some(end) => {
                        input = &input[end..];
                        self.enter(Stage::DelimiterEnd);
                    }
                    None => return Ok(()),
                },
            }
        }
        Ok(())
    }

    fn enter(&mut self, stage: Stage) {
        self.stage = stage;
        self.seen = 0;
        self.after_delimiter.clear();
        for search in [
            &mut self.first,
            &mut self.delimiter,
            &mut self.line_end,
            &mut self.blank_line,
        ] {
            search.reset();
        }
    }

    fn check_preamble(&self, bytes: usize) -> Result<(), Violation> {
        if bytes > self.max_preamble {
            return Err(Violation::PreambleTooLong {
                limit: self.max_preamble,
            });
        }
        Ok(())
    }

    fn check_header_block(&self, bytes: usize) -> Result<(), Violation> {
        if bytes > self.max_header_block {
            return Err(Violation::HeaderBlockTooLong {
                limit: self.max_header_block,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const B: &str = "XyZ";
    const LIMIT: usize = 128;

    fn feed_all(body: &[u8], cuts: &[usize], limit: usize) -> Result<(), Violation> {
        let mut guard = MultipartGuard::new(B, limit);
        let mut start = 0;
        for &cut in cuts.iter().chain(std::iter::once(&body.len())) {
            let cut = cut.clamp(start, body.len());
            guard.feed(&body[start..cut])?;
            start = cut;
        }
        Ok(())
    }

    fn part(headers: &str, body: &[u8]) -> Vec<u8> {
        let mut out = format!("--{B}\r\n{headers}\r\n\r\n").into_bytes();
        out.extend_from_slice(body);
        out.extend_from_slice(b"\r\n");
        out
    }

    fn sample() -> Vec<u8> {
        let mut body = b"preamble\r\n".to_vec();
        body.extend(part(
            "Content-Disposition: form-data; name=\"fileName\"",
            b"a.jpg",
        ));
        // Content that looks like a delimiter without being one, and a long part body.
        let mut content = format!("--{B} \r\n-{B}\n--{B}").into_bytes();
        content.extend(std::iter::repeat_n(b'x', 1000));
        body.extend(part(
            "Content-Disposition: form-data; name=\"file\"; filename=\"a\"\r\nContent-Type: image/jpeg",
            &content,
        ));
        body.extend(format!("--{B}--\r\nepilogue of any length\r\n\r\n").as_bytes());
        body
    }

    /// Found by the `multipart` fuzz target: a delimiter line that fills the bound to the byte,
    /// at the end of the body, passed although its blank line could only end past the bound
    /// (whereas one more byte of any kind would have been refused).
    #[test]
    fn a_delimiter_line_that_fills_the_bound_is_refused_even_at_the_end_of_the_body() {
        let body = format!("--{B}12345678\r\n");
        assert_eq!(
            feed_all(body.as_bytes(), &[], 10),
            Err(Violation::HeaderBlockTooLong { limit: 10 })
        );
        let shorter = format!("--{B}1234567\r\n");
        assert_eq!(feed_all(shorter.as_bytes(), &[], 10), Ok(()));
    }

    #[test]
    fn a_well_formed_body_passes_however_it_is_cut() {
        let body = sample();
        for at in 0..=body.len() {
            assert_eq!(feed_all(&body, &[at], LIMIT), Ok(()), "cut at {at}");
        }
        let every: Vec<usize> = (1..body.len()).collect();
        assert_eq!(feed_all(&body, &every, LIMIT), Ok(()));
    }

    #[test]
    fn a_body_without_the_boundary_is_refused_after_the_bound() {
        let body = vec![b'a'; 10_000];
        assert_eq!(
            feed_all(&body, &[], LIMIT),
            Err(Violation::PreambleTooLong { limit: LIMIT })
        );
        // A preamble of exactly the bound is fine, whichever way the delimiter is cut.
        let mut body = vec![b'a'; LIMIT];
        body.extend(part("Content-Disposition: form-data; name=\"a\"", b"1"));
        for at in 0..body.len() {
            assert_eq!(feed_all(&body, &[at], LIMIT), Ok(()), "cut at {at}");
        }
        body.insert(0, b'a');
        for at in 0..body.len() {
            assert_eq!(
                feed_all(&body, &[at], LIMIT),
                Err(Violation::PreambleTooLong { limit: LIMIT }),
                "cut at {at}"
            );
        }
    }

    #[test]
    fn an_overlong_header_block_is_refused() {
        let long_name = "n".repeat(LIMIT);
        let body = part(
            &format!("Content-Disposition: form-data; name=\"{long_name}\""),
            b"1",
        );
        for at in [0, 1, 10, body.len() / 2] {
            assert_eq!(
                feed_all(&body, &[at], LIMIT),
                Err(Violation::HeaderBlockTooLong { limit: LIMIT })
            );
        }
        // A header block that never ends is refused once it passes the bound.
        let mut body = format!("--{B}\r\nContent-Disposition: ").into_bytes();
        body.extend(std::iter::repeat_n(b'n', 100_000));
        let mut guard = MultipartGuard::new(B, LIMIT);
        assert!(guard.feed(&body[..LIMIT]).is_ok());
        assert_eq!(
            guard.feed(&body[LIMIT..]),
            Err(Violation::HeaderBlockTooLong { limit: LIMIT })
        );
        assert!(guard.feed(b"\r\n\r\n").is_err(), "stays failed");
    }

    #[test]
    fn the_header_block_counts_from_the_delimiter_to_the_blank_line() {
        // `--B` CRLF headers CRLF CRLF: 2 + headers + 4 bytes.
        let headers = "h".repeat(LIMIT - 6);
        let body = part(&headers, b"");
        assert_eq!(feed_all(&body, &[], LIMIT), Ok(()));
        let body = part(&format!("{headers}h"), b"");
        assert_eq!(
            feed_all(&body, &[], LIMIT),
            Err(Violation::HeaderBlockTooLong { limit: LIMIT })
        );
        // Transport padding on the delimiter line counts too.
        let padded = format!("--{B}{}\r\n{headers}\r\n\r\n", " ".repeat(3));
        assert!(feed_all(padded.as_bytes(), &[], LIMIT).is_err());
    }

    #[test]
    fn every_part_is_bounded_not_only_the_first() {
        let mut body = sample();
        body.truncate(body.len() - "--XyZ--\r\nepilogue of any length\r\n\r\n".len());
        body.extend(part(&"h".repeat(LIMIT), b"late"));
        assert_eq!(
            feed_all(&body, &[], LIMIT),
            Err(Violation::HeaderBlockTooLong { limit: LIMIT })
        );
    }

    #[test]
    fn nothing_after_the_close_delimiter_is_bounded() {
        let mut body = part("Content-Disposition: form-data; name=\"a\"", b"1");
        body.extend(format!("--{B}--").as_bytes());
        body.extend(vec![b'e'; 10_000]);
        assert_eq!(feed_all(&body, &[], LIMIT), Ok(()));
    }

    proptest! {
        #[test]
        fn cutting_never_changes_the_verdict(
            noise in proptest::collection::vec(prop_oneof![
                Just(b"\r\n".to_vec()),
                Just(b"\r\n\r\n".to_vec()),
                Just(format!("--{B}").into_bytes()),
                Just(format!("\r\n--{B}").into_bytes()),
                Just(format!("\r\n--{B}--").into_bytes()),
                Just(b"-".to_vec()),
                proptest::collection::vec(any::<u8>(), 1..20),
            ], 0..30),
            cuts in proptest::collection::vec(0usize..400, 0..10),
        ) {
            let body = noise.concat();
            let mut cuts = cuts;
            cuts.sort_unstable();
            prop_assert_eq!(feed_all(&body, &cuts, 24), feed_all(&body, &[], 24));
        }
    }
}
