//! MSB-first bit reader with exp-Golomb codes (H.264 SPS, AAC
//! AudioSpecificConfig), and NAL emulation-prevention removal.

use crate::error::FlvError;

#[derive(Debug, Clone)]
pub(crate) struct BitReader<'a> {
    data: &'a [u8],
    /// Next bit to read, counted from the first bit of `data`.
    pos: usize,
    /// Named in truncation errors.
    what: &'static str,
}

impl<'a> BitReader<'a> {
    pub(crate) fn new(data: &'a [u8], what: &'static str) -> Self {
        Self { data, pos: 0, what }
    }

    pub(crate) fn bits_left(&self) -> usize {
        self.data.len().saturating_mul(8).saturating_sub(self.pos)
    }

    /// Bits consumed so far.
    #[cfg(test)]
    pub(crate) fn position(&self) -> usize {
        self.pos
    }

    fn truncated(&self, need: usize) -> FlvError {
        FlvError::TruncatedBits {
            what: self.what,
            need,
            have: self.bits_left(),
        }
    }

    pub(crate) fn bit(&mut self) -> Result<bool, FlvError> {
        let byte = *self.data.get(self.pos / 8).ok_or(self.truncated(1))?;
        // pos % 8 is in 0..=7, so the shift amount is in 0..=7.
        let shift = 7u32.saturating_sub((self.pos % 8) as u32);
        self.pos = self.pos.saturating_add(1);
        Ok((byte >> shift) & 1 == 1)
    }

    pub(crate) fn flag(&mut self) -> Result<bool, FlvError> {
        self.bit()
    }

    /// Reads `n` ≤ 32 bits as an unsigned big-endian number.
    pub(crate) fn bits(&mut self, n: u32) -> Result<u32, FlvError> {
        debug_assert!(n <= 32);
        let n = n.min(32);
        if self.bits_left() < n as usize {
            return Err(self.truncated(n as usize));
        }
        let mut v: u64 = 0;
        for _ in 0..n {
            // v < 2^32 before the shift since at most 32 bits are read.
            v = (v << 1) | u64::from(self.bit()?);
        }
        u32::try_from(v).map_err(|_| FlvError::invalid(self.what, "bit field wider than 32 bits"))
    }

    /// Reads `n` ≤ 8 bits.
    pub(crate) fn u8_bits(&mut self, n: u32) -> Result<u8, FlvError> {
        let v = self.bits(n.min(8))?;
        u8::try_from(v).map_err(|_| FlvError::invalid(self.what, "bit field wider than 8 bits"))
    }

    pub(crate) fn skip(&mut self, n: usize) -> Result<(), FlvError> {
        if self.bits_left() < n {
            return Err(self.truncated(n));
        }
        self.pos = self.pos.saturating_add(n);
        Ok(())
    }

    /// Skips to the next byte boundary (counted from the start of the reader).
    pub(crate) fn byte_align(&mut self) -> Result<(), FlvError> {
        let rem = self.pos % 8;
        if rem != 0 {
            self.skip(8usize.saturating_sub(rem))?;
        }
        Ok(())
    }

    /// Unsigned exp-Golomb code `ue(v)`. At most 31 leading zeros are
    /// accepted, so the value fits in `u32` (≤ 2^32 − 2).
    pub(crate) fn ue(&mut self) -> Result<u32, FlvError> {
        let mut zeros: u32 = 0;
        while !self.bit()? {
            zeros = zeros.saturating_add(1);
            if zeros > 31 {
                return Err(FlvError::invalid(
                    self.what,
                    "exp-Golomb code longer than 32 bits",
                ));
            }
        }
        let suffix = u64::from(self.bits(zeros)?);
        // zeros ≤ 31: 2^zeros − 1 + suffix ≤ 2^32 − 2 fits in u64 and in u32.
        let v = (1u64 << zeros).saturating_sub(1).saturating_add(suffix);
        u32::try_from(v).map_err(|_| FlvError::invalid(self.what, "exp-Golomb value overflow"))
    }

    /// Signed exp-Golomb code `se(v)`.
    pub(crate) fn se(&mut self) -> Result<i32, FlvError> {
        let k = i64::from(self.ue()?);
        // k ≤ 2^32 − 2, so both results lie in −(2^31 − 1)..=2^31 − 1.
        let v = if k % 2 == 1 {
            k.saturating_add(1) / 2
        } else {
            0i64.saturating_sub(k / 2)
        };
        i32::try_from(v).map_err(|_| FlvError::invalid(self.what, "exp-Golomb value overflow"))
    }

    /// `ue(v)` that must not exceed `max` (the spec's range for the field).
    pub(crate) fn ue_max(&mut self, max: u32, field: &'static str) -> Result<u32, FlvError> {
        let v = self.ue()?;
        if v > max {
            return Err(FlvError::invalid(
                field,
                format!("{v} is above the maximum {max}"),
            ));
        }
        Ok(v)
    }
}

impl BitReader<'_> {
    /// [`ue_max`](Self::ue_max) for a field whose maximum fits in a byte.
    pub(crate) fn u8_ue_max(&mut self, max: u8, field: &'static str) -> Result<u8, FlvError> {
        let v = self.ue_max(u32::from(max), field)?;
        u8::try_from(v).map_err(|_| FlvError::invalid(field, format!("{v} does not fit a byte")))
    }
}

