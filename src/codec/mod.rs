//! Pooled codecs (feature `codec`): framing over tokio's `AsyncRead` and
//! `AsyncWrite` whose connection buffers live in a [`Pool`](crate::Pool)
//! and ebb.
//!
//! ```text
//!  socket ─read─▶ read buffer (pool) ─decode─▶ frame = split_to(n).freeze()
//!                  │  8 KiB class, grows in the pool for a big frame      (no copy)
//!                  │  drained: back to the small class; idle: holds nothing
//!  socket ◀write─ write buffer (pool) ◀encode─ item
//!                     flushed: holds nothing
//! ```
//!
//! The shape is tokio-util's (`Decoder`, `Encoder`, `FramedRead`,
//! `FramedWrite`, `Framed`, `LengthDelimitedCodec`, `LinesCodec`,
//! `BytesCodec`), over [`PooledBytesMut`] instead of `BytesMut`, so frames
//! come out as [`PooledBytes`](crate::PooledBytes) views of the read buffer
//! without a copy. What tokio-util leaves to the codec — how much a
//! connection keeps after a big frame (tokio #7344: a `FramedRead` buffer at
//! hundreds of MB) — is decided here, the same for every codec:
//! - the read buffer starts at a small size class (8 KiB by default,
//!   [`FramedRead::with_capacity`]) and grows in the pool for a big frame;
//! - once the frames are taken out, what is left moves back to the small
//!   class, and an empty buffer waiting for the socket holds no memory at
//!   all (it is allocated again, from the thread cache, on the next read);
//! - the write buffer is drained by the flush and then holds nothing;
//! - a frame over the codec's `max_frame_length`, or memory refused by the
//!   pool's `max_memory`, is an `io::Error` on that connection — never a
//!   panic — and the connection's buffers are released.
//!
//! [`PooledBytesMut`]: crate::PooledBytesMut
//!
//! Owns the codec traits and framed transports. Calls the public API:
//! `Pool`, `PooledBytesMut`, `PooledBytes`. Called by users (feature
//! `codec`).

#![cfg_attr(docsrs, doc(cfg(feature = "codec")))]

mod bytes_codec;
mod framed;
mod length_delimited;
mod lines;
mod tokio_encoder;

pub use self::bytes_codec::BytesCodec;
pub use self::framed::{Framed, FramedRead, FramedWrite, DEFAULT_CAPACITY};
pub use self::length_delimited::{LengthDelimitedCodec, LengthDelimitedCodecBuilder};
pub use self::lines::{LinesCodec, LinesCodecError};
pub use self::tokio_encoder::TokioEncoder;

use crate::PooledBytesMut;
use std::io;

/// Decodes frames from a pooled read buffer (tokio-util's `Decoder`, over
/// [`PooledBytesMut`]).
pub trait Decoder {
    /// A decoded frame.
    type Item;
    /// The error; I/O errors convert into it.
    type Error: From<io::Error>;

    /// Takes one frame off the front of `src` if it holds a whole one
    /// (typically `src.split_to(n).freeze()`: no copy); `Ok(None)` to read
    /// more first.
    fn decode(&mut self, src: &mut PooledBytesMut) -> Result<Option<Self::Item>, Self::Error>;

    /// At the end of the stream: the last frame, if any; bytes left over
    /// that make no frame are an error (as in tokio-util).
    fn decode_eof(&mut self, src: &mut PooledBytesMut) -> Result<Option<Self::Item>, Self::Error> {
        match self.decode(src)? {
            Some(frame) => Ok(Some(frame)),
            None if src.is_empty() => Ok(None),
            None => Err(io::Error::other("bytes remaining on stream").into()),
        }
    }
}

/// Encodes items into a pooled write buffer (tokio-util's `Encoder`, over
/// [`PooledBytesMut`]).
pub trait Encoder<Item> {
    /// The error; I/O errors convert into it.
    type Error: From<io::Error>;

    /// Appends `item`'s encoding to `dst`. Grow `dst` with
    /// [`try_reserve`](PooledBytesMut::try_reserve) and return the refusal
    /// as an error (`io::ErrorKind::OutOfMemory`) to keep the cap from
    /// panicking.
    fn encode(&mut self, item: Item, dst: &mut PooledBytesMut) -> Result<(), Self::Error>;
}

/// `dst.try_reserve(n)` as an `io::Error` (`OutOfMemory`) for codecs.
pub(crate) fn reserve(dst: &mut PooledBytesMut, n: usize) -> io::Result<()> {
    dst.try_reserve(n)
        .map_err(|e| io::Error::new(io::ErrorKind::OutOfMemory, e))
}
