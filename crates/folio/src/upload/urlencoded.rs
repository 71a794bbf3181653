//! A streaming `application/x-www-form-urlencoded` parser.
//!
//! The body arrives in chunks of any size; the parser turns them into [`Event`]s without ever
//! holding more than one text field: a text field is reported once complete (name and value
//! decoded as `form_urlencoded::parse` decodes them: `+` is a space, `%XX` a byte, an invalid
//! escape stays as it is, and the bytes are read as UTF-8 with replacement characters), while
//! the value of the `file` field is handed on as it arrives, percent-decoded piece by piece, so
//! its size is bounded by the file limits downstream and not by memory. Names, values and the
//! sum of all text values are bounded by [`TextLimits`].
//!
//! Pure (no I/O): the intake feeds it, tests and fuzzers call it directly.

/// The field whose value is streamed instead of collected.
pub const FILE_FIELD: &[u8] = b"file";

/// Bounds on what the parser collects in memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TextLimits {
    /// Longest field name (decoded bytes).
    pub max_name_bytes: usize,
    /// Longest text value (decoded bytes).
    pub max_value_bytes: usize,
    /// Longest sum of all text values (decoded bytes; the `file` value is not counted).
    pub max_total_value_bytes: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A complete text field.
    Field { name: String, value: String },
    /// The value of the `file` field begins.
    FileStart,
    /// Decoded bytes of the `file` value, in order.
    FileData(Vec<u8>),
    /// The `file` value has ended.
    FileEnd,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormError {
    #[error("a field name is longer than {limit} bytes")]
    NameTooLong { limit: usize },
    #[error("field {name:?} is longer than {limit} bytes")]
    ValueTooLong { name: String, limit: usize },
    #[error("the text fields up to {name:?} are longer than {limit} bytes together")]
    TextTooLarge { name: String, limit: usize },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Reading a name (the first `=` or a `&` ends it).
    Name,
    /// Reading a text value (up to the next `&`).
    Value,
    /// Streaming the `file` value (up to the next `&`).
    File,
    /// The `file` value ended; [`Event::FileEnd`] is due.
    FileEnding,
    /// The body ended and everything has been reported.
    Done,
}

/// Percent-decoding that may stop anywhere: a `%` and its digits can straddle two chunks.
#[derive(Debug, Default, Clone, Copy)]
struct Percent {
    /// `%` seen, and perhaps its first hex digit (as sent).
    pending: Option<Option<u8>>,
}

impl Percent {
    /// Decodes one byte of the raw text (`+` already counts as a space here).
    fn push(&mut self, byte: u8, out: &mut Vec<u8>) {
        let byte = if byte == b'+' { b' ' } else { byte };
        match self.pending.take() {
            None => self.plain(byte, out),
            Some(None) => {
                if hex(byte).is_some() {
                    self.pending = Some(Some(byte));
                } else {
                    out.push(b'%');
                    self.plain(byte, out);
                }
            }
            Some(Some(high)) => match (hex(high), hex(byte)) {
                (Some(h), Some(l)) => out.push(h << 4 | l),
                _ => {
                    // Not an escape after all: `%` and the digit stay as they were.
                    out.extend_from_slice(&[b'%', high]);
                    self.plain(byte, out);
                }
            },
        }
    }

    fn plain(&mut self, byte: u8, out: &mut Vec<u8>) {
        if byte == b'%' {
            self.pending = Some(None);
        } else {
            out.push(byte);
        }
    }

    /// The end of a name or value: an unfinished escape is kept as text.
    fn flush(&mut self, out: &mut Vec<u8>) {
        match self.pending.take() {
            None => {}
            Some(None) => out.push(b'%'),
            Some(Some(high)) => out.extend_from_slice(&[b'%', high]),
        }
    }
}

fn hex(byte: u8) -> Option<u8> {
    (byte as char).to_digit(16).map(|d| d as u8)
}

/// The parser. Feed every chunk with [`UrlEncodedParser::parse`] until it returns `None`, and
/// at the end of the body call [`UrlEncodedParser::finish`] until it returns `None`.
#[derive(Debug)]
pub struct UrlEncodedParser {
    limits: TextLimits,
    state: State,
    /// Bytes of the current `name=value` pair seen (an empty pair, `&&`, is skipped).
    in_pair: bool,
    name: Vec<u8>,
    value: Vec<u8>,
    percent: Percent,
    /// Decoded bytes of the text values reported so far.
    total: usize,
    ended: bool,
}

