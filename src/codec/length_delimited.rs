//! [`LengthDelimitedCodec`]: frames behind a length field, with the builder
//! options of tokio-util's codec.
//!
//! ```text
//!  ┌─ length_field_offset ─┬─ length field ─┬── frame (length + length_adjustment) ──┐
//!  │ (other header bytes)  │ 1..=8 bytes,   │                                        │
//!  │                       │ big or little  │                                        │
//!  └───────────────────────┴────────────────┴────────────────────────────────────────┘
//!  └──────── num_skip (default: offset + field length) ────┘  skipped; the rest is the frame
//! ```

use super::{reserve, Decoder, Encoder};
use crate::{PooledBytes, PooledBytesMut};
use std::io;

/// Frames behind a length field (tokio-util's `LengthDelimitedCodec`); each
/// frame comes out as a [`PooledBytes`] view of the read buffer, no copy.
///
/// ```
/// use tidebuf::codec::LengthDelimitedCodec;
/// let codec = LengthDelimitedCodec::builder()
///     .length_field_length(2)
///     .little_endian()
///     .max_frame_length(64 << 10)
///     .new_codec();
/// assert_eq!(codec.max_frame_length(), 64 << 10);
/// ```
#[derive(Debug, Clone)]
pub struct LengthDelimitedCodec {
    builder: LengthDelimitedCodecBuilder,
    /// The length of the frame being read, once its header was.
    pending: Option<usize>,
}

/// Settings of a [`LengthDelimitedCodec`]; the defaults are tokio-util's: a
/// 4-byte big-endian length at offset 0, no adjustment, frames up to 8 MiB.
#[derive(Debug, Clone, Copy)]
pub struct LengthDelimitedCodecBuilder {
    length_field_offset: usize,
    length_field_len: usize,
    length_adjustment: isize,
    num_skip: Option<usize>,
    max_frame_len: usize,
    big_endian: bool,
}

impl Default for LengthDelimitedCodec {
    fn default() -> Self {
        LengthDelimitedCodec::new()
    }
}

impl LengthDelimitedCodec {
    /// The codec with the default settings.
    pub fn new() -> LengthDelimitedCodec {
        LengthDelimitedCodec::builder().new_codec()
    }

    /// A builder, with the default settings.
    pub fn builder() -> LengthDelimitedCodecBuilder {
        LengthDelimitedCodecBuilder {
            length_field_offset: 0,
            length_field_len: 4,
            length_adjustment: 0,
            num_skip: None,
            max_frame_len: 8 << 20,
            big_endian: true,
        }
    }

    /// The largest frame accepted.
    pub fn max_frame_length(&self) -> usize {
        self.builder.max_frame_len
    }

    /// Changes the largest frame accepted.
    pub fn set_max_frame_length(&mut self, len: usize) {
        self.builder.max_frame_len = len;
    }

    fn head_len(&self) -> usize {
        self.builder.length_field_offset + self.builder.length_field_len
    }

    /// Reads the header, if it is all there: the frame's length.
    fn decode_head(&mut self, src: &mut PooledBytesMut) -> io::Result<Option<usize>> {
        let b = &self.builder;
        if src.len() < self.head_len() {
            return Ok(None);
        }
        let field = &src[b.length_field_offset..self.head_len()];
        let n = field.iter().enumerate().fold(0u64, |n, (i, &byte)| {
            let shift = match b.big_endian {
                true => 8 * (field.len() - 1 - i),
                false => 8 * i,
            };
            n | (byte as u64) << shift
        });
        let adjusted = usize::try_from(n)
            .ok()
            .and_then(|n| n.checked_add_signed(b.length_adjustment));
        let Some(n) = adjusted else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "provided length would overflow after adjustment",
            ));
        };
        if n > b.max_frame_len {
            return Err(frame_too_big(n, b.max_frame_len));
        }
        let skip = b.num_skip.unwrap_or(self.head_len());
        if src.len() < skip {
            return Ok(None);
        }
        bytes::Buf::advance(src, skip);
        // Room for the whole frame at once, refused by the cap as an error.
        reserve(src, n.saturating_sub(src.len()))?;
        Ok(Some(n))
    }
}

