//! The one box-writing primitive: reserve a 32-bit size, write the body,
//! back-patch the size. Every box in [`crate::boxes`] is a short function on
//! top of [`BoxWriter::write_box`] / [`BoxWriter::write_full_box`].

use bytes::{BufMut, Bytes, BytesMut};

/// Why a box could not be written. Every variant describes the caller's
/// input; nothing here depends on I/O.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BoxError {
    /// A box grew past what its 32-bit size field can hold. Weir never
    /// writes a truncated size, and does not use 64-bit `largesize`.
    #[error(
        "box `{}` is {size} bytes, more than a 32-bit size allows",
        fourcc_str(fourcc)
    )]
    BoxTooLarge { fourcc: [u8; 4], size: usize },
    /// An MPEG-4 descriptor (inside `esds`) is longer than its 28-bit
    /// length field allows.
    #[error("descriptor with tag {tag:#04x} is {size} bytes, more than 2^28 - 1")]
    DescriptorTooLarge { tag: u8, size: usize },
    /// A value does not fit the field it goes into.
    #[error("{what} = {value} does not fit its field")]
    ValueOutOfRange { what: &'static str, value: u64 },
    /// [`BoxWriter::patch_u32`] was asked to write outside what was written.
    #[error("patch at offset {at} is outside the {len} bytes written")]
    PatchOutOfRange { at: usize, len: usize },
    /// Track IDs start at 1 (ISO/IEC 14496-12 §8.3.2); 0 is not a track.
    #[error("track_id 0 is not allowed")]
    InvalidTrackId,
    /// A fragment needs at least one sample.
    #[error("a fragment needs at least one sample")]
    EmptyFragment,
    /// `samples` and `data` of a fragment have different lengths.
    #[error("{samples} sample descriptions but {payloads} payloads")]
    SampleCountMismatch { samples: usize, payloads: usize },
    /// A sample's declared size differs from its payload's length.
    #[error("sample {index}: declared size {declared}, payload is {actual} bytes")]
    SampleSizeMismatch {
        index: usize,
        declared: u32,
        actual: usize,
    },
}

fn fourcc_str(fourcc: &[u8; 4]) -> String {
    fourcc.iter().map(|&b| char::from(b)).collect()
}

/// A growable buffer of ISO-BMFF boxes.
///
/// Integers are written big-endian. Nested boxes are written by nesting
/// closures; each [`write_box`](Self::write_box) patches its own size when
/// its body returns, so no size is ever computed ahead of time.
#[derive(Debug)]
pub struct BoxWriter {
    buf: BytesMut,
    /// Largest box accepted: `u32::MAX`, lowered only by tests so the
    /// oversize path runs without a 4 GiB buffer.
    max_box_size: usize,
}

impl Default for BoxWriter {
    fn default() -> Self {
        Self::with_capacity(0)
    }
}

/// What a 32-bit box size can describe.
const MAX_BOX_SIZE: usize = u32::MAX as usize;

impl BoxWriter {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with_capacity(n: usize) -> Self {
        Self {
            buf: BytesMut::with_capacity(n),
            max_box_size: MAX_BOX_SIZE,
        }
    }

    #[cfg(test)]
    fn with_max_box_size(max_box_size: usize) -> Self {
        Self {
            buf: BytesMut::new(),
            max_box_size,
        }
    }

    /// Writes a box: a 32-bit size placeholder and `fourcc`, then `body`,
    /// then back-patches the size. If the body fails, or the box ends up
    /// larger than `u32::MAX` bytes ([`BoxError::BoxTooLarge`]), everything
    /// this call wrote is removed and the error is returned.
    pub fn write_box<F>(&mut self, fourcc: &[u8; 4], body: F) -> Result<(), BoxError>
    where
        F: FnOnce(&mut Self) -> Result<(), BoxError>,
    {
        let start = self.position();
        self.u32(0);
        self.bytes(fourcc);
        let result = body(self).and_then(|()| {
            let size = self.position().saturating_sub(start);
            let too_large = BoxError::BoxTooLarge {
                fourcc: *fourcc,
                size,
            };
            if size > self.max_box_size {
                return Err(too_large);
            }
            let size32 = u32::try_from(size).map_err(|_| too_large)?;
            self.patch_u32(start, size32)
        });
        if result.is_err() {
            self.buf.truncate(start);
        }
        result
    }

