//! Sans-IO RTMP server handshake (RTMP 1.0 §5.2; spec-checklist RTMP-HS-01…06).
//!
//! [`ServerHandshake`] owns no socket and no clock. The caller:
//!
//! 1. creates it with the 1528 random bytes of S1 and S1's time field
//!    ([`ServerHandshake::new`]),
//! 2. feeds every byte received from the peer to [`ServerHandshake::read`], which
//!    says how many bytes it consumed,
//! 3. after each `read`, sends whatever [`ServerHandshake::take_output`] returns,
//! 4. once `read` reports [`HandshakeProgress::Done`], hands the **unconsumed**
//!    rest of that input (often the `connect` chunk, RTMP-HS-03) and everything
//!    after it to the chunk parser.
//!
//! The caller also owns the handshake deadline (RTMP-HS-06): drop the connection
//! if [`ServerHandshake::is_done`] is still false when it expires.
//!
//! # Wire behaviour
//!
//! * C0 = 3 is accepted. Other values in 0..=31 are answered with S0 = 3 and the
//!   handshake continues (RTMP-HS-01). Values 32..=255 fail at once with
//!   [`HandshakeError::BadVersion`], so `GET / HTTP/1.1` is rejected at its first
//!   byte.
//! * S0, S1 and S2 are produced together once C1 is complete (the spec lets the
//!   server wait for C1, RTMP-HS-03; S1's digest position depends on C1).
//! * If C1 carries a valid Flash Player digest at either offset scheme
//!   (RTMP-HS-05), S1 carries a server digest at the same scheme and S2 ends with
//!   the matching signature ("complex" handshake, as nginx-rtmp answers).
//!   Otherwise S1 has zeros in bytes 4..8 and S2 is an exact echo of C1 (RTMP-HS-02).
//! * C2 is read but never rejected (RTMP-HS-04): a C2 that neither echoes S1 nor
//!   carries a valid digest only produces a debug log line.
//!
//! Memory is fixed: one 1536-byte receive buffer (C1, then C2), one copy of S1
//! and at most [`MAX_OUTPUT`] bytes of pending output. Nothing is allocated based
//! on peer data.

use std::fmt;

use bytes::{Bytes, BytesMut};
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Size of C1/S1 and C2/S2 (RTMP-HS-02).
pub const HANDSHAKE_SIZE: usize = 1536;

/// The only RTMP version the server speaks, sent as S0.
pub const RTMP_VERSION: u8 = 3;

/// Number of random bytes in S1 (after time and the zero/version field).
pub const RANDOM_SIZE: usize = HANDSHAKE_SIZE - 8;

/// Upper bound on everything the server sends during the handshake: S0 + S1 + S2.
pub const MAX_OUTPUT: usize = 1 + 2 * HANDSHAKE_SIZE;

/// C0 values up to this one are "deprecated or reserved" and answered with 3;
/// anything above is not RTMP at all (RTMP-HS-01).
const MAX_TOLERATED_VERSION: u8 = 31;

/// Length of an HMAC-SHA256 digest.
const DIGEST_LEN: usize = 32;

/// The S2/C2 signature occupies the last 32 bytes of the packet.
const SIGNATURE_OFFSET: usize = HANDSHAKE_SIZE - DIGEST_LEN;

/// Digests sit at `base + 4 + (sum of the 4 bytes at base) % DIGEST_RANGE`.
const DIGEST_RANGE: usize = 728;

/// The 32 constant bytes that complete both the Flash Player and the FMS key.
const KEY_TAIL: [u8; 32] = [
    0xF0, 0xEE, 0xC2, 0x4A, 0x80, 0x68, 0xBE, 0xE8, 0x2E, 0x00, 0xD0, 0xD1, 0x02, 0x9E, 0x7E, 0x57,
    0x6E, 0xEC, 0x5D, 0x2D, 0x29, 0x80, 0x6F, 0xAB, 0x93, 0xB8, 0xE6, 0x36, 0xCF, 0xEB, 0x31, 0xAE,
];

/// Key of the client's C1 digest (30 bytes) and, with [`KEY_TAIL`], of its C2 signature.
const FP_KEY_TEXT: &[u8; 30] = b"Genuine Adobe Flash Player 001";
/// Key of the server's S1 digest (36 bytes) and, with [`KEY_TAIL`], of its S2 signature.
const FMS_KEY_TEXT: &[u8; 36] = b"Genuine Adobe Flash Media Server 001";

