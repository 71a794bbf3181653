//! The request-body intake of the upload endpoints: the multipart parser (`multer` behind the
//! guard that bounds what it would buffer whole) and the streaming form-encoded parser.
//!
//! Both see bodies from anonymous clients in chunks of any size, so both are checked for
//! what chunking must not change, against a whole-buffer reading of the same rules.

use std::borrow::Cow;

use bytes::Bytes;
use folio::config::Limits;
use folio::upload::intake::multipart_parser;
use folio::upload::multipart_guard::{MultipartGuard, Violation};
use folio::upload::urlencoded::{Event, FormError, TextLimits, UrlEncodedParser, FILE_FIELD};

/// Small bounds, so that short inputs reach them.
const HEADER_LIMIT: usize = 64;
const FIELD_LIMIT: u64 = 48;

/// The first line, and the rest.
fn split_line(data: &[u8]) -> (&[u8], &[u8]) {
    match data.iter().position(|&b| b == b'\n') {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (data, &[]),
    }
}

/// `body` cut into pieces whose lengths (1 to 256) are the bytes of `sizes`, cycled.
fn chunks<'a>(body: &'a [u8], sizes: &[u8]) -> Vec<&'a [u8]> {
    let mut out = Vec::new();
    let mut rest = body;
    let mut i = 0;
    while !rest.is_empty() {
        let size = sizes
            .get(i % sizes.len().max(1))
            .map_or(7, |&b| usize::from(b) + 1);
        let (piece, tail) = rest.split_at(size.min(rest.len()));
        out.push(piece);
        rest = tail;
        i += 1;
    }
    out
}

/// A boundary that a `Content-Type` may carry (RFC 2046: 1 to 70 characters of a small
/// alphabet), made from any bytes.
fn boundary_from(raw: &[u8]) -> String {
    const ALPHABET: &[u8] =
        b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'()+_,-./:=?";
    let boundary: String = raw
        .iter()
        .take(70)
        .map(|&b| char::from(ALPHABET[usize::from(b) % ALPHABET.len()]))
        .collect();
    if boundary.is_empty() {
        "b".to_owned()
    } else {
        boundary
    }
}