fn frame_too_big(n: usize, max: usize) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("frame size too big: {n} > max_frame_length {max}"),
    )
}

impl Decoder for LengthDelimitedCodec {
    type Item = PooledBytes;
    type Error = io::Error;

    fn decode(&mut self, src: &mut PooledBytesMut) -> io::Result<Option<PooledBytes>> {
        let n = match self.pending {
            Some(n) => n,
            None => match self.decode_head(src)? {
                Some(n) => n,
                None => return Ok(None),
            },
        };
        if src.len() < n {
            self.pending = Some(n);
            return Ok(None);
        }
        self.pending = None;
        Ok(Some(src.split_to(n).freeze()))
    }
}

impl<B: AsRef<[u8]>> Encoder<B> for LengthDelimitedCodec {
    type Error = io::Error;

    /// Writes the length field (at offset 0; header bytes before it are the
    /// caller's, as in tokio-util) and the frame.
    fn encode(&mut self, data: B, dst: &mut PooledBytesMut) -> io::Result<()> {
        let data = data.as_ref();
        let b = &self.builder;
        if data.len() > b.max_frame_len {
            return Err(frame_too_big(data.len(), b.max_frame_len));
        }
        let field = (data.len() as u64)
            .checked_add_signed(-(b.length_adjustment as i64))
            .filter(|&n| b.length_field_len == 8 || n < 1 << (8 * b.length_field_len))
            .ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "frame length does not fit the length field",
                )
            })?;
        reserve(dst, b.length_field_len + data.len())?;
        let bytes = field.to_be_bytes();
        let field = &bytes[8 - b.length_field_len..];
        if b.big_endian {
            dst.extend_from_slice(field);
        } else {
            dst.extend(field.iter().rev());
        }
        dst.extend_from_slice(data);
        Ok(())
    }
}

impl LengthDelimitedCodecBuilder {
    /// Bytes before the length field (default 0).
    pub fn length_field_offset(&mut self, bytes: usize) -> &mut Self {
        self.length_field_offset = bytes;
        self
    }

    /// Bytes of the length field, 1 to 8 (default 4).
    ///
    /// # Panics
    /// Outside 1..=8, like tokio-util's.
    pub fn length_field_length(&mut self, bytes: usize) -> &mut Self {
        assert!(
            (1..=8).contains(&bytes),
            "length_field_length: {bytes} (expected: 1..=8)"
        );
        self.length_field_len = bytes;
        self
    }

    /// Added to the length field's value to get the frame length (default 0).
    pub fn length_adjustment(&mut self, bytes: isize) -> &mut Self {
        self.length_adjustment = bytes;
        self
    }

    /// Header bytes skipped before the frame (default: offset + field
    /// length, the whole header).
    pub fn num_skip(&mut self, bytes: usize) -> &mut Self {
        self.num_skip = Some(bytes);
        self
    }

    /// The largest frame accepted (default 8 MiB); a larger one is an
    /// `io::Error` (`InvalidData`).
    pub fn max_frame_length(&mut self, bytes: usize) -> &mut Self {
        self.max_frame_len = bytes;
        self
    }

    /// Big-endian length field (the default).
    pub fn big_endian(&mut self) -> &mut Self {
        self.big_endian = true;
        self
    }

    /// Little-endian length field.
    pub fn little_endian(&mut self) -> &mut Self {
        self.big_endian = false;
        self
    }

    /// Native-endian length field.
    pub fn native_endian(&mut self) -> &mut Self {
        self.big_endian = cfg!(target_endian = "big");
        self
    }

    /// The codec.
    pub fn new_codec(&self) -> LengthDelimitedCodec {
        LengthDelimitedCodec {
            builder: *self,
            pending: None,
        }
    }
}