const FP_KEY_FULL: [u8; 62] = full_key(FP_KEY_TEXT);
const FMS_KEY_FULL: [u8; 68] = full_key(FMS_KEY_TEXT);

/// Version advertised in S1 bytes 4..8 of a digest handshake. ffmpeg, when
/// playing, only checks the server digest if the first byte is ≥ 3.
const SERVER_VERSION: [u8; 4] = [4, 5, 0, 1];

/// `text ‖ KEY_TAIL`, evaluated at compile time only (the two `const` items
/// below): an out-of-range index here is a build error, never a runtime panic.
#[allow(clippy::indexing_slicing, clippy::arithmetic_side_effects)]
const fn full_key<const T: usize, const N: usize>(text: &[u8; T]) -> [u8; N] {
    assert!(T + KEY_TAIL.len() == N);
    let mut out = [0u8; N];
    let mut i = 0;
    while i < T {
        out[i] = text[i];
        i += 1;
    }
    let mut j = 0;
    while j < KEY_TAIL.len() {
        out[T + j] = KEY_TAIL[j];
        j += 1;
    }
    out
}

/// Why a handshake failed. Every variant is caused by the peer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HandshakeError {
    /// C0 version 32..=255 (e.g. 'G' of "GET /") or otherwise unusable.
    #[error("unsupported RTMP version byte {0:#04x} (not an RTMP client?)")]
    BadVersion(u8),
}

/// Result of a successful [`ServerHandshake::read`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HandshakeProgress {
    /// All input was consumed and more is needed.
    NeedMore,
    /// C2 is complete. Bytes of the input past the consumed count belong to
    /// the chunk stream.
    Done,
}

/// Where the digest of a "complex" handshake packet sits (RTMP-HS-05).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DigestScheme {
    /// Offset from bytes 8..12: digest at `sum % 728 + 12`.
    Scheme0,
    /// Offset from bytes 772..776: digest at `sum % 728 + 776`.
    Scheme1,
}

impl DigestScheme {
    fn base(self) -> usize {
        match self {
            DigestScheme::Scheme0 => 8,
            DigestScheme::Scheme1 => 772,
        }
    }

    /// Offset of the 32-byte digest inside a 1536-byte packet. Always
    /// ≤ 1503, so the digest fits (`1503 + 32 = 1535`).
    fn digest_offset(self, packet: &[u8; HANDSHAKE_SIZE]) -> usize {
        let base = self.base();
        let sum: usize = packet
            .get(base..base.saturating_add(4))
            .map_or(0, |b| b.iter().map(|&x| usize::from(x)).sum());
        (sum % DIGEST_RANGE).saturating_add(base).saturating_add(4)
    }
}

/// Which handshake the client asked for, known once C1 is complete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HandshakeMode {
    /// RTMP 1.0 handshake: S1 bytes 4..8 are zero and S2 echoes C1.
    Simple,
    /// Flash Player 9 digest handshake, answered with the client's scheme.
    Digest(DigestScheme),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    AwaitC0,
    AwaitC1 { filled: usize },
    AwaitC2 { filled: usize },
    Done,
    Failed(HandshakeError),
}

/// Server side of the RTMP handshake, driven by the caller (see the module docs).
///
/// * input: [`read`](Self::read)
/// * output: [`take_output`](Self::take_output), polled after every `read`
/// * getters: [`is_done`](Self::is_done), [`mode`](Self::mode),
///   [`client_version`](Self::client_version)
pub struct ServerHandshake {
    state: State,
    /// S1 exactly as sent; kept to check whether C2 echoes it.
    s1: Box<[u8; HANDSHAKE_SIZE]>,
    /// Receive buffer: C1, then (reused) C2.
    buf: Box<[u8; HANDSHAKE_SIZE]>,
    output: BytesMut,
    client_version: Option<u8>,
    mode: Option<HandshakeMode>,
    /// The digest written into S1 (digest mode only); keys the client's C2 signature.
    server_digest: Option<[u8; DIGEST_LEN]>,
}

impl fmt::Debug for ServerHandshake {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerHandshake")
            .field("state", &self.state)
            .field("client_version", &self.client_version)
            .field("mode", &self.mode)
            .field("pending_output", &self.output.len())
            .finish_non_exhaustive()
    }
}

