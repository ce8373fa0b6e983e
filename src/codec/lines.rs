//! [`LinesCodec`]: `\n`-terminated lines (a `\r` before it is dropped too).

use super::{reserve, Decoder, Encoder};
use crate::{PooledBytes, PooledBytesMut};
use std::{fmt, io};

/// Lines of UTF-8 text, as tokio-util's `LinesCodec`, but each line comes
/// out as a [`PooledBytes`] view of the read buffer (valid UTF-8, without
/// its `\n` or `\r\n`): no copy into a `String`.
///
/// With a `max_length`, a longer line is an error
/// ([`LinesCodecError::MaxLineLengthExceeded`]); the codec then skips to
/// the next line, so the connection can go on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinesCodec {
    /// Where the search for `\n` resumes (bytes before it hold none).
    next_index: usize,
    max_length: usize,
    /// Skipping the rest of a line that was too long.
    discarding: bool,
}

/// Why a line could not be decoded.
#[derive(Debug)]
#[non_exhaustive]
pub enum LinesCodecError {
    /// The line is longer than the codec's `max_length`.
    MaxLineLengthExceeded,
    /// An I/O error (including invalid UTF-8, as `InvalidData`, and memory
    /// refused by the pool, as `OutOfMemory`).
    Io(io::Error),
}

impl fmt::Display for LinesCodecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LinesCodecError::MaxLineLengthExceeded => write!(f, "max line length exceeded"),
            LinesCodecError::Io(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for LinesCodecError {}

impl From<io::Error> for LinesCodecError {
    fn from(e: io::Error) -> Self {
        LinesCodecError::Io(e)
    }
}

impl Default for LinesCodec {
    fn default() -> Self {
        LinesCodec::new()
    }
}

impl LinesCodec {
    /// Lines of any length.
    pub fn new() -> LinesCodec {
        LinesCodec::new_with_max_length(usize::MAX)
    }

    /// Lines of at most `max_length` bytes (without the terminator).
    pub fn new_with_max_length(max_length: usize) -> LinesCodec {
        LinesCodec {
            next_index: 0,
            max_length,
            discarding: false,
        }
    }

    /// The longest line accepted.
    pub fn max_length(&self) -> usize {
        self.max_length
    }

    /// `line` without its terminator, checked as UTF-8.
    fn finish(mut line: PooledBytes) -> Result<PooledBytes, LinesCodecError> {
        if line.last() == Some(&b'\n') {
            line.truncate(line.len() - 1);
        }
        if line.last() == Some(&b'\r') {
            line.truncate(line.len() - 1);
        }
        std::str::from_utf8(&line)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "line is not valid UTF-8"))?;
        Ok(line)
    }
}

impl Decoder for LinesCodec {
    type Item = PooledBytes;
    type Error = LinesCodecError;

    fn decode(&mut self, buf: &mut PooledBytesMut) -> Result<Option<PooledBytes>, Self::Error> {
        loop {
            // Look no further than one past the longest line allowed.
            let limit = self.max_length.saturating_add(1).min(buf.len());
            let found = buf[self.next_index..limit]
                .iter()
                .position(|&b| b == b'\n')
                .map(|i| self.next_index + i);
            match (self.discarding, found) {
                (true, Some(end)) => {
                    // The end of the line that was too long: drop it.
                    drop(buf.split_to(end + 1));
                    self.next_index = 0;
                    self.discarding = false;
                }
                (true, None) => {
                    // Still inside it: drop what we have, keep looking.
                    drop(buf.split_to(limit));
                    self.next_index = 0;
                    if buf.is_empty() {
                        return Ok(None);
                    }
                }
                (false, Some(end)) => {
                    self.next_index = 0;
                    let line = buf.split_to(end + 1).freeze();
                    return LinesCodec::finish(line).map(Some);
                }
                (false, None) if buf.len() > self.max_length => {
                    self.discarding = true;
                    return Err(LinesCodecError::MaxLineLengthExceeded);
                }
                (false, None) => {
                    self.next_index = buf.len();
                    return Ok(None);
                }
            }
        }
    }

    fn decode_eof(&mut self, buf: &mut PooledBytesMut) -> Result<Option<PooledBytes>, Self::Error> {
        if let Some(line) = self.decode(buf)? {
            return Ok(Some(line));
        }
        self.next_index = 0;
        if buf.is_empty() || self.discarding {
            drop(buf.split());
            return Ok(None);
        }
        // The last line, without a terminator.
        LinesCodec::finish(buf.split().freeze()).map(Some)
    }
}

impl<T: AsRef<str>> Encoder<T> for LinesCodec {
    type Error = LinesCodecError;

    fn encode(&mut self, line: T, dst: &mut PooledBytesMut) -> Result<(), Self::Error> {
        let line = line.as_ref();
        reserve(dst, line.len() + 1)?;
        dst.extend_from_slice(line.as_bytes());
        dst.extend_from_slice(b"\n");
        Ok(())
    }
}