impl UrlEncodedParser {
    pub fn new(limits: TextLimits) -> Self {
        UrlEncodedParser {
            limits,
            state: State::Name,
            in_pair: false,
            name: Vec::new(),
            value: Vec::new(),
            percent: Percent::default(),
            total: 0,
            ended: false,
        }
    }

    /// Consumes bytes from the front of `input` until an event is complete, and returns it;
    /// `None` once `input` is used up. Call again with the rest of `input` after an event.
    pub fn parse(&mut self, input: &mut &[u8]) -> Result<Option<Event>, FormError> {
        loop {
            match self.state {
                State::Done => return Ok(None),
                State::FileEnding => {
                    self.state = self.after_pair();
                    return Ok(Some(Event::FileEnd));
                }
                State::File => {
                    if input.is_empty() {
                        return Ok(None);
                    }
                    let end = memchr::memchr(b'&', input);
                    let run = &input[..end.unwrap_or(input.len())];
                    let mut data = Vec::with_capacity(run.len());
                    for &byte in run {
                        self.percent.push(byte, &mut data);
                    }
                    match end {
                        Some(at) => {
                            *input = &input[at + 1..];
                            self.percent.flush(&mut data);
                            self.state = State::FileEnding;
                        }
                        None => *input = &[],
                    }
                    if !data.is_empty() {
                        return Ok(Some(Event::FileData(data)));
                    }
                }
                State::Name | State::Value => {
                    let Some((&byte, rest)) = input.split_first() else {
                        return Ok(None);
                    };
                    *input = rest;
                    if let Some(event) = self.text_byte(byte)? {
                        return Ok(Some(event));
                    }
                }
            }
        }
    }

    /// The end of the body. Returns the events the last pair makes, one per call, then `None`.
    pub fn finish(&mut self) -> Result<Option<Event>, FormError> {
        self.ended = true;
        match self.state {
            State::Done => Ok(None),
            State::FileEnding => {
                self.state = State::Done;
                Ok(Some(Event::FileEnd))
            }
            State::File => {
                let mut data = Vec::new();
                self.percent.flush(&mut data);
                self.state = State::FileEnding;
                if data.is_empty() {
                    return self.finish();
                }
                Ok(Some(Event::FileData(data)))
            }
            State::Name if !self.in_pair => {
                self.state = State::Done;
                Ok(None)
            }
            State::Name | State::Value => self.end_pair().map(Some),
        }
    }

    /// One byte of a name or a text value.
    fn text_byte(&mut self, byte: u8) -> Result<Option<Event>, FormError> {
        match (self.state, byte) {
            (State::Name, b'&') if !self.in_pair => Ok(None),
            (_, b'&') => self.end_pair().map(Some),
            (State::Name, b'=') => {
                self.in_pair = true;
                self.percent.flush(&mut self.name);
                self.check_name()?;
                if self.name == FILE_FIELD {
                    self.name.clear();
                    self.in_pair = false;
                    self.state = State::File;
                    return Ok(Some(Event::FileStart));
                }
                self.state = State::Value;
                Ok(None)
            }
            (State::Name, _) => {
                self.in_pair = true;
                self.percent.push(byte, &mut self.name);
                self.check_name()?;
                Ok(None)
            }
            _ => {
                self.percent.push(byte, &mut self.value);
                self.check_value()?;
                Ok(None)
            }
        }
    }

    /// A `&` or the end of the body ends the pair being read.
    fn end_pair(&mut self) -> Result<Event, FormError> {
        if self.state == State::Name {
            self.percent.flush(&mut self.name);
            self.check_name()?;
            if self.name == FILE_FIELD {
                // `file` with no `=`: an empty file value.
                self.name.clear();
                self.in_pair = false;
                self.state = State::FileEnding;
                return Ok(Event::FileStart);
            }
        } else {
            self.percent.flush(&mut self.value);
            self.check_value()?;
        }
        self.total += self.value.len();
        let event = Event::Field {
            name: String::from_utf8_lossy(&self.name).into_owned(),
            value: String::from_utf8_lossy(&self.value).into_owned(),
        };
        self.name.clear();
        self.value.clear();
        self.in_pair = false;
        self.state = self.after_pair();
        Ok(event)
    }

    fn after_pair(&self) -> State {
        if self.ended {
            State::Done
        } else {
            State::Name
        }
    }

    fn check_name(&self) -> Result<(), FormError> {
        if self.name.len() > self.limits.max_name_bytes {
            return Err(FormError::NameTooLong {
                limit: self.limits.max_name_bytes,
            });
        }
        Ok(())
    }