impl ServerHandshake {
    /// `random` fills S1's 1528 random bytes (the caller supplies randomness so
    /// tests are deterministic); `epoch_ms` is S1's time field.
    pub fn new(random: [u8; RANDOM_SIZE], epoch_ms: u32) -> Self {
        let mut s1 = Box::new([0u8; HANDSHAKE_SIZE]);
        let (head, rest) = s1.split_at_mut(4);
        head.copy_from_slice(&epoch_ms.to_be_bytes());
        // rest = zero(4) + random(1528)
        if let Some(dst) = rest.get_mut(4..) {
            dst.copy_from_slice(&random);
        }
        Self {
            state: State::AwaitC0,
            s1,
            buf: Box::new([0u8; HANDSHAKE_SIZE]),
            output: BytesMut::new(),
            client_version: None,
            mode: None,
            server_digest: None,
        }
    }

    /// Feed bytes from the peer. Returns how many bytes of `input` were consumed.
    ///
    /// With [`HandshakeProgress::NeedMore`] the whole input was consumed. With
    /// [`HandshakeProgress::Done`] the bytes after the consumed count (often the
    /// `connect` chunk) MUST be kept for the chunk parser (RTMP-HS-03); further
    /// calls consume nothing. After an error every later call returns the same
    /// error.
    pub fn read(&mut self, input: &[u8]) -> Result<(usize, HandshakeProgress), HandshakeError> {
        let mut consumed = 0usize;
        loop {
            let rest = input.get(consumed..).unwrap_or_default();
            match self.state {
                State::Failed(ref err) => return Err(err.clone()),
                State::Done => return Ok((consumed, HandshakeProgress::Done)),
                State::AwaitC0 => {
                    let Some(&version) = rest.first() else {
                        return Ok((consumed, HandshakeProgress::NeedMore));
                    };
                    consumed = consumed.saturating_add(1);
                    self.on_c0(version)?;
                    self.state = State::AwaitC1 { filled: 0 };
                }
                State::AwaitC1 { filled } => {
                    let n = fill(&mut self.buf, filled, rest);
                    consumed = consumed.saturating_add(n);
                    let filled = filled.saturating_add(n);
                    if filled < HANDSHAKE_SIZE {
                        self.state = State::AwaitC1 { filled };
                        return Ok((consumed, HandshakeProgress::NeedMore));
                    }
                    self.on_c1();
                    self.state = State::AwaitC2 { filled: 0 };
                }
                State::AwaitC2 { filled } => {
                    let n = fill(&mut self.buf, filled, rest);
                    consumed = consumed.saturating_add(n);
                    let filled = filled.saturating_add(n);
                    if filled < HANDSHAKE_SIZE {
                        self.state = State::AwaitC2 { filled };
                        return Ok((consumed, HandshakeProgress::NeedMore));
                    }
                    self.on_c2();
                    self.state = State::Done;
                }
            }
        }
    }

    /// Bytes to send to the peer, if any (S0+S1+S2, produced once C1 is
    /// complete). Call after each [`read`](Self::read). Never more than
    /// [`MAX_OUTPUT`] bytes in total.
    pub fn take_output(&mut self) -> Option<Bytes> {
        if self.output.is_empty() {
            None
        } else {
            Some(self.output.split().freeze())
        }
    }

    /// True once C2 has been received; the connection then speaks chunks.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// The client's C0 version byte, once received (also set when it was rejected).
    pub fn client_version(&self) -> Option<u8> {
        self.client_version
    }

    /// Simple or digest handshake, known once C1 is complete.
    pub fn mode(&self) -> Option<HandshakeMode> {
        self.mode
    }

    fn on_c0(&mut self, version: u8) -> Result<(), HandshakeError> {
        self.client_version = Some(version);
        if version == RTMP_VERSION {
            Ok(())
        } else if version <= MAX_TOLERATED_VERSION {
            tracing::debug!(
                version,
                "client sent a non-3 RTMP version; answering 3 (RTMP-HS-01)"
            );
            Ok(())
        } else {
            let err = HandshakeError::BadVersion(version);
            tracing::debug!(version, "rejecting handshake: {err}");
            self.state = State::Failed(err.clone());
            Err(err)
        }
    }

