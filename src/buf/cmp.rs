//! The std traits `bytes::Bytes` and `bytes::BytesMut` have, for both
//! buffer types: iteration (by value and by reference), `Vec<u8>` from a
//! buffer, comparisons with every byte-string type (both ways),
//! `Eq`/`Ord`/`Hash`/`Borrow` as a `[u8]`, and `Debug`/`LowerHex`/`UpperHex`
//! printing like `bytes` does. Every impl compares or hashes the bytes, as
//! `bytes` does: two buffers are equal when their contents are.

use super::{PooledBytes, PooledBytesMut};
use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};

/// `Debug` as `b"..."`, escaping like `bytes` (`\n`, `\0`, `\xNN`).
fn debug_bytes(bytes: &[u8], f: &mut fmt::Formatter<'_>) -> fmt::Result {
    write!(f, "b\"")?;
    for &b in bytes {
        match b {
            b'\n' => write!(f, "\\n")?,
            b'\r' => write!(f, "\\r")?,
            b'\t' => write!(f, "\\t")?,
            b'\\' | b'"' => write!(f, "\\{}", b as char)?,
            b'\0' => write!(f, "\\0")?,
            0x20..=0x7e => write!(f, "{}", b as char)?,
            _ => write!(f, "\\x{b:02x}")?,
        }
    }
    write!(f, "\"")
}

