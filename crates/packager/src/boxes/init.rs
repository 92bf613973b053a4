//! Init segments (CMAF headers): `ftyp` + `moov` for exactly one track
//! (MP4-INIT-01…04). Sample tables are present and empty, every duration is
//! 0, and `mvex`/`trex` announce that the samples live in movie fragments.

use bytes::Bytes;
use weir_flv::{AacConfig, AvcConfig};

use super::brands::{FTYP_COMPATIBLE, FTYP_MAJOR, FTYP_MINOR};
use super::sample_entry::{write_audio, write_visual, AudioEntry, VisualEntry};
use super::writer::{BoxError, BoxWriter};

/// Media timescale of video tracks: RTMP milliseconds × 90 are exact ticks
/// (MP4-SEG-10).
pub const VIDEO_TIMESCALE: u32 = 90_000;

/// `mvhd` timescale. Every movie-level duration is 0, so this only needs to
/// be a valid value; 1000 is the common choice.
pub const MOVIE_TIMESCALE: u32 = 1000;

/// Media timescale of an AAC track: the output sample rate, i.e. the SBR
/// rate for HE-AAC (MP4-SEG-10, MP4-SEG-11). The same number belongs in
/// DASH `audioSamplingRate` and HLS `SAMPLE-RATE`.
pub fn audio_timescale(aac: &AacConfig) -> u32 {
    aac.sample_rate
}

/// Duration of one AAC access unit in [`audio_timescale`] ticks: 1024 for
/// AAC-LC (960 with frameLengthFlag), 2048 for dual-rate HE-AAC, whose
/// output rate is twice the core rate (MP4-SEG-11).
pub fn audio_frame_ticks(aac: &AacConfig) -> u32 {
    aac.samples_per_frame
}

/// The init segment of a single AVC track with media timescale
/// [`VIDEO_TIMESCALE`].
///
/// The `avc1` sample entry carries the `avcC` record verbatim, a `pasp`
/// from the SPS sample aspect ratio (1:1 when absent) and, when the SPS VUI
/// has a colour description, a `colr` of type `nclx`. The `tkhd` size is
/// the display size: the cropped width scaled by the SAR, and the height.
pub fn video_init(track_id: u32, avc: &AvcConfig) -> Result<Bytes, BoxError> {
    visual_init(track_id, &VisualEntry::avc(avc))
}

/// The init segment of a single video track of any codec Weir packages,
/// with media timescale [`VIDEO_TIMESCALE`]: the sample entry of `entry`,
/// and a `tkhd` with the display size (the width scaled by the SAR).
pub fn visual_init(track_id: u32, entry: &VisualEntry<'_>) -> Result<Bytes, BoxError> {
    let track = Track {
        track_id,
        timescale: VIDEO_TIMESCALE,
        kind: TrackKind::Video {
            width: display_width(entry.width, entry.sar)?,
            height: fixed_16_16(entry.height, "display height")?,
        },
    };
    write_init(&track, |w| write_visual(w, entry))
}

/// The init segment of a single AAC track with media timescale
/// [`audio_timescale`].
///
/// The `mp4a` sample entry's `esds` carries the AudioSpecificConfig
/// verbatim as DecoderSpecificInfo (object type indication 0x40).
pub fn audio_init(track_id: u32, aac: &AacConfig) -> Result<Bytes, BoxError> {
    sound_init(track_id, audio_timescale(aac), &AudioEntry::aac(aac))
}

/// The init segment of a single audio track of any codec Weir packages,
/// with media timescale `timescale` (the codec's sample rate: 48 kHz for
/// Opus).
pub fn sound_init(
    track_id: u32,
    timescale: u32,
    entry: &AudioEntry<'_>,
) -> Result<Bytes, BoxError> {
    let track = Track {
        track_id,
        timescale,
        kind: TrackKind::Audio,
    };
    write_init(&track, |w| write_audio(w, entry))
}

/// What the track-level boxes need to know.
struct Track {
    track_id: u32,
    timescale: u32,
    kind: TrackKind,
}

enum TrackKind {
    /// Display size in 16.16 fixed point, for `tkhd`.
    Video {
        width: u32,
        height: u32,
    },
    Audio,
}

/// 16.16 fixed point of `v`, for `tkhd` width and height.
fn fixed_16_16(v: u32, what: &'static str) -> Result<u32, BoxError> {
    v.checked_mul(1 << 16).ok_or(BoxError::ValueOutOfRange {
        what,
        value: u64::from(v),
    })
}

/// Display width in 16.16: `width × sar_w / sar_h`, truncated to 1/65536.
/// A SAR that would push the width past 16.16 (65535.99 pixels) is not
/// applied: the picture is then shown with square pixels rather than the
/// init segment failing.
fn display_width(width: u32, sar: Option<(u16, u16)>) -> Result<u32, BoxError> {
    let square = fixed_16_16(width, "display width")?;
    let Some((h_spacing, v_spacing)) = sar else {
        return Ok(square);
    };
    let scaled = (u64::from(square))
        .checked_mul(u64::from(h_spacing))
        .and_then(|v| v.checked_div(u64::from(v_spacing)))
        .and_then(|v| u32::try_from(v).ok());
    Ok(scaled.unwrap_or(square))
}