    /// Writes a FullBox: like [`write_box`](Self::write_box) with an 8-bit
    /// version and 24-bit flags before the body. Flags above 24 bits are a
    /// [`BoxError::ValueOutOfRange`].
    pub fn write_full_box<F>(
        &mut self,
        fourcc: &[u8; 4],
        version: u8,
        flags: u32,
        body: F,
    ) -> Result<(), BoxError>
    where
        F: FnOnce(&mut Self) -> Result<(), BoxError>,
    {
        self.write_box(fourcc, |w| {
            w.u8(version);
            w.u24(flags)?;
            body(w)
        })
    }

    /// Writes an MPEG-4 descriptor (ISO/IEC 14496-1 §8.3.3): an 8-bit tag,
    /// the body length as four base-128 bytes (`0x80 0x80 0x80 n`, the
    /// fixed-width form, so it can be back-patched), then `body`.
    pub fn write_descriptor<F>(&mut self, tag: u8, body: F) -> Result<(), BoxError>
    where
        F: FnOnce(&mut Self) -> Result<(), BoxError>,
    {
        /// Four 7-bit groups.
        const MAX_DESCRIPTOR_LEN: usize = (1 << 28) - 1;
        let start = self.position();
        self.u8(tag);
        self.u32(0);
        let body_start = self.position();
        let result = body(self).and_then(|()| {
            let size = self.position().saturating_sub(body_start);
            if size > MAX_DESCRIPTOR_LEN {
                return Err(BoxError::DescriptorTooLarge { tag, size });
            }
            // size < 2^28, so each group is 7 bits and the shifts are in range.
            let groups = [
                0x80 | ((size >> 21) & 0x7f) as u8,
                0x80 | ((size >> 14) & 0x7f) as u8,
                0x80 | ((size >> 7) & 0x7f) as u8,
                (size & 0x7f) as u8,
            ];
            self.patch_u32(start.saturating_add(1), u32::from_be_bytes(groups))
        });
        if result.is_err() {
            self.buf.truncate(start);
        }
        result
    }

    pub fn u8(&mut self, v: u8) {
        self.buf.put_u8(v);
    }

    pub fn u16(&mut self, v: u16) {
        self.buf.put_u16(v);
    }

    /// The low 24 bits of `v`; a larger value is [`BoxError::ValueOutOfRange`].
    pub fn u24(&mut self, v: u32) -> Result<(), BoxError> {
        if v > 0x00ff_ffff {
            return Err(BoxError::ValueOutOfRange {
                what: "24-bit field",
                value: u64::from(v),
            });
        }
        let [_, b1, b2, b3] = v.to_be_bytes();
        self.bytes(&[b1, b2, b3]);
        Ok(())
    }

    pub fn u32(&mut self, v: u32) {
        self.buf.put_u32(v);
    }

    pub fn u64(&mut self, v: u64) {
        self.buf.put_u64(v);
    }

    pub fn i16(&mut self, v: i16) {
        self.buf.put_i16(v);
    }

    pub fn i32(&mut self, v: i32) {
        self.buf.put_i32(v);
    }

    pub fn bytes(&mut self, v: &[u8]) {
        self.buf.put_slice(v);
    }

    /// `n` zero bytes (reserved fields).
    pub fn zeros(&mut self, n: usize) {
        self.buf.put_bytes(0, n);
    }

    /// Bytes written so far: the offset the next write lands at.
    pub fn position(&self) -> usize {
        self.buf.len()
    }

