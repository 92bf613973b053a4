//! Bounds-checked big-endian byte reader over a shared [`Bytes`] buffer.
//!
//! Every read returns [`FlvError::Truncated`] instead of panicking, and
//! [`Reader::take`] hands out zero-copy slices of the original buffer.

use bytes::Bytes;

use crate::error::FlvError;

#[derive(Debug, Clone)]
pub(crate) struct Reader {
    buf: Bytes,
    pos: usize,
}

impl Reader {
    pub(crate) fn new(buf: Bytes) -> Self {
        Self { buf, pos: 0 }
    }

    /// Bytes not read yet.
    pub(crate) fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    /// Checks that `n` bytes are available and returns the end offset.
    fn end_of(&self, n: usize, what: &'static str) -> Result<usize, FlvError> {
        match self.pos.checked_add(n) {
            Some(end) if end <= self.buf.len() => Ok(end),
            _ => Err(FlvError::Truncated {
                what,
                need: n,
                have: self.remaining(),
            }),
        }
    }

    /// The next `N` bytes as an array.
    fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], FlvError> {
        let end = self.end_of(N, what)?;
        let out = self
            .buf
            .get(self.pos..end)
            .and_then(|s| <[u8; N]>::try_from(s).ok())
            .ok_or(FlvError::Truncated {
                what,
                need: N,
                have: self.remaining(),
            })?;
        self.pos = end;
        Ok(out)
    }

    pub(crate) fn u8(&mut self, what: &'static str) -> Result<u8, FlvError> {
        let [b] = self.array::<1>(what)?;
        Ok(b)
    }

    pub(crate) fn u16(&mut self, what: &'static str) -> Result<u16, FlvError> {
        Ok(u16::from_be_bytes(self.array::<2>(what)?))
    }

    pub(crate) fn u24(&mut self, what: &'static str) -> Result<u32, FlvError> {
        let [a, b, c] = self.array::<3>(what)?;
        Ok(u32::from_be_bytes([0, a, b, c]))
    }

    /// Signed 24-bit big-endian (FLV `SI24`), sign-extended.
    pub(crate) fn i24(&mut self, what: &'static str) -> Result<i32, FlvError> {
        let [a, b, c] = self.array::<3>(what)?;
        // Put the 24 bits in the top of an i32, then shift right arithmetically
        // so that bit 23 becomes the sign.
        Ok(i32::from_be_bytes([a, b, c, 0]) >> 8)
    }

    pub(crate) fn fourcc(&mut self, what: &'static str) -> Result<[u8; 4], FlvError> {
        self.array::<4>(what)
    }

    /// The next `n` bytes as a zero-copy slice of the input.
    pub(crate) fn take(&mut self, n: usize, what: &'static str) -> Result<Bytes, FlvError> {
        let end = self.end_of(n, what)?;
        let out = self.buf.slice(self.pos..end);
        self.pos = end;
        Ok(out)
    }

    pub(crate) fn skip(&mut self, n: usize, what: &'static str) -> Result<(), FlvError> {
        self.pos = self.end_of(n, what)?;
        Ok(())
    }

    /// Everything not read yet, as a zero-copy slice; the reader is then empty.
    pub(crate) fn rest(&mut self) -> Bytes {
        let start = self.pos.min(self.buf.len());
        self.pos = self.buf.len();
        self.buf.slice(start..)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_big_endian_fields_and_slices() {
        let mut r = Reader::new(Bytes::from_static(&[
            0x01, // u8
            0x02, 0x03, // u16
            0x04, 0x05, 0x06, // u24
            0xff, 0xff, 0xfe, // i24 = -2
            b'a', b'v', b'c', b'1', // fourcc
            0xaa, 0xbb, // take(2)
            0xcc, // rest
        ]));
        assert_eq!(r.u8("a").unwrap(), 1);
        assert_eq!(r.u16("b").unwrap(), 0x0203);
        assert_eq!(r.u24("c").unwrap(), 0x040506);
        assert_eq!(r.i24("d").unwrap(), -2);
        assert_eq!(&r.fourcc("e").unwrap(), b"avc1");
        assert_eq!(&r.take(2, "f").unwrap()[..], &[0xaa, 0xbb]);
        assert_eq!(&r.rest()[..], &[0xcc]);
        assert!(r.is_empty());
        assert_eq!(
            r.u8("g"),
            Err(FlvError::Truncated {
                what: "g",
                need: 1,
                have: 0
            })
        );
    }

    #[test]
    fn i24_extremes() {
        let mut r = Reader::new(Bytes::from_static(&[0x7f, 0xff, 0xff, 0x80, 0x00, 0x00]));
        assert_eq!(r.i24("max").unwrap(), 0x7f_ffff);
        assert_eq!(r.i24("min").unwrap(), -0x80_0000);
    }

    #[test]
    fn take_past_end_is_an_error_and_does_not_move() {
        let mut r = Reader::new(Bytes::from_static(&[1, 2, 3]));
        assert!(r.take(4, "x").is_err());
        assert!(r.take(usize::MAX, "x").is_err());
        assert!(r.skip(usize::MAX, "x").is_err());
        assert_eq!(r.remaining(), 3);
        assert_eq!(r.u24("y").unwrap(), 0x010203);
    }
}
