//! Enhanced RTMP (v1/v2) framing shared by audio and video: the ModEx
//! prelude chain (ERTMP-06) and multitrack selection (ERTMP-05).

use crate::error::FlvError;
use crate::reader::Reader;

/// PacketType value announcing a ModEx prelude (same for audio and video).
pub(crate) const PACKET_TYPE_MOD_EX: u8 = 7;

/// `AvMultitrackType` values.
const ONE_TRACK: u8 = 0;
const MANY_TRACKS: u8 = 1;
const MANY_TRACKS_MANY_CODECS: u8 = 2;

/// One packet of one track: its real packet type, FourCC and body.
#[derive(Debug)]
pub(crate) struct ExPacket {
    pub(crate) packet_type: u8,
    pub(crate) fourcc: [u8; 4],
    pub(crate) body: Reader,
}

/// The outcome of reading the FourCC / multitrack part of an Ex header.
#[derive(Debug)]
pub(crate) enum Track {
    /// The default track (trackId 0), or the only packet of a
    /// single-track message.
    Default(ExPacket),
    /// A multitrack message without a trackId 0.
    NoDefault,
}

/// Consumes the ModEx chain (ERTMP-06) and returns the real packet type.
///
/// Each entry is `modExDataSize` (UI8 + 1, or UI16 + 1 when the first form
/// reads 256), the data, then one byte: ModEx type in the high nibble, next
/// packet type in the low nibble. The only ModEx type defined so far,
/// TimestampOffsetNano, adjusts presentation time by less than 1 ms; Weir's
/// timeline is in milliseconds, so the data is skipped. Each entry consumes
/// at least three bytes, so the loop ends with the input.
pub(crate) fn skip_mod_ex(r: &mut Reader, mut packet_type: u8) -> Result<u8, FlvError> {
    while packet_type == PACKET_TYPE_MOD_EX {
        let mut size = usize::from(r.u8("ModEx modExDataSize")?).saturating_add(1);
        if size == 256 {
            size = usize::from(r.u16("ModEx modExDataSize (16-bit)")?).saturating_add(1);
        }
        r.skip(size, "ModEx modExData")?;
        packet_type = r.u8("ModEx type and packet type")? & 0x0f;
    }
    Ok(packet_type)
}

/// Reads the FourCC, or the multitrack header and track table, and returns
/// the packet of the default track (ERTMP-05).
///
/// `multitrack` is the packet type that announces multitrack (6 for video,
/// 5 for audio). Every track of a multitrack message is walked so that a
/// track size running past the message is an error; the first track with
/// trackId 0 is returned and the others are skipped.
pub(crate) fn default_track(
    mut r: Reader,
    packet_type: u8,
    multitrack: u8,
) -> Result<Track, FlvError> {
    if packet_type != multitrack {
        let fourcc = r.fourcc("E-RTMP FourCC")?;
        return Ok(Track::Default(ExPacket {
            packet_type,
            fourcc,
            body: r,
        }));
    }
    let b = r.u8("E-RTMP AvMultitrackType")?;
    let multitrack_type = b >> 4;
    let packet_type = b & 0x0f;
    if packet_type == multitrack || packet_type == PACKET_TYPE_MOD_EX {
        return Err(FlvError::invalid(
            "E-RTMP multitrack packet type",
            format!("packet type {packet_type} inside a multitrack message"),
        ));
    }
    match multitrack_type {
        ONE_TRACK => {
            let fourcc = r.fourcc("E-RTMP FourCC")?;
            let track_id = r.u8("E-RTMP trackId")?;
            if track_id != 0 {
                return Ok(Track::NoDefault);
            }
            Ok(Track::Default(ExPacket {
                packet_type,
                fourcc,
                body: r,
            }))
        }
        MANY_TRACKS | MANY_TRACKS_MANY_CODECS => {
            let shared_fourcc = if multitrack_type == MANY_TRACKS {
                Some(r.fourcc("E-RTMP FourCC")?)
            } else {
                None
            };
            let mut default = None;
            // Each pass consumes at least 4 bytes (trackId + size) or fails.
            while !r.is_empty() {
                let fourcc = match shared_fourcc {
                    Some(f) => f,
                    None => r.fourcc("E-RTMP track FourCC")?,
                };
                let track_id = r.u8("E-RTMP trackId")?;
                let size = r.u24("E-RTMP sizeOfTrack")?;
                let body = r.take(size as usize, "E-RTMP track body")?;
                if track_id == 0 && default.is_none() {
                    default = Some(ExPacket {
                        packet_type,
                        fourcc,
                        body: Reader::new(body),
                    });
                }
            }
            Ok(default.map_or(Track::NoDefault, Track::Default))
        }
        other => Err(FlvError::unsupported(format!(
            "E-RTMP AvMultitrackType {other}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use proptest::prelude::*;

    use crate::{parse_video, VideoPacket};

    proptest! {
        /// A ManyTracks message built from random tracks yields the body of
        /// the first trackId 0, or Ignored when no track has id 0.
        #[test]
        fn prop_many_tracks_selects_the_first_default_track(
            tracks in proptest::collection::vec(
                (0u8..4, proptest::collection::vec(any::<u8>(), 0..40)),
                0..6,
            )
        ) {
            let mut msg = vec![
                0x96, // IsExHeader | FrameType 1 | Multitrack
                0x13, // ManyTracks | CodedFramesX
            ];
            msg.extend_from_slice(b"vp09"); // FourCC shared by all tracks
            for (id, body) in &tracks {
                msg.push(*id); // trackId
                msg.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]); // sizeOfTrack
                msg.extend_from_slice(body);
            }
            let tag = parse_video(Bytes::from(msg)).unwrap();
            match tracks.iter().find(|(id, _)| *id == 0) {
                Some((_, body)) => prop_assert_eq!(
                    tag.packet,
                    VideoPacket::Coded {
                        composition_offset_ms: 0,
                        data: Bytes::from(body.clone())
                    }
                ),
                None => {
                    let ignored = matches!(tag.packet, VideoPacket::Ignored { .. });
                    prop_assert!(ignored);
                }
            }
        }
    }
}