fn guard_verdict(boundary: &str, pieces: &[&[u8]]) -> Result<(), Violation> {
    let mut guard = MultipartGuard::new(boundary, HEADER_LIMIT);
    pieces.iter().try_for_each(|piece| guard.feed(piece))
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The guard's rules read off the whole body at once: the preamble before the first
/// `--BOUNDARY`, and each header block (from the end of a delimiter, through its line's CRLF,
/// to the end of the next blank line), must fit the bound; a body that ends inside one fails
/// when what is there already (plus the blank line's last byte still to come) passes it.
fn whole_buffer_verdict(boundary: &str, body: &[u8]) -> Result<(), Violation> {
    let limit = HEADER_LIMIT;
    let first = format!("--{boundary}");
    let delimiter = format!("\r\n{first}");
    let too_long_header = Err(Violation::HeaderBlockTooLong { limit });
    let Some(at) = find(body, first.as_bytes()) else {
        let certain = body.len().saturating_sub(first.len() - 1);
        return if certain > limit {
            Err(Violation::PreambleTooLong { limit })
        } else {
            Ok(())
        };
    };
    if at > limit {
        return Err(Violation::PreambleTooLong { limit });
    }
    let mut pos = at + first.len();
    loop {
        let after = &body[pos..];
        if after.len() < 2 || after.starts_with(b"--") {
            return Ok(());
        }
        let block_start = pos;
        let unfinished = (body.len() - block_start).saturating_add(1);
        let Some(line) = find(after, b"\r\n") else {
            return if unfinished > limit {
                too_long_header
            } else {
                Ok(())
            };
        };
        let line_end = pos + line + 2;
        if line_end - block_start > limit {
            return too_long_header;
        }
        let Some(blank) = find(&body[line_end..], b"\r\n\r\n") else {
            return if unfinished > limit {
                too_long_header
            } else {
                Ok(())
            };
        };
        let block_end = line_end + blank + 4;
        if block_end - block_start > limit {
            return too_long_header;
        }
        match find(&body[block_end..], delimiter.as_bytes()) {
            Some(next) => pos = block_end + next + delimiter.len(),
            None => return Ok(()),
        }
    }
}

/// The multipart intake. Input: the boundary (line 1, any bytes mapped to the boundary
/// alphabet), chunk sizes (line 2, one byte each), then the body.
///
/// Checks: the guard gives one verdict however the body is cut, and the verdict of
/// [`whole_buffer_verdict`]; `multer` behind the guard, under the intake's limits, reads the
/// whole body without panicking, never yields a text field over its limit, and refuses what
/// the guard refuses.
pub fn multipart(data: &[u8]) {
    let (raw_boundary, rest) = split_line(data);
    let (sizes, body) = split_line(rest);
    let boundary = boundary_from(raw_boundary);
    let pieces = chunks(body, sizes);

    let whole = guard_verdict(&boundary, &[body]);
    assert_eq!(
        guard_verdict(&boundary, &pieces),
        whole,
        "the verdict depends on how the body is cut"
    );
    assert_eq!(
        whole,
        whole_buffer_verdict(&boundary, body),
        "the streaming guard and the whole-buffer rules disagree"
    );

    let limits = Limits {
        max_part_header_bytes: HEADER_LIMIT,
        max_text_field_bytes: FIELD_LIMIT,
        max_file_size: 1024,
        max_video_size: 1024,
        ..Limits::default()
    };
    let stream = futures_util::stream::iter(
        pieces
            .iter()
            .map(|piece| Ok::<_, std::io::Error>(Bytes::copy_from_slice(piece)))
            .collect::<Vec<_>>(),
    );
    let mut parser = multipart_parser(stream, boundary, &limits);
    let outcome: Result<(), multer::Error> = futures_executor::block_on(async {
        while let Some(mut field) = parser.next_field().await? {
            let is_file = field.name() == Some("file");
            let mut len = 0u64;
            while let Some(chunk) = field.chunk().await? {
                len += chunk.len() as u64;
            }
            assert!(
                is_file || len <= FIELD_LIMIT,
                "a text field of {len} bytes got past the limit of {FIELD_LIMIT}"
            );
        }
        Ok(())
    });
    if let Err(violation) = whole {
        match outcome {
            Err(multer::Error::StreamReadFailed(cause)) => {
                assert_eq!(cause.downcast_ref::<Violation>(), Some(&violation));
            }
            // The parser may stop earlier, on its own rules, before the guard's bound.
            Err(_) => {}
            Ok(()) => panic!("multer read a body the guard refuses ({violation})"),
        }
    }
}

/// Decoded bytes of a form-encoded name or value, as `form_urlencoded` decodes them (`+` is a
/// space, `%XX` a byte, anything else as it is) before it reads them as UTF-8.
fn decoded(raw: &[u8]) -> Vec<u8> {
    let plus_as_space: Vec<u8> = raw
        .iter()
        .map(|&b| if b == b'+' { b' ' } else { b })
        .collect();
    Cow::from(percent_encoding::percent_decode(&plus_as_space)).into_owned()
}

/// What the parser must report for `body` under `limits`, read off the whole body: each
/// non-empty `&`-separated pair in order; the `file` value as its decoded bytes. The first
/// pair whose name, value or running total passes its bound is an error; a value that passes
/// both its own bound and the total may report either (which one it crosses first depends on
/// how escapes are decoded while they stream, not a rule of the contract), so the error side
/// lists every acceptable error.
fn whole_buffer_events(body: &[u8], limits: TextLimits) -> Result<Vec<Event>, Vec<FormError>> {
    let mut out = Vec::new();
    let mut total = 0usize;
    for pair in body.split(|&b| b == b'&').filter(|p| !p.is_empty()) {
        let (name, value) = match pair.iter().position(|&b| b == b'=') {
            Some(at) => (&pair[..at], &pair[at + 1..]),
            None => (pair, &[][..]),
        };
        let (name, value) = (decoded(name), decoded(value));
        if name.len() > limits.max_name_bytes {
            return Err(vec![FormError::NameTooLong {
                limit: limits.max_name_bytes,
            }]);
        }
        if name == FILE_FIELD {
            out.push(Event::FileStart);
            if !value.is_empty() {
                out.push(Event::FileData(value));
            }
            out.push(Event::FileEnd);
            continue;
        }
        let lossy_name = String::from_utf8_lossy(&name).into_owned();
        let mut crossed = Vec::new();
        if value.len() > limits.max_value_bytes {
            crossed.push(FormError::ValueTooLong {
                name: lossy_name.clone(),
                limit: limits.max_value_bytes,
            });
        }
        total += value.len();
        if total > limits.max_total_value_bytes {
            crossed.push(FormError::TextTooLarge {
                name: lossy_name.clone(),
                limit: limits.max_total_value_bytes,
            });
        }
        if !crossed.is_empty() {
            return Err(crossed);
        }
        out.push(Event::Field {
            name: lossy_name,
            value: String::from_utf8_lossy(&value).into_owned(),
        });
    }
    Ok(out)
}

/// Every event of `pieces` fed in order, consecutive file data merged (how the data is cut
/// depends on the pieces; what it adds up to must not).
fn streamed_events(pieces: &[&[u8]], limits: TextLimits) -> Result<Vec<Event>, FormError> {
    let mut parser = UrlEncodedParser::new(limits);
    let mut out: Vec<Event> = Vec::new();
    let mut push = |event: Event| match (out.last_mut(), event) {
        (Some(Event::FileData(data)), Event::FileData(more)) => data.extend(more),
        (_, event) => out.push(event),
    };
    for piece in pieces {
        let mut input = *piece;
        while let Some(event) = parser.parse(&mut input)? {
            push(event);
        }
        assert!(
            input.is_empty(),
            "the parser stopped before the end of its input"
        );
    }
    while let Some(event) = parser.finish()? {
        push(event);
    }
    Ok(out)
}

/// The form-encoded intake. Input: chunk sizes (line 1, one byte each), then the body.
///
/// Checks, with small bounds and with none: the events (or the error) are the same however the
/// body is cut, and those of [`whole_buffer_events`] (the error one it allows).
pub fn urlencoded(data: &[u8]) {
    let (sizes, body) = split_line(data);
    let pieces = chunks(body, sizes);
    let small = TextLimits {
        max_name_bytes: 16,
        max_value_bytes: 32,
        max_total_value_bytes: 64,
    };
    let roomy = TextLimits {
        max_name_bytes: usize::MAX,
        max_value_bytes: usize::MAX,
        max_total_value_bytes: usize::MAX,
    };
    for limits in [small, roomy] {
        let whole = streamed_events(&[body], limits);
        assert_eq!(
            streamed_events(&pieces, limits),
            whole,
            "cut into pieces, {limits:?}"
        );
        match (whole, whole_buffer_events(body, limits)) {
            (Ok(got), Ok(want)) => assert_eq!(got, want, "{limits:?}"),
            (Err(got), Err(acceptable)) => assert!(
                acceptable.contains(&got),
                "{got:?} is not one of {acceptable:?}, {limits:?}"
            ),
            (got, want) => panic!("{got:?}, but the whole-buffer reading gives {want:?}"),
        }
    }
}
