//! [`BytesCodec`]: whatever bytes arrive, as they arrive.

use super::{reserve, Decoder, Encoder};
use crate::{PooledBytes, PooledBytesMut};
use std::io;

/// Passes bytes through: every read's bytes are one frame (a view of the
/// read buffer, no copy); any byte slice is written as it is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BytesCodec;

impl BytesCodec {
    /// The codec.
    pub fn new() -> BytesCodec {
        BytesCodec
    }
}

impl Decoder for BytesCodec {
    type Item = PooledBytes;
    type Error = io::Error;

    fn decode(&mut self, src: &mut PooledBytesMut) -> io::Result<Option<PooledBytes>> {
        if src.is_empty() {
            return Ok(None);
        }
        Ok(Some(src.split().freeze()))
    }
}

impl<B: AsRef<[u8]>> Encoder<B> for BytesCodec {
    type Error = io::Error;

    fn encode(&mut self, item: B, dst: &mut PooledBytesMut) -> io::Result<()> {
        let item = item.as_ref();
        reserve(dst, item.len())?;
        dst.extend_from_slice(item);
        Ok(())
    }
}