    /// C1 is complete in `buf`: build S0, S1 and S2.
    fn on_c1(&mut self) {
        let c1 = &*self.buf;
        let mut s2 = *c1; // simple handshake: S2 echoes C1 (time, time2, random)

        let digest = find_client_digest(c1).and_then(|(scheme, client_digest)| {
            let mut s1 = *self.s1;
            let server_digest = sign_s1(&mut s1, scheme)?;
            sign_s2(&mut s2, &client_digest)?;
            Some((scheme, s1, server_digest))
        });

        match digest {
            Some((scheme, s1, server_digest)) => {
                tracing::debug!(
                    ?scheme,
                    "C1 carries a Flash Player digest; answering with digest S1/S2"
                );
                *self.s1 = s1;
                self.server_digest = Some(server_digest);
                self.mode = Some(HandshakeMode::Digest(scheme));
            }
            None => {
                // S2 must be the plain echo; a failed signing may have touched it.
                s2 = *c1;
                self.mode = Some(HandshakeMode::Simple);
            }
        }

        self.output.reserve(MAX_OUTPUT);
        self.output.extend_from_slice(&[RTMP_VERSION]);
        self.output.extend_from_slice(&self.s1[..]);
        self.output.extend_from_slice(&s2);
    }

    /// C2 is complete in `buf`. Never fails (RTMP-HS-04); only logs.
    fn on_c2(&self) {
        let c2 = &*self.buf;
        if c2.get(8..) == self.s1.get(8..) {
            tracing::trace!("C2 echoes S1");
            return;
        }
        let signed = self
            .server_digest
            .and_then(|d| c2_signature_valid(c2, &d))
            .unwrap_or(false);
        if signed {
            tracing::trace!("C2 carries a valid Flash Player signature");
        } else {
            tracing::debug!("C2 does not echo S1 (accepted anyway, RTMP-HS-04)");
        }
    }
}

/// Copy as much of `input` as fits into `buf[filled..]`; return the count.
fn fill(buf: &mut [u8; HANDSHAKE_SIZE], filled: usize, input: &[u8]) -> usize {
    let Some(dst) = buf.get_mut(filled..) else {
        return 0;
    };
    let n = dst.len().min(input.len());
    if let (Some(d), Some(s)) = (dst.get_mut(..n), input.get(..n)) {
        d.copy_from_slice(s);
    }
    n
}

type HmacSha256 = Hmac<Sha256>;

/// HMAC-SHA256 of the concatenation of `parts`. `None` never happens in
/// practice (HMAC accepts any key length); it keeps this path panic-free.
fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> Option<[u8; DIGEST_LEN]> {
    let mut mac = <HmacSha256 as Mac>::new_from_slice(key).ok()?;
    for part in parts {
        mac.update(part);
    }
    Some(mac.finalize().into_bytes().into())
}

/// HMAC over a packet with the 32 digest bytes at `offset` left out.
fn packet_digest(
    key: &[u8],
    packet: &[u8; HANDSHAKE_SIZE],
    offset: usize,
) -> Option<[u8; DIGEST_LEN]> {
    let before = packet.get(..offset)?;
    let after = packet.get(offset.checked_add(DIGEST_LEN)?..)?;
    hmac_sha256(key, &[before, after])
}

/// Look for a valid Flash Player digest in C1, scheme 0 first, then scheme 1.
fn find_client_digest(c1: &[u8; HANDSHAKE_SIZE]) -> Option<(DigestScheme, [u8; DIGEST_LEN])> {
    [DigestScheme::Scheme0, DigestScheme::Scheme1]
        .into_iter()
        .find_map(|scheme| {
            let offset = scheme.digest_offset(c1);
            let expected = packet_digest(FP_KEY_TEXT, c1, offset)?;
            let found = c1.get(offset..offset.saturating_add(DIGEST_LEN))?;
            (found == expected).then_some((scheme, expected))
        })
}

/// Turn a simple S1 into a digest S1: version bytes, then the FMS digest at
/// `scheme`'s offset. Returns the digest.
fn sign_s1(s1: &mut [u8; HANDSHAKE_SIZE], scheme: DigestScheme) -> Option<[u8; DIGEST_LEN]> {
    s1.get_mut(4..8)?.copy_from_slice(&SERVER_VERSION);
    let offset = scheme.digest_offset(s1);
    let digest = packet_digest(FMS_KEY_TEXT, s1, offset)?;
    s1.get_mut(offset..offset.saturating_add(DIGEST_LEN))?
        .copy_from_slice(&digest);
    Some(digest)
}

