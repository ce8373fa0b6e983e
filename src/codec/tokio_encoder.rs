//! [`TokioEncoder`]: any `tokio_util::codec::Encoder` on a pooled writer.

use super::Encoder;
use crate::PooledBytesMut;

/// Runs a `tokio_util::codec::Encoder` for a [`FramedWrite`](super::FramedWrite)
/// or [`Framed`](super::Framed): existing encoders work unchanged.
///
/// tokio-util's `encode` takes a `&mut bytes::BytesMut`, so the encoding
/// goes to a small scratch `BytesMut` first and is then appended to the
/// pooled write buffer: one copy of the encoded bytes (the pooled codecs of
/// this module write into the pooled buffer directly). The scratch buffer is
/// cleared after each item and shrunk back when an item made it grow past
/// 64 KiB, so it does not keep a big item's size.
#[derive(Debug, Clone, Default)]
pub struct TokioEncoder<E> {
    encoder: E,
    scratch: bytes::BytesMut,
}

/// Scratch capacity kept between items.
const KEEP: usize = 64 << 10;

impl<E> TokioEncoder<E> {
    /// Wraps `encoder`.
    pub fn new(encoder: E) -> Self {
        TokioEncoder {
            encoder,
            scratch: bytes::BytesMut::new(),
        }
    }

    /// The wrapped encoder.
    pub fn get_ref(&self) -> &E {
        &self.encoder
    }

    /// The wrapped encoder, mutably.
    pub fn get_mut(&mut self) -> &mut E {
        &mut self.encoder
    }

    /// The wrapped encoder.
    pub fn into_inner(self) -> E {
        self.encoder
    }
}

impl<I, E> Encoder<I> for TokioEncoder<E>
where
    E: tokio_util::codec::Encoder<I>,
{
    type Error = E::Error;

    fn encode(&mut self, item: I, dst: &mut PooledBytesMut) -> Result<(), E::Error> {
        self.scratch.clear();
        self.encoder.encode(item, &mut self.scratch)?;
        super::reserve(dst, self.scratch.len())?;
        dst.extend_from_slice(&self.scratch);
        if self.scratch.capacity() > KEEP {
            self.scratch = bytes::BytesMut::new();
        }
        Ok(())
    }
}