/// `ftyp`, then `moov` with one `trak` and `mvex` (MP4-INIT-01, -02).
fn write_init<F>(track: &Track, sample_entry: F) -> Result<Bytes, BoxError>
where
    F: FnOnce(&mut BoxWriter) -> Result<(), BoxError>,
{
    if track.track_id == 0 {
        return Err(BoxError::InvalidTrackId);
    }
    let mut w = BoxWriter::with_capacity(1024);
    write_ftyp(&mut w)?;
    w.write_box(b"moov", |w| {
        write_mvhd(w, track.track_id)?;
        w.write_box(b"trak", |w| {
            write_tkhd(w, track)?;
            w.write_box(b"mdia", |w| {
                write_mdhd(w, track.timescale)?;
                write_hdlr(w, &track.kind)?;
                w.write_box(b"minf", |w| {
                    match track.kind {
                        TrackKind::Video { .. } => write_vmhd(w)?,
                        TrackKind::Audio => write_smhd(w)?,
                    }
                    write_dinf(w)?;
                    write_stbl(w, sample_entry)
                })
            })
        })?;
        w.write_box(b"mvex", |w| write_trex(w, track.track_id))
    })?;
    Ok(w.finish())
}

/// `ftyp` with Weir's brands (see [`super::brands`]).
pub fn write_ftyp(w: &mut BoxWriter) -> Result<(), BoxError> {
    w.write_box(b"ftyp", |w| {
        w.bytes(&FTYP_MAJOR);
        w.u32(FTYP_MINOR);
        for brand in &FTYP_COMPATIBLE {
            w.bytes(brand);
        }
        Ok(())
    })
}

/// Unity transformation matrix (ISO/IEC 14496-12 §8.2.2): a, b, u, c, d, v,
/// x, y, w with a = d = 1.0 (16.16) and w = 1.0 (2.30).
const UNITY_MATRIX: [u32; 9] = [0x0001_0000, 0, 0, 0, 0x0001_0000, 0, 0, 0, 0x4000_0000];

fn write_matrix(w: &mut BoxWriter) {
    for v in UNITY_MATRIX {
        w.u32(v);
    }
}

/// `mvhd` v0: times 0, duration 0, rate 1.0, volume 1.0, next_track_ID
/// one past ours.
fn write_mvhd(w: &mut BoxWriter, track_id: u32) -> Result<(), BoxError> {
    let next_track_id = track_id.checked_add(1).ok_or(BoxError::ValueOutOfRange {
        what: "next_track_ID",
        value: u64::from(track_id).saturating_add(1),
    })?;
    w.write_full_box(b"mvhd", 0, 0, |w| {
        w.u32(0); // creation_time
        w.u32(0); // modification_time
        w.u32(MOVIE_TIMESCALE);
        w.u32(0); // duration (MP4-INIT-02)
        w.u32(0x0001_0000); // rate 1.0
        w.u16(0x0100); // volume 1.0
        w.zeros(2 + 8); // reserved
        write_matrix(w);
        w.zeros(6 * 4); // pre_defined
        w.u32(next_track_id);
        Ok(())
    })
}

/// `tkhd` flags: track_enabled | track_in_movie.
const TKHD_FLAGS: u32 = 0x0000_0003;

/// `tkhd` v0: duration 0; volume 1.0 for audio; display size for video.
fn write_tkhd(w: &mut BoxWriter, track: &Track) -> Result<(), BoxError> {
    let (volume, width, height) = match track.kind {
        TrackKind::Video { width, height } => (0, width, height),
        TrackKind::Audio => (0x0100, 0, 0),
    };
    w.write_full_box(b"tkhd", 0, TKHD_FLAGS, |w| {
        w.u32(0); // creation_time
        w.u32(0); // modification_time
        w.u32(track.track_id);
        w.u32(0); // reserved
        w.u32(0); // duration (MP4-INIT-02)
        w.zeros(8); // reserved
        w.u16(0); // layer
        w.u16(0); // alternate_group
        w.u16(volume);
        w.u16(0); // reserved
        write_matrix(w);
        w.u32(width);
        w.u32(height);
        Ok(())
    })
}

/// ISO 639-2/T `und` packed as three 5-bit letters (each minus 0x60).
const LANGUAGE_UND: u16 =
    ((b'u' - 0x60) as u16) << 10 | ((b'n' - 0x60) as u16) << 5 | (b'd' - 0x60) as u16;

/// `mdhd` v0: the media timescale, duration 0, language `und`.
fn write_mdhd(w: &mut BoxWriter, timescale: u32) -> Result<(), BoxError> {
    w.write_full_box(b"mdhd", 0, 0, |w| {
        w.u32(0); // creation_time
        w.u32(0); // modification_time
        w.u32(timescale);
        w.u32(0); // duration (MP4-INIT-02)
        w.u16(LANGUAGE_UND);
        w.u16(0); // pre_defined
        Ok(())
    })
}