/// Overwrite the last 32 bytes of S2 with HMAC(HMAC(FMS full key, C1 digest), S2[..1504]).
fn sign_s2(s2: &mut [u8; HANDSHAKE_SIZE], client_digest: &[u8; DIGEST_LEN]) -> Option<()> {
    let key = hmac_sha256(&FMS_KEY_FULL, &[client_digest])?;
    let signature = hmac_sha256(&key, &[s2.get(..SIGNATURE_OFFSET)?])?;
    s2.get_mut(SIGNATURE_OFFSET..)?.copy_from_slice(&signature);
    Some(())
}

/// Whether C2 ends with HMAC(HMAC(Flash Player full key, S1 digest), C2[..1504]).
fn c2_signature_valid(c2: &[u8; HANDSHAKE_SIZE], server_digest: &[u8; DIGEST_LEN]) -> Option<bool> {
    let key = hmac_sha256(&FP_KEY_FULL, &[server_digest])?;
    let signature = hmac_sha256(&key, &[c2.get(..SIGNATURE_OFFSET)?])?;
    Some(c2.get(SIGNATURE_OFFSET..)? == signature)
}

#[cfg(test)]
mod tests {
    //! Byte-for-byte tests; IDs refer to spec-checklist.md (§1.1 and §8 cases 1–3).

    use super::*;

    const EPOCH: u32 = 0x0102_0304;

    fn server_random() -> [u8; RANDOM_SIZE] {
        let mut r = [0u8; RANDOM_SIZE];
        for (i, b) in r.iter_mut().enumerate() {
            *b = (i as u8).wrapping_mul(31).wrapping_add(7);
        }
        r
    }

    fn server() -> ServerHandshake {
        ServerHandshake::new(server_random(), EPOCH)
    }

    /// A simple (RTMP 1.0) C1: time, four zero bytes, pseudo-random bytes.
    fn simple_c1(time: u32, seed: u8) -> [u8; HANDSHAKE_SIZE] {
        let mut c1 = [0u8; HANDSHAKE_SIZE];
        c1[..4].copy_from_slice(&time.to_be_bytes());
        let mut x = seed as u32 | 1;
        for b in &mut c1[8..] {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            *b = (x >> 16) as u8;
        }
        c1
    }

    // Test-side HMAC and keys, written independently of the code under test.
    fn hmac(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
        let mut mac = HmacSha256::new_from_slice(key).unwrap();
        for p in parts {
            mac.update(p);
        }
        mac.finalize().into_bytes().into()
    }

    const TAIL: [u8; 32] = [
        0xf0, 0xee, 0xc2, 0x4a, 0x80, 0x68, 0xbe, 0xe8, 0x2e, 0x00, 0xd0, 0xd1, 0x02, 0x9e, 0x7e,
        0x57, 0x6e, 0xec, 0x5d, 0x2d, 0x29, 0x80, 0x6f, 0xab, 0x93, 0xb8, 0xe6, 0x36, 0xcf, 0xeb,
        0x31, 0xae,
    ];

    fn offset_for(packet: &[u8], base: usize) -> usize {
        let sum: usize = packet[base..base + 4].iter().map(|&b| b as usize).sum();
        sum % 728 + base + 4
    }

    fn digest_excluding(key: &[u8], packet: &[u8], off: usize) -> [u8; 32] {
        hmac(key, &[&packet[..off], &packet[off + 32..]])
    }

    /// A Flash-Player-style digest C1 (as ffmpeg sends when publishing).
    fn digest_c1(base: usize, seed: u8) -> ([u8; HANDSHAKE_SIZE], usize) {
        let mut c1 = simple_c1(0, seed);
        c1[4..8].copy_from_slice(&[9, 0, 124, 2]); // ffmpeg's client version
        let off = offset_for(&c1, base);
        let d = digest_excluding(b"Genuine Adobe Flash Player 001", &c1, off);
        c1[off..off + 32].copy_from_slice(&d);
        (c1, off)
    }

    fn drive(hs: &mut ServerHandshake, input: &[u8]) -> (usize, HandshakeProgress, Vec<u8>) {
        let (n, p) = hs.read(input).unwrap();
        let out = hs.take_output().map(|b| b.to_vec()).unwrap_or_default();
        (n, p, out)
    }

    fn c0c1(version: u8, c1: &[u8; HANDSHAKE_SIZE]) -> Vec<u8> {
        let mut v = vec![version];
        v.extend_from_slice(c1);
        v
    }