    /// Overwrites the four bytes at `at` (already written) with `v`.
    pub fn patch_u32(&mut self, at: usize, v: u32) -> Result<(), BoxError> {
        let len = self.buf.len();
        let slot = at
            .checked_add(4)
            .and_then(|end| self.buf.get_mut(at..end))
            .ok_or(BoxError::PatchOutOfRange { at, len })?;
        slot.copy_from_slice(&v.to_be_bytes());
        Ok(())
    }

    /// The bytes written, frozen.
    pub fn finish(self) -> Bytes {
        self.buf.freeze()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_boxes_get_their_sizes_patched() {
        let mut w = BoxWriter::new();
        w.write_box(b"outr", |w| {
            w.u8(0xaa);
            w.write_full_box(b"innr", 1, 0x000203, |w| {
                w.u16(0xbeef);
                Ok(())
            })
        })
        .unwrap();
        let out = w.finish();
        assert_eq!(
            &out[..],
            &[
                0, 0, 0, 23, b'o', b'u', b't', b'r', // outer: 8 + 1 + 14
                0xaa, // body byte
                0, 0, 0, 14, b'i', b'n', b'n', b'r', // inner: 8 + 4 + 2
                1, 0, 2, 3, // version 1, flags 0x000203
                0xbe, 0xef,
            ][..]
        );
    }

    #[test]
    fn failing_body_leaves_nothing_behind() {
        let mut w = BoxWriter::new();
        w.u8(7);
        let err = w
            .write_box(b"fail", |w| {
                w.u32(1);
                Err(BoxError::EmptyFragment)
            })
            .unwrap_err();
        assert_eq!(err, BoxError::EmptyFragment);
        assert_eq!(&w.finish()[..], &[7]);
    }

    #[test]
    fn full_box_flags_must_fit_24_bits() {
        let mut w = BoxWriter::new();
        let err = w
            .write_full_box(b"tfhd", 0, 0x0100_0000, |_| Ok(()))
            .unwrap_err();
        assert!(matches!(err, BoxError::ValueOutOfRange { .. }));
        assert_eq!(w.position(), 0);
    }

    #[test]
    fn u24_writes_three_bytes_and_rejects_larger_values() {
        let mut w = BoxWriter::new();
        w.u24(0x0012_3456).unwrap();
        assert!(w.u24(0x0100_0000).is_err());
        assert_eq!(&w.finish()[..], &[0x12, 0x34, 0x56]);
    }

    #[test]
    fn patch_outside_the_buffer_is_an_error() {
        let mut w = BoxWriter::new();
        w.u32(0);
        assert!(w.patch_u32(0, 5).is_ok());
        assert_eq!(
            w.patch_u32(1, 5),
            Err(BoxError::PatchOutOfRange { at: 1, len: 4 })
        );
        assert!(w.patch_u32(usize::MAX, 5).is_err());
    }

    #[test]
    fn descriptor_length_is_four_base128_bytes() {
        let mut w = BoxWriter::new();
        w.write_descriptor(0x05, |w| {
            w.zeros(200);
            Ok(())
        })
        .unwrap();
        let out = w.finish();
        // 200 = 1 * 128 + 72.
        assert_eq!(&out[..5], &[0x05, 0x80, 0x80, 0x81, 0x48]);
        assert_eq!(out.len(), 205);
    }

    #[test]
    fn oversize_box_is_an_error_not_a_truncated_size() {
        let mut w = BoxWriter::with_max_box_size(16);
        w.write_box(b"fits", |w| {
            w.zeros(8);
            Ok(())
        })
        .unwrap();
        let err = w
            .write_box(b"mdat", |w| {
                w.zeros(9);
                Ok(())
            })
            .unwrap_err();
        assert_eq!(
            err,
            BoxError::BoxTooLarge {
                fourcc: *b"mdat",
                size: 17
            }
        );
        assert_eq!(
            err.to_string(),
            "box `mdat` is 17 bytes, more than a 32-bit size allows"
        );
        assert_eq!(w.position(), 16, "the oversize box was removed");
    }
}
