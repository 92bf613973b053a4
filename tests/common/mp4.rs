//! Weir's fMP4 output read back with `mp4-atom` (feature `strict`: an
//! unknown or malformed box, or a box not read to its end, is an error).
//!
//! mp4-atom decodes boxes into structs; it does not keep the order of child
//! boxes nor FullBox versions. For those two facts the tests walk box
//! headers with mp4-atom's own [`Header`] reader ([`boxes`]) and read the
//! one version byte by hand ([`Fragment::tfdt_version`]).

use mp4_atom::{Any, Decode, Ftyp, Header, Moof, Moov, Styp, Traf, Trak, Trex};

/// One box of a buffer: its type, the whole box (header included) and the
/// header length.
#[derive(Debug, Clone, Copy)]
pub struct RawBox<'a> {
    pub kind: [u8; 4],
    pub whole: &'a [u8],
    pub header_len: usize,
}

impl<'a> RawBox<'a> {
    /// The box body (after the header).
    pub fn body(&self) -> &'a [u8] {
        &self.whole[self.header_len..]
    }
}

fn name(kind: &[u8; 4]) -> String {
    String::from_utf8_lossy(kind).into_owned()
}

/// The boxes of `buf`, back to back, framed by mp4-atom's [`Header`]
/// decoder; trailing bytes or a box running past the end are errors.
pub fn boxes(buf: &[u8]) -> Result<Vec<RawBox<'_>>, String> {
    let mut out = Vec::new();
    let mut rest = buf;
    while !rest.is_empty() {
        let at = buf.len() - rest.len();
        let mut cursor = rest;
        let header = Header::decode(&mut cursor)
            .map_err(|e| format!("box header at {at}: {e} ({} bytes left)", rest.len()))?;
        let header_len = rest.len() - cursor.len();
        let size = header.size.unwrap_or(cursor.len());
        let kind: [u8; 4] = header.kind.into();
        if size > cursor.len() {
            return Err(format!(
                "box {} at {at} has a {size}-byte body, {} bytes available",
                name(&kind),
                cursor.len()
            ));
        }
        out.push(RawBox {
            kind,
            whole: &rest[..header_len + size],
            header_len,
        });
        rest = &rest[header_len + size..];
    }
    Ok(out)
}

/// Body of the first box along `path` (each step a child of the one
/// before), e.g. `[b"moof", b"traf", b"tfdt"]`; only container boxes may
/// be stepped through.
pub fn find_body<'a>(buf: &'a [u8], path: &[&[u8; 4]]) -> Result<&'a [u8], String> {
    let mut scope = buf;
    for step in path {
        scope = boxes(scope)?
            .into_iter()
            .find(|b| &b.kind == *step)
            .map(|b| b.body())
            .ok_or_else(|| format!("no {} box", name(step)))?;
    }
    Ok(scope)
}

fn decode<T: Decode>(what: &str, whole: &[u8]) -> Result<T, String> {
    let mut buf = whole;
    let v = T::decode(&mut buf).map_err(|e| format!("mp4-atom: {what}: {e}"))?;
    if !buf.is_empty() {
        return Err(format!(
            "mp4-atom: {what}: {} bytes left after decoding",
            buf.len()
        ));
    }
    Ok(v)
}

/// An init segment, decoded.
#[derive(Debug, Clone)]
pub struct Init {
    /// Top-level box types, in order.
    pub top: Vec<[u8; 4]>,
    pub ftyp: Ftyp,
    pub moov: Moov,
    /// The moov's child box types, in order.
    pub moov_children: Vec<[u8; 4]>,
}

impl Init {
    /// The single track (MP4-INIT-04: one track per init segment).
    pub fn trak(&self) -> &Trak {
        assert_eq!(
            self.moov.trak.len(),
            1,
            "one track per init segment (MP4-INIT-04)"
        );
        &self.moov.trak[0]
    }
    pub fn timescale(&self) -> u32 {
        self.trak().mdia.mdhd.timescale
    }
    pub fn handler(&self) -> [u8; 4] {
        self.trak().mdia.hdlr.handler.into()
    }
    /// The trex of the single track.
    pub fn trex(&self) -> Option<&Trex> {
        let id = self.trak().tkhd.track_id;
        self.moov
            .mvex
            .as_ref()?
            .trex
            .iter()
            .find(|t| t.track_id == id)
    }
    /// ftyp major and compatible brands.
    pub fn brands(&self) -> Vec<[u8; 4]> {
        std::iter::once(self.ftyp.major_brand)
            .chain(self.ftyp.compatible_brands.iter().copied())
            .map(Into::into)
            .collect()
    }
}