    #[test]
    fn full_keys_are_text_plus_tail() {
        assert_eq!(&FP_KEY_FULL[..30], b"Genuine Adobe Flash Player 001");
        assert_eq!(&FMS_KEY_FULL[..36], b"Genuine Adobe Flash Media Server 001");
        assert_eq!(FP_KEY_FULL[30..], TAIL);
        assert_eq!(FMS_KEY_FULL[36..], TAIL);
    }

    /// §8 case 1, RTMP-HS-01/02: S0 = 3; S1 = time + zeros + random; S2 echoes C1.
    #[test]
    fn simple_handshake_byte_for_byte() {
        let mut hs = server();
        let c1 = simple_c1(0xAABB_CCDD, 1);
        let (n, p, out) = drive(&mut hs, &c0c1(3, &c1));
        assert_eq!((n, p), (1 + HANDSHAKE_SIZE, HandshakeProgress::NeedMore));
        assert_eq!(out.len(), 1 + 2 * HANDSHAKE_SIZE);
        assert_eq!(out[0], 3, "S0");
        let s1 = &out[1..1 + HANDSHAKE_SIZE];
        let s2 = &out[1 + HANDSHAKE_SIZE..];
        assert_eq!(s1[..4], EPOCH.to_be_bytes(), "S1 time");
        assert_eq!(
            s1[4..8],
            [0, 0, 0, 0],
            "S1 zero field (RTMP-HS-05 fallback)"
        );
        assert_eq!(s1[8..], server_random()[..], "S1 random");
        assert_eq!(s2[..4], c1[..4], "S2 time = C1 time");
        assert_eq!(s2[4..8], c1[4..8], "S2 time2");
        assert_eq!(s2[8..], c1[8..], "S2 random = C1 random");
        assert_eq!(hs.mode(), Some(HandshakeMode::Simple));
        assert!(!hs.is_done());

        // C2 = echo of S1.
        let (n, p, out) = drive(&mut hs, s1);
        assert_eq!((n, p), (HANDSHAKE_SIZE, HandshakeProgress::Done));
        assert!(out.is_empty());
        assert!(hs.is_done());
        assert_eq!(hs.take_output(), None);
    }

    /// §8 case 2, RTMP-HS-01: an unknown low version is answered with 3.
    #[test]
    fn c0_version_6_answers_3_and_continues() {
        let mut hs = server();
        let c1 = simple_c1(5, 2);
        let (n, p, out) = drive(&mut hs, &c0c1(0x06, &c1));
        assert_eq!((n, p), (1 + HANDSHAKE_SIZE, HandshakeProgress::NeedMore));
        assert_eq!(out[0], 3);
        assert_eq!(hs.client_version(), Some(6));
        let (_, p, _) = drive(&mut hs, &out[1..1 + HANDSHAKE_SIZE]);
        assert_eq!(p, HandshakeProgress::Done);
    }

    #[test]
    fn all_low_versions_are_tolerated() {
        for v in 0..=31u8 {
            let mut hs = server();
            assert_eq!(
                hs.read(&[v]).unwrap(),
                (1, HandshakeProgress::NeedMore),
                "C0 {v}"
            );
        }
    }

    /// §8 case 2, RTMP-HS-01: "GET / HTTP/1.1" fails at its first byte.
    #[test]
    fn c0_g_is_bad_version() {
        let mut hs = server();
        let err = hs.read(b"GET / HTTP/1.1\r\n\r\n").unwrap_err();
        assert_eq!(err, HandshakeError::BadVersion(b'G'));
        assert_eq!(
            err.to_string(),
            "unsupported RTMP version byte 0x47 (not an RTMP client?)"
        );
        assert_eq!(
            hs.take_output(),
            None,
            "nothing is sent to a non-RTMP client"
        );
        assert!(!hs.is_done());
        // Sticky: a later read fails the same way.
        assert_eq!(hs.read(&[3]).unwrap_err(), HandshakeError::BadVersion(b'G'));
    }

    #[test]
    fn every_version_from_32_is_rejected() {
        for v in 32..=255u8 {
            let mut hs = server();
            assert_eq!(hs.read(&[v]), Err(HandshakeError::BadVersion(v)));
        }
    }