/// Removes H.264/H.265 emulation-prevention bytes: every `00 00 03` becomes
/// `00 00` (NAL unit payload → RBSP).
pub(crate) fn rbsp(nal: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(nal.len());
    let mut zeros = 0usize;
    for &b in nal {
        if zeros >= 2 && b == 0x03 {
            zeros = 0;
            continue;
        }
        zeros = if b == 0 { zeros.saturating_add(1) } else { 0 };
        out.push(b);
    }
    out
}

#[cfg(test)]
pub(crate) mod test_util {
    /// MSB-first bit writer used by tests to build SPS and ASC inputs
    /// field by field.
    #[derive(Default)]
    pub(crate) struct BitWriter {
        bytes: Vec<u8>,
        bits: usize,
    }

    impl BitWriter {
        pub(crate) fn new() -> Self {
            Self::default()
        }

        pub(crate) fn bit(&mut self, b: bool) -> &mut Self {
            if self.bits & 7 == 0 {
                self.bytes.push(0);
            }
            if b {
                let last = self.bytes.last_mut().unwrap();
                *last |= 0x80 >> (self.bits % 8);
            }
            self.bits += 1;
            self
        }

        pub(crate) fn bits(&mut self, n: u32, v: u64) -> &mut Self {
            for i in (0..n).rev() {
                self.bit((v >> i) & 1 == 1);
            }
            self
        }

        pub(crate) fn ue(&mut self, v: u32) -> &mut Self {
            let x = u64::from(v) + 1;
            let len = 64 - x.leading_zeros();
            self.bits(len - 1, 0);
            self.bits(len, x)
        }

        pub(crate) fn se(&mut self, v: i32) -> &mut Self {
            let k = if v > 0 {
                (v as i64) * 2 - 1
            } else {
                -(v as i64) * 2
            };
            self.ue(k as u32)
        }

        /// RBSP trailing bits: a one, then zeros to the byte boundary.
        pub(crate) fn trailing(&mut self) -> &mut Self {
            self.bit(true);
            while self.bits & 7 != 0 {
                self.bit(false);
            }
            self
        }

        pub(crate) fn finish(&self) -> Vec<u8> {
            self.bytes.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::test_util::BitWriter;
    use super::*;

    #[test]
    fn reads_bits_msb_first() {
        let data = [0b1010_0000, 0xff];
        let mut r = BitReader::new(&data, "t");
        assert!(r.bit().unwrap());
        assert_eq!(r.bits(3).unwrap(), 0b010);
        assert_eq!(r.bits(8).unwrap(), 0b0000_1111);
        assert_eq!(r.bits_left(), 4);
        assert!(r.bits(5).is_err());
        assert_eq!(r.bits(4).unwrap(), 0xf);
        assert_eq!(r.bits(0).unwrap(), 0);
        assert!(r.bit().is_err());
    }

    #[test]
    fn exp_golomb_round_trip() {
        let values = [0u32, 1, 2, 3, 7, 8, 255, 65_535, 1 << 20, u32::MAX - 1];
        let signed = [0i32, 1, -1, 2, -2, 127, -128, i32::MAX, -i32::MAX];
        let mut w = BitWriter::new();
        for &v in &values {
            w.ue(v);
        }
        for &v in &signed {
            w.se(v);
        }
        let data = w.finish();
        let mut r = BitReader::new(&data, "t");
        for &v in &values {
            assert_eq!(r.ue().unwrap(), v);
        }
        for &v in &signed {
            assert_eq!(r.se().unwrap(), v);
        }
    }

    #[test]
    fn exp_golomb_too_long_is_an_error() {
        // 32 zero bits then a one: a value ≥ 2^32 − 1.
        let data = [0, 0, 0, 0, 0x80, 0, 0, 0, 0];
        let mut r = BitReader::new(&data, "t");
        assert!(matches!(r.ue(), Err(FlvError::Invalid { .. })));
        // All zeros: truncated, never a hang.
        let data = [0u8; 3];
        let mut r = BitReader::new(&data, "t");
        assert!(r.ue().is_err());
    }

    #[test]
    fn rbsp_removes_emulation_prevention() {
        assert_eq!(rbsp(&[0, 0, 3, 1]), vec![0, 0, 1]);
        assert_eq!(rbsp(&[0, 0, 3, 0, 0, 3]), vec![0, 0, 0, 0]);
        assert_eq!(rbsp(&[0, 3, 0, 0, 3, 3]), vec![0, 3, 0, 0, 3]);
        assert_eq!(rbsp(&[1, 2, 3]), vec![1, 2, 3]);
    }

    #[test]
    fn byte_align() {
        let data = [0xff, 0x0f];
        let mut r = BitReader::new(&data, "t");
        r.byte_align().unwrap();
        assert_eq!(r.position(), 0);
        r.skip(3).unwrap();
        r.byte_align().unwrap();
        assert_eq!(r.bits(8).unwrap(), 0x0f);
    }
}