/// `hdlr`: `vide` or `soun`, with a null-terminated name.
fn write_hdlr(w: &mut BoxWriter, kind: &TrackKind) -> Result<(), BoxError> {
    let (handler, name): (&[u8; 4], &[u8]) = match kind {
        TrackKind::Video { .. } => (b"vide", b"Weir video\0"),
        TrackKind::Audio => (b"soun", b"Weir audio\0"),
    };
    w.write_full_box(b"hdlr", 0, 0, |w| {
        w.u32(0); // pre_defined
        w.bytes(handler);
        w.zeros(3 * 4); // reserved
        w.bytes(name);
        Ok(())
    })
}

/// `vmhd`: flags 1 (required), graphicsmode copy, opcolor 0.
fn write_vmhd(w: &mut BoxWriter) -> Result<(), BoxError> {
    w.write_full_box(b"vmhd", 0, 1, |w| {
        w.u16(0); // graphicsmode
        w.zeros(3 * 2); // opcolor
        Ok(())
    })
}

/// `smhd`: balance 0.
fn write_smhd(w: &mut BoxWriter) -> Result<(), BoxError> {
    w.write_full_box(b"smhd", 0, 0, |w| {
        w.u16(0); // balance
        w.u16(0); // reserved
        Ok(())
    })
}

/// `dinf`/`dref` with one `url ` entry of flags 1: the media is in the same
/// file (no external data references, MP4-SEG-02).
fn write_dinf(w: &mut BoxWriter) -> Result<(), BoxError> {
    w.write_box(b"dinf", |w| {
        w.write_full_box(b"dref", 0, 0, |w| {
            w.u32(1); // entry_count
            w.write_full_box(b"url ", 0, 1, |_| Ok(()))
        })
    })
}

/// `stbl`: `stsd` with the one sample entry, then empty `stts`, `stsc`,
/// `stsz` and `stco` (MP4-INIT-02).
fn write_stbl<F>(w: &mut BoxWriter, sample_entry: F) -> Result<(), BoxError>
where
    F: FnOnce(&mut BoxWriter) -> Result<(), BoxError>,
{
    w.write_box(b"stbl", |w| {
        w.write_full_box(b"stsd", 0, 0, |w| {
            w.u32(1); // entry_count
            sample_entry(w)
        })?;
        w.write_full_box(b"stts", 0, 0, |w| {
            w.u32(0); // entry_count
            Ok(())
        })?;
        w.write_full_box(b"stsc", 0, 0, |w| {
            w.u32(0); // entry_count
            Ok(())
        })?;
        w.write_full_box(b"stsz", 0, 0, |w| {
            w.u32(0); // sample_size
            w.u32(0); // sample_count
            Ok(())
        })?;
        w.write_full_box(b"stco", 0, 0, |w| {
            w.u32(0); // entry_count
            Ok(())
        })
    })
}

/// `trex`: sample description 1, every other default 0 (each fragment's
/// `tfhd`/`trun` carries its own values).
fn write_trex(w: &mut BoxWriter, track_id: u32) -> Result<(), BoxError> {
    w.write_full_box(b"trex", 0, 0, |w| {
        w.u32(track_id);
        w.u32(1); // default_sample_description_index
        w.u32(0); // default_sample_duration
        w.u32(0); // default_sample_size
        w.u32(0); // default_sample_flags
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn language_und_packs_to_0x55c4() {
        assert_eq!(LANGUAGE_UND, 0x55c4);
    }

    #[test]
    fn display_width_applies_the_sar() {
        assert_eq!(display_width(320, None), Ok(320 << 16));
        assert_eq!(display_width(720, Some((1, 1))), Ok(720 << 16));
        // 720 × 16/11 = 1047.2727… → 1047 + 17873/65536.
        assert_eq!(
            display_width(720, Some((16, 11))),
            Ok((720u64 * 16 * 65536 / 11) as u32)
        );
        // 1440 × 4/3 = 1920 exactly.
        assert_eq!(display_width(1440, Some((4, 3))), Ok(1920 << 16));
    }

    #[test]
    fn display_width_ignores_a_sar_that_overflows_or_divides_by_zero() {
        assert_eq!(display_width(4096, Some((255, 1))), Ok(4096 << 16));
        assert_eq!(display_width(640, Some((1, 0))), Ok(640 << 16));
        assert!(display_width(70_000, None).is_err());
    }

    #[test]
    fn track_id_zero_is_rejected() {
        let track = Track {
            track_id: 0,
            timescale: 1000,
            kind: TrackKind::Audio,
        };
        assert_eq!(
            write_init(&track, |_| Ok(())),
            Err(BoxError::InvalidTrackId)
        );
    }

    #[test]
    fn track_id_max_has_no_next_track_id() {
        let track = Track {
            track_id: u32::MAX,
            timescale: 1000,
            kind: TrackKind::Audio,
        };
        assert!(matches!(
            write_init(&track, |_| Ok(())),
            Err(BoxError::ValueOutOfRange {
                what: "next_track_ID",
                ..
            })
        ));
    }
}