    /// §8 case 3, RTMP-HS-03: C2 and the first chunk arrive in one read; the
    /// consumed count stops at the end of C2.
    #[test]
    fn coalesced_c2_and_connect_bytes_are_not_consumed() {
        let mut hs = server();
        let c1 = simple_c1(9, 3);
        let (_, _, out) = drive(&mut hs, &c0c1(3, &c1));
        let mut input = out[1..1 + HANDSHAKE_SIZE].to_vec();
        let connect = [
            0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x9d, 0x14, 0x00, 0x00, 0x00, 0x00,
        ];
        input.extend_from_slice(&connect);
        let (n, p) = hs.read(&input).unwrap();
        assert_eq!((n, p), (HANDSHAKE_SIZE, HandshakeProgress::Done));
        assert_eq!(&input[n..], &connect);
        // Done is idempotent and consumes nothing more.
        assert_eq!(hs.read(&input[n..]).unwrap(), (0, HandshakeProgress::Done));
    }

    /// §8 case 3: everything (C0+C1+C2+chunk bytes) in one read.
    #[test]
    fn whole_handshake_in_one_read() {
        let c1 = simple_c1(9, 4);
        let mut probe = server();
        let (_, _, out) = drive(&mut probe, &c0c1(3, &c1));
        let mut input = c0c1(3, &c1);
        input.extend_from_slice(&out[1..1 + HANDSHAKE_SIZE]);
        input.extend_from_slice(b"\x03rest");
        let mut hs = server();
        let (n, p, out2) = drive(&mut hs, &input);
        assert_eq!((n, p), (1 + 2 * HANDSHAKE_SIZE, HandshakeProgress::Done));
        assert_eq!(&input[n..], b"\x03rest");
        assert_eq!(out2, out);
    }

    /// Byte-at-a-time feeding produces the same output, in the same total.
    #[test]
    fn byte_at_a_time_matches_bulk() {
        for c1 in [simple_c1(77, 5), digest_c1(8, 6).0, digest_c1(772, 7).0] {
            let mut bulk = server();
            let (_, _, bulk_out) = drive(&mut bulk, &c0c1(3, &c1));

            let mut hs = server();
            let mut out = Vec::new();
            for (i, b) in c0c1(3, &c1).iter().enumerate() {
                let (n, p) = hs.read(std::slice::from_ref(b)).unwrap();
                assert_eq!((n, p), (1, HandshakeProgress::NeedMore));
                if let Some(o) = hs.take_output() {
                    assert_eq!(i, HANDSHAKE_SIZE, "output only after the last C1 byte");
                    out.extend_from_slice(&o);
                }
            }
            assert_eq!(out, bulk_out);
            let c2 = &out[1..1 + HANDSHAKE_SIZE];
            for (i, b) in c2.iter().enumerate() {
                let (n, p) = hs.read(std::slice::from_ref(b)).unwrap();
                assert_eq!(n, 1);
                let want = if i + 1 == HANDSHAKE_SIZE {
                    HandshakeProgress::Done
                } else {
                    HandshakeProgress::NeedMore
                };
                assert_eq!(p, want);
            }
            assert!(hs.is_done());
        }
    }

    #[test]
    fn empty_reads_are_harmless() {
        let mut hs = server();
        assert_eq!(hs.read(&[]).unwrap(), (0, HandshakeProgress::NeedMore));
        hs.read(&[3]).unwrap();
        assert_eq!(hs.read(&[]).unwrap(), (0, HandshakeProgress::NeedMore));
        assert_eq!(hs.take_output(), None);
    }