    fn check_value(&self) -> Result<(), FormError> {
        let name = || String::from_utf8_lossy(&self.name).into_owned();
        if self.value.len() > self.limits.max_value_bytes {
            return Err(FormError::ValueTooLong {
                name: name(),
                limit: self.limits.max_value_bytes,
            });
        }
        if self.total + self.value.len() > self.limits.max_total_value_bytes {
            return Err(FormError::TextTooLarge {
                name: name(),
                limit: self.limits.max_total_value_bytes,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const ROOMY: TextLimits = TextLimits {
        max_name_bytes: usize::MAX,
        max_value_bytes: usize::MAX,
        max_total_value_bytes: usize::MAX,
    };

    /// Every event of `body` fed in the given pieces, with consecutive file data merged (how
    /// the data is cut depends on the chunks; what it adds up to must not).
    fn events(body: &[u8], cuts: &[usize], limits: TextLimits) -> Result<Vec<Event>, FormError> {
        let mut parser = UrlEncodedParser::new(limits);
        let mut out: Vec<Event> = Vec::new();
        let push = |event: Event, out: &mut Vec<Event>| match (out.last_mut(), event) {
            (Some(Event::FileData(data)), Event::FileData(more)) => data.extend(more),
            (_, event) => out.push(event),
        };
        let mut start = 0;
        for &cut in cuts.iter().chain(std::iter::once(&body.len())) {
            let cut = cut.clamp(start, body.len());
            let mut chunk = &body[start..cut];
            start = cut;
            while let Some(event) = parser.parse(&mut chunk)? {
                push(event, &mut out);
            }
            assert!(
                chunk.is_empty(),
                "parse returns None only when the input is used up"
            );
        }
        while let Some(event) = parser.finish()? {
            push(event, &mut out);
        }
        Ok(out)
    }

    fn field(name: &str, value: &str) -> Event {
        Event::Field {
            name: name.into(),
            value: value.into(),
        }
    }

    /// What `form_urlencoded::parse` makes of the same body, in the parser's terms.
    fn reference(body: &[u8]) -> Vec<Event> {
        let mut out = Vec::new();
        for (name, value) in form_urlencoded::parse(body) {
            if name.as_bytes() == FILE_FIELD {
                out.push(Event::FileStart);
                if !value.is_empty() {
                    out.push(Event::FileData(value.as_bytes().to_vec()));
                }
                out.push(Event::FileEnd);
            } else {
                out.push(field(&name, &value));
            }
        }
        out
    }

    /// File data as text, the way `form_urlencoded` reads it (lossy UTF-8).
    fn lossy_file_data(events: Vec<Event>) -> Vec<Event> {
        events
            .into_iter()
            .map(|e| match e {
                Event::FileData(d) => {
                    Event::FileData(String::from_utf8_lossy(&d).into_owned().into_bytes())
                }
                e => e,
            })
            .collect()
    }

    const SAMPLE: &[u8] =
        b"fileName=my+photo%20(1).jpg&&tags=a%2Cb&empty=&x&%66ile=R0lG%2BODlh%2f%3D%3&\
        n%C3%A9=caf%C3%A9%zz%4&=lone&k=v=w&last";

    #[test]
    fn the_sample_decodes_like_form_urlencoded() {
        let got = events(SAMPLE, &[], ROOMY).expect("parses");
        assert_eq!(
            got,
            vec![
                field("fileName", "my photo (1).jpg"),
                field("tags", "a,b"),
                field("empty", ""),
                field("x", ""),
                Event::FileStart,
                Event::FileData(b"R0lG+ODlh/=%3".to_vec()),
                Event::FileEnd,
                field("né", "café%zz%4"),
                field("", "lone"),
                field("k", "v=w"),
                field("last", ""),
            ]
        );
        assert_eq!(got, reference(SAMPLE));
    }

    #[test]
    fn every_split_point_gives_the_same_events() {
        let whole = events(SAMPLE, &[], ROOMY).expect("parses");
        for at in 0..=SAMPLE.len() {
            assert_eq!(
                events(SAMPLE, &[at], ROOMY).as_ref(),
                Ok(&whole),
                "split at {at}"
            );
        }
        let byte_by_byte: Vec<usize> = (1..SAMPLE.len()).collect();
        assert_eq!(events(SAMPLE, &byte_by_byte, ROOMY), Ok(whole));
    }

    #[test]
    fn a_file_field_without_value_is_an_empty_file() {
        for body in [&b"file"[..], b"file=", b"a=1&file&b=2", b"file=&b=2"] {
            let got = events(body, &[], ROOMY).expect("parses");
            assert!(
                got.windows(2)
                    .any(|w| w == [Event::FileStart, Event::FileEnd]),
                "{:?}: {got:?}",
                String::from_utf8_lossy(body)
            );
        }
    }

    #[test]
    fn limits_bound_names_values_and_their_sum() {
        let limits = TextLimits {
            max_name_bytes: 4,
            max_value_bytes: 5,
            max_total_value_bytes: 8,
        };
        assert_eq!(
            events(b"abcd=12345&b=123", &[], limits).map(|e| e.len()),
            Ok(2)
        );
        assert_eq!(
            events(b"abcde=1", &[], limits),
            Err(FormError::NameTooLong { limit: 4 })
        );
        assert_eq!(
            events(b"abcde", &[], limits),
            Err(FormError::NameTooLong { limit: 4 })
        );
        assert_eq!(
            events(b"a=123456", &[], limits),
            Err(FormError::ValueTooLong {
                name: "a".into(),
                limit: 5
            })
        );
        assert_eq!(
            events(b"a=12345&b=1234", &[], limits),
            Err(FormError::TextTooLarge {
                name: "b".into(),
                limit: 8
            })
        );
        // Escapes count as the byte they decode to; the file value does not count at all.
        assert!(events(b"a=%41%41%41%41%41&file=0123456789012345", &[], limits).is_ok());
        // The error comes as soon as the bound is passed, not at the end of the value.
        let mut parser = UrlEncodedParser::new(limits);
        let mut input = &b"a=123456"[..];
        assert!(parser.parse(&mut input).is_err());
    }

    #[test]
    fn file_data_streams_before_the_value_ends() {
        let mut parser = UrlEncodedParser::new(ROOMY);
        let mut input = &b"file=QUJD"[..];
        assert_eq!(parser.parse(&mut input), Ok(Some(Event::FileStart)));
        assert_eq!(
            parser.parse(&mut input),
            Ok(Some(Event::FileData(b"QUJD".to_vec())))
        );
        assert_eq!(parser.parse(&mut input), Ok(None));
        let mut more = &b"%2"[..];
        assert_eq!(
            parser.parse(&mut more),
            Ok(None),
            "an unfinished escape waits"
        );
        let mut more = &b"B&a=b"[..];
        assert_eq!(
            parser.parse(&mut more),
            Ok(Some(Event::FileData(b"+".to_vec())))
        );
        assert_eq!(parser.parse(&mut more), Ok(Some(Event::FileEnd)));
        assert_eq!(parser.parse(&mut more), Ok(None), "`a=b` may go on");
        assert_eq!(parser.finish(), Ok(Some(field("a", "b"))));
        assert_eq!(parser.finish(), Ok(None));
    }

    /// Bytes that exercise the syntax: separators, escapes (valid, invalid, cut short), `+`,
    /// the `file` name, and non-UTF-8 bytes.
    fn form_bytes() -> impl Strategy<Value = Vec<u8>> {
        let token = prop_oneof![
            Just(b"&".to_vec()),
            Just(b"=".to_vec()),
            Just(b"%".to_vec()),
            Just(b"+".to_vec()),
            Just(b"file".to_vec()),
            Just(b"file=".to_vec()),
            Just(b"%2B".to_vec()),
            Just(b"%e9".to_vec()),
            Just(b"%C3%A9".to_vec()),
            Just(b"%4".to_vec()),
            Just(b"%g1".to_vec()),
            "[a-fA-F0-9]{1,3}".prop_map(String::into_bytes),
            proptest::collection::vec(any::<u8>(), 1..4),
        ];
        proptest::collection::vec(token, 0..40).prop_map(|t| t.concat())
    }

    proptest! {
        #[test]
        fn agrees_with_form_urlencoded(body in form_bytes(), cuts in proptest::collection::vec(0usize..200, 0..8)) {
            let mut cuts = cuts;
            cuts.sort_unstable();
            let got = events(&body, &cuts, ROOMY).expect("no limits to hit");
            prop_assert_eq!(lossy_file_data(got), reference(&body));
        }

        #[test]
        fn chunking_never_changes_the_events(body in form_bytes(), cuts in proptest::collection::vec(0usize..200, 0..12)) {
            let mut cuts = cuts;
            cuts.sort_unstable();
            let limits = TextLimits { max_name_bytes: 6, max_value_bytes: 8, max_total_value_bytes: 20 };
            prop_assert_eq!(events(&body, &cuts, limits), events(&body, &[], limits));
        }
    }
}