macro_rules! byte_string_traits {
    ($ty:ty) => {
        impl IntoIterator for $ty {
            type Item = u8;
            type IntoIter = bytes::buf::IntoIter<$ty>;

            fn into_iter(self) -> Self::IntoIter {
                bytes::buf::IntoIter::new(self)
            }
        }

        impl<'a> IntoIterator for &'a $ty {
            type Item = &'a u8;
            type IntoIter = std::slice::Iter<'a, u8>;

            fn into_iter(self) -> Self::IntoIter {
                self.iter()
            }
        }

        impl From<$ty> for Vec<u8> {
            /// The bytes, copied out of the pool (the buffer's reference
            /// goes back at once).
            fn from(buf: $ty) -> Vec<u8> {
                buf.to_vec()
            }
        }

        impl fmt::Debug for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                debug_bytes(self, f)
            }
        }

        impl fmt::LowerHex for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.iter().try_for_each(|b| write!(f, "{b:02x}"))
            }
        }

        impl fmt::UpperHex for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.iter().try_for_each(|b| write!(f, "{b:02X}"))
            }
        }

        impl AsRef<[u8]> for $ty {
            fn as_ref(&self) -> &[u8] {
                self
            }
        }

        impl std::borrow::Borrow<[u8]> for $ty {
            fn borrow(&self) -> &[u8] {
                self
            }
        }

        impl Hash for $ty {
            fn hash<H: Hasher>(&self, state: &mut H) {
                (**self).hash(state)
            }
        }

        impl Eq for $ty {}

        impl Ord for $ty {
            fn cmp(&self, other: &$ty) -> Ordering {
                (**self).cmp(&**other)
            }
        }

        impl PartialEq for $ty {
            fn eq(&self, other: &$ty) -> bool {
                **self == **other
            }
        }
        impl PartialOrd for $ty {
            fn partial_cmp(&self, other: &$ty) -> Option<Ordering> {
                Some(self.cmp(other))
            }
        }
        byte_string_traits!(@both $ty, [u8]);
        byte_string_traits!(@both $ty, Vec<u8>);
        byte_string_traits!(@both $ty, bytes::Bytes);
        byte_string_traits!(@both $ty, bytes::BytesMut);

        impl PartialEq<str> for $ty {
            fn eq(&self, other: &str) -> bool {
                **self == *other.as_bytes()
            }
        }
        impl PartialOrd<str> for $ty {
            fn partial_cmp(&self, other: &str) -> Option<Ordering> {
                (**self).partial_cmp(other.as_bytes())
            }
        }
        impl PartialEq<$ty> for str {
            fn eq(&self, other: &$ty) -> bool {
                *self.as_bytes() == **other
            }
        }
        impl PartialOrd<$ty> for str {
            fn partial_cmp(&self, other: &$ty) -> Option<Ordering> {
                self.as_bytes().partial_cmp(&**other)
            }
        }
        impl PartialEq<String> for $ty {
            fn eq(&self, other: &String) -> bool {
                **self == *other.as_bytes()
            }
        }
        impl PartialOrd<String> for $ty {
            fn partial_cmp(&self, other: &String) -> Option<Ordering> {
                (**self).partial_cmp(other.as_bytes())
            }
        }
        impl PartialEq<$ty> for String {
            fn eq(&self, other: &$ty) -> bool {
                *self.as_bytes() == **other
            }
        }
        impl PartialOrd<$ty> for String {
            fn partial_cmp(&self, other: &$ty) -> Option<Ordering> {
                self.as_bytes().partial_cmp(&**other)
            }
        }
        impl<const N: usize> PartialEq<[u8; N]> for $ty {
            fn eq(&self, other: &[u8; N]) -> bool {
                **self == other[..]
            }
        }
        impl<const N: usize> PartialOrd<[u8; N]> for $ty {
            fn partial_cmp(&self, other: &[u8; N]) -> Option<Ordering> {
                (**self).partial_cmp(&other[..])
            }
        }
        impl<const N: usize> PartialEq<$ty> for [u8; N] {
            fn eq(&self, other: &$ty) -> bool {
                self[..] == **other
            }
        }
        impl<const N: usize> PartialOrd<$ty> for [u8; N] {
            fn partial_cmp(&self, other: &$ty) -> Option<Ordering> {
                self[..].partial_cmp(&**other)
            }
        }
        /// Any reference to something the buffer compares with (`&[u8]`,
        /// `&str`, `&[u8; N]`, …), as `bytes` does.
        impl<'a, T: ?Sized> PartialEq<&'a T> for $ty
        where
            $ty: PartialEq<T>,
        {
            fn eq(&self, other: &&'a T) -> bool {
                *self == **other
            }
        }
        impl<'a, T: ?Sized> PartialOrd<&'a T> for $ty
        where
            $ty: PartialOrd<T>,
        {
            fn partial_cmp(&self, other: &&'a T) -> Option<Ordering> {
                self.partial_cmp(&**other)
            }
        }
        impl PartialEq<$ty> for &[u8] {
            fn eq(&self, other: &$ty) -> bool {
                **self == **other
            }
        }
        impl PartialOrd<$ty> for &[u8] {
            fn partial_cmp(&self, other: &$ty) -> Option<Ordering> {
                (**self).partial_cmp(&**other)
            }
        }
        impl PartialEq<$ty> for &str {
            fn eq(&self, other: &$ty) -> bool {
                *self.as_bytes() == **other
            }
        }
        impl PartialOrd<$ty> for &str {
            fn partial_cmp(&self, other: &$ty) -> Option<Ordering> {
                self.as_bytes().partial_cmp(&**other)
            }
        }
    };
    // `$a == $b` and `$a < $b`, one way.
    (@with $a:ty, $b:ty) => {
        impl PartialEq<$b> for $a {
            fn eq(&self, other: &$b) -> bool {
                **self == **other
            }
        }
        impl PartialOrd<$b> for $a {
            fn partial_cmp(&self, other: &$b) -> Option<Ordering> {
                (**self).partial_cmp(&**other)
            }
        }
    };
    // Both ways, for a `$b` that derefs to `[u8]` (or is `[u8]`).
    (@both $a:ty, $b:ty) => {
        impl PartialEq<$b> for $a {
            fn eq(&self, other: &$b) -> bool {
                **self == other[..]
            }
        }
        impl PartialOrd<$b> for $a {
            fn partial_cmp(&self, other: &$b) -> Option<Ordering> {
                (**self).partial_cmp(&other[..])
            }
        }
        impl PartialEq<$a> for $b {
            fn eq(&self, other: &$a) -> bool {
                self[..] == **other
            }
        }
        impl PartialOrd<$a> for $b {
            fn partial_cmp(&self, other: &$a) -> Option<Ordering> {
                self[..].partial_cmp(&**other)
            }
        }
    };
}

byte_string_traits!(PooledBytes);
byte_string_traits!(PooledBytesMut);
byte_string_traits!(@with PooledBytes, PooledBytesMut);
byte_string_traits!(@with PooledBytesMut, PooledBytes);