    /// RTMP-HS-05: a digest C1 at `base` gets a digest S1 at the same scheme and
    /// an S2 signed with HMAC(FMS full key, C1 digest).
    fn check_digest_handshake(base: usize, scheme: DigestScheme) {
        for seed in 0..8u8 {
            let (c1, c1_off) = digest_c1(base, seed);
            let mut hs = server();
            let (_, _, out) = drive(&mut hs, &c0c1(3, &c1));
            assert_eq!(hs.mode(), Some(HandshakeMode::Digest(scheme)));
            assert_eq!(out.len(), MAX_OUTPUT);
            assert_eq!(out[0], 3);
            let s1 = &out[1..1 + HANDSHAKE_SIZE];
            let s2 = &out[1 + HANDSHAKE_SIZE..];

            // S1: time, version ≥ 3 (ffmpeg checks S1[4] >= 3), FMS digest at scheme offset.
            assert_eq!(s1[..4], EPOCH.to_be_bytes());
            assert_eq!(s1[4..8], [4, 5, 0, 1]);
            let s1_off = offset_for(s1, base);
            let want = digest_excluding(b"Genuine Adobe Flash Media Server 001", s1, s1_off);
            assert_eq!(s1[s1_off..s1_off + 32], want, "S1 digest");
            // Everything but the digest is the caller's random.
            let random = server_random();
            for i in 8..HANDSHAKE_SIZE {
                if !(s1_off..s1_off + 32).contains(&i) {
                    assert_eq!(s1[i], random[i - 8]);
                }
            }

            // S2: last 32 bytes = HMAC(HMAC(68-byte FMS key, C1 digest), S2[..1504]).
            let mut fms_full = b"Genuine Adobe Flash Media Server 001".to_vec();
            fms_full.extend_from_slice(&TAIL);
            assert_eq!(fms_full.len(), 68);
            let key = hmac(&fms_full, &[&c1[c1_off..c1_off + 32]]);
            assert_eq!(s2[1504..], hmac(&key, &[&s2[..1504]]), "S2 signature");

            // A Flash-Player-style C2 (random + signature keyed by S1's digest).
            let mut fp_full = b"Genuine Adobe Flash Player 001".to_vec();
            fp_full.extend_from_slice(&TAIL);
            let mut c2 = simple_c1(1, seed.wrapping_add(100));
            let key = hmac(&fp_full, &[&s1[s1_off..s1_off + 32]]);
            let sig = hmac(&key, &[&c2[..1504]]);
            c2[1504..].copy_from_slice(&sig);
            assert_eq!(
                c2_signature_valid(&c2, s1[s1_off..s1_off + 32].try_into().unwrap()),
                Some(true)
            );
            let (n, p, _) = drive(&mut hs, &c2);
            assert_eq!((n, p), (HANDSHAKE_SIZE, HandshakeProgress::Done));
        }
    }

    #[test]
    fn digest_c1_scheme0() {
        check_digest_handshake(8, DigestScheme::Scheme0);
    }

    #[test]
    fn digest_c1_scheme1() {
        check_digest_handshake(772, DigestScheme::Scheme1);
    }

    /// A corrupted digest falls back to the simple handshake (S1[4..8] = 0).
    #[test]
    fn broken_digest_falls_back_to_simple() {
        let (mut c1, off) = digest_c1(8, 9);
        c1[off] ^= 0xFF;
        let mut hs = server();
        let (_, _, out) = drive(&mut hs, &c0c1(3, &c1));
        assert_eq!(hs.mode(), Some(HandshakeMode::Simple));
        assert_eq!(out[5..9], [0, 0, 0, 0]);
        assert_eq!(out[1 + HANDSHAKE_SIZE..], c1[..]);
    }

    /// RTMP-HS-04: a C2 that does not echo S1 is accepted.
    #[test]
    fn c2_not_echoing_s1_is_accepted() {
        for c1 in [simple_c1(1, 10), digest_c1(8, 11).0] {
            let mut hs = server();
            drive(&mut hs, &c0c1(3, &c1));
            let garbage = [0x5Au8; HANDSHAKE_SIZE];
            let (n, p, out) = drive(&mut hs, &garbage);
            assert_eq!((n, p), (HANDSHAKE_SIZE, HandshakeProgress::Done));
            assert!(out.is_empty());
            assert!(hs.is_done());
        }
    }

    #[test]
    fn digest_offsets_stay_inside_the_packet() {
        let mut p = [0xFFu8; HANDSHAKE_SIZE];
        for scheme in [DigestScheme::Scheme0, DigestScheme::Scheme1] {
            for v in 0..=255u8 {
                p.fill(v);
                let off = scheme.digest_offset(&p);
                assert!(off + DIGEST_LEN <= HANDSHAKE_SIZE);
                assert!(off >= scheme.base() + 4);
            }
        }
        // Scheme 0's digest never overlaps scheme 1's offset bytes.
        p.fill(0xFF);
        assert!(DigestScheme::Scheme0.digest_offset(&p) + DIGEST_LEN <= 772);
    }

    #[test]
    fn hmac_matches_rfc4231_case_2() {
        let got = hmac_sha256(b"Jefe", &[b"what do ya want ", b"for nothing?"]).unwrap();
        let want = [
            0x5b, 0xdc, 0xc1, 0x46, 0xbf, 0x60, 0x75, 0x4e, 0x6a, 0x04, 0x24, 0x26, 0x08, 0x95,
            0x75, 0xc7, 0x5a, 0x00, 0x3f, 0x08, 0x9d, 0x27, 0x39, 0x83, 0x9d, 0xec, 0x58, 0xb9,
            0x64, 0xec, 0x38, 0x43,
        ];
        assert_eq!(got, want);
    }
}