/// Decodes an init segment: `ftyp` first, a `moov`, every top-level box
/// decoded strictly.
pub fn decode_init(bytes: &[u8]) -> Result<Init, String> {
    let top = boxes(bytes)?;
    let kinds: Vec<[u8; 4]> = top.iter().map(|b| b.kind).collect();
    if kinds.first() != Some(b"ftyp") {
        return Err(format!(
            "init top-level boxes {:?}: ftyp must come first",
            kinds.iter().map(name).collect::<Vec<_>>()
        ));
    }
    let mut ftyp = None;
    let mut moov = None;
    let mut moov_children = Vec::new();
    for b in &top {
        match &b.kind {
            b"ftyp" => ftyp = Some(decode::<Ftyp>("ftyp", b.whole)?),
            b"moov" => {
                moov = Some(decode::<Moov>("moov", b.whole)?);
                moov_children = boxes(b.body())?.iter().map(|c| c.kind).collect();
            }
            k => {
                decode::<Any>(&name(k), b.whole)?;
            }
        }
    }
    Ok(Init {
        top: kinds,
        ftyp: ftyp.expect("checked above"),
        moov: moov.ok_or("init segment has no moov")?,
        moov_children,
    })
}

/// One `moof` of a media segment, with what follows it.
#[derive(Debug, Clone)]
pub struct Fragment {
    pub moof: Moof,
    /// Offset of the moof in the segment.
    pub moof_at: usize,
    /// Size of the whole moof box.
    pub moof_size: usize,
    /// Payload length of the mdat right after this moof, if there is one.
    pub mdat_payload: Option<usize>,
    /// Version of the first traf's tfdt. mp4-atom reads both versions into
    /// one u64 and does not say which it was, so this byte is read by hand.
    pub tfdt_version: Option<u8>,
}

impl Fragment {
    /// The single traf (CMAF: one track per fragment).
    pub fn traf(&self) -> &Traf {
        assert_eq!(self.moof.traf.len(), 1, "one traf per moof (CMAF)");
        &self.moof.traf[0]
    }
    pub fn tfdt(&self) -> Option<u64> {
        self.traf().tfdt.as_ref().map(|t| t.base_media_decode_time)
    }
    /// trun data_offset of the first trun.
    pub fn data_offset(&self) -> Option<i32> {
        self.traf().trun.first().and_then(|t| t.data_offset)
    }
}

/// A media segment (or part), decoded.
#[derive(Debug, Clone)]
pub struct Segment {
    /// Top-level box types, in order.
    pub top: Vec<[u8; 4]>,
    pub styp: Option<Styp>,
    pub fragments: Vec<Fragment>,
}

/// Decodes a media segment: every top-level box strictly, each moof with
/// the size of the mdat after it.
pub fn decode_segment(bytes: &[u8]) -> Result<Segment, String> {
    let top = boxes(bytes)?;
    let mut styp = None;
    let mut fragments: Vec<Fragment> = Vec::new();
    let mut after_moof = false;
    for b in &top {
        let at = b.whole.as_ptr() as usize - bytes.as_ptr() as usize;
        match &b.kind {
            b"moof" => {
                let tfdt_version = find_body(b.body(), &[b"traf", b"tfdt"])
                    .ok()
                    .and_then(|t| t.first().copied());
                fragments.push(Fragment {
                    moof: decode::<Moof>("moof", b.whole)?,
                    moof_at: at,
                    moof_size: b.whole.len(),
                    mdat_payload: None,
                    tfdt_version,
                });
                after_moof = true;
                continue;
            }
            b"mdat" => {
                // Framed above; the payload is opaque sample data.
                if after_moof {
                    fragments.last_mut().unwrap().mdat_payload = Some(b.body().len());
                }
            }
            b"styp" => {
                let s = decode::<Styp>("styp", b.whole)?;
                styp.get_or_insert(s);
            }
            k => {
                decode::<Any>(&name(k), b.whole)?;
            }
        }
        after_moof = false;
    }
    Ok(Segment {
        top: top.iter().map(|b| b.kind).collect(),
        styp,
        fragments,
    })
}

/// `sample_is_non_sync_sample` of ISO/IEC 14496-12 sample flags.
pub const SAMPLE_IS_NON_SYNC: u32 = 0x0001_0000;

/// One sample of a traf, with the tfhd and trex defaults applied as a
/// player applies them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sample {
    pub duration: u32,
    pub size: u32,
    pub flags: u32,
    pub cts: i64,
}

impl Sample {
    pub fn is_sync(&self) -> bool {
        self.flags & SAMPLE_IS_NON_SYNC == 0
    }
}

/// Every sample of `traf` (all its truns), resolved against the tfhd
/// defaults, then `trex`'s.
pub fn samples(traf: &Traf, trex: Option<&Trex>) -> Vec<Sample> {
    let tfhd = &traf.tfhd;
    let trex_or = |f: fn(&Trex) -> u32| trex.map(f).unwrap_or(0);
    traf.trun
        .iter()
        .flat_map(|trun| trun.samples.iter())
        .map(|e| Sample {
            duration: e
                .duration
                .or(tfhd.default_sample_duration)
                .unwrap_or_else(|| trex_or(|t| t.default_sample_duration)),
            size: e
                .size
                .or(tfhd.default_sample_size)
                .unwrap_or_else(|| trex_or(|t| t.default_sample_size)),
            flags: e
                .flags
                .or(tfhd.default_sample_flags)
                .unwrap_or_else(|| trex_or(|t| t.default_sample_flags)),
            cts: e.cts.unwrap_or(0),
        })
        .collect()
}
