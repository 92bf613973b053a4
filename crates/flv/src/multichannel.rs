//! The E-RTMP v2 audio MultichannelConfig packet (AudioPacketType 4): the
//! channel order and layout of the track, sent after the SequenceStart
//! (ffmpeg sends it for every FourCC, e.g. `Native` with flags `0x3f` for
//! 5.1 Opus or AAC).

use bytes::Bytes;

use crate::error::FlvError;
use crate::reader::Reader;

/// A parsed MultichannelConfig.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MultichannelConfig {
    /// `channelCount`.
    pub channels: u8,
    pub order: ChannelOrder,
}

/// `AudioChannelOrder` and what follows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChannelOrder {
    /// 0: only the channel count is known.
    Unspecified,
    /// 1: `AudioChannelFlags`, one bit per speaker in the E-RTMP
    /// `AudioChannelMask` order (bit 0 front left, 1 front right, 2 front
    /// centre, 3 LFE, 4 back left, 5 back right, …, 9 side left, 10 side
    /// right, …); the channels come in the order of the set bits.
    Native { flags: u32 },
    /// 2: one `AudioChannel` value per channel, in channel order
    /// (0 front left, 1 front right, 2 front centre, 3 LFE, …;
    /// 0xfe unused, 0xff unknown).
    Custom { mapping: Vec<u8> },
}

const ORDER_UNSPECIFIED: u8 = 0;
const ORDER_NATIVE: u8 = 1;
const ORDER_CUSTOM: u8 = 2;

/// Parses the body of a MultichannelConfig packet (after the FourCC):
/// `AudioChannelOrder` UI8, `channelCount` UI8, then the mapping (Custom,
/// `channelCount` bytes) or the flags (Native, UI32). Trailing bytes are
/// ignored.
pub fn parse_multichannel_config(body: Bytes) -> Result<MultichannelConfig, FlvError> {
    let mut r = Reader::new(body);
    let order = r.u8("MultichannelConfig AudioChannelOrder")?;
    let channels = r.u8("MultichannelConfig channelCount")?;
    let order = match order {
        ORDER_UNSPECIFIED => ChannelOrder::Unspecified,
        ORDER_NATIVE => ChannelOrder::Native {
            flags: u32::from(r.u16("MultichannelConfig AudioChannelFlags")?) << 16
                | u32::from(r.u16("MultichannelConfig AudioChannelFlags")?),
        },
        ORDER_CUSTOM => ChannelOrder::Custom {
            mapping: r
                .take(
                    usize::from(channels),
                    "MultichannelConfig AudioChannelMapping",
                )?
                .to_vec(),
        },
        other => {
            return Err(FlvError::invalid(
                "MultichannelConfig AudioChannelOrder",
                format!("{other}, expected 0 (Unspecified), 1 (Native) or 2 (Custom)"),
            ))
        }
    };
    Ok(MultichannelConfig { channels, order })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio_vectors::{ex_body as body, *};

    #[test]
    fn ffmpeg_native_layouts() {
        let c = parse_multichannel_config(body(OPUS_51_MULTICHANNEL)).unwrap();
        assert_eq!(c.channels, 6);
        assert_eq!(c.order, ChannelOrder::Native { flags: 0x3f });
        let c = parse_multichannel_config(body(AC3_51_MULTICHANNEL)).unwrap();
        assert_eq!(c.order, ChannelOrder::Native { flags: 0x60f });
        let c = parse_multichannel_config(body(OPUS_STEREO_MULTICHANNEL)).unwrap();
        assert_eq!(
            (c.channels, c.order),
            (2, ChannelOrder::Native { flags: 3 })
        );
    }

    #[test]
    fn custom_and_unspecified() {
        let c = parse_multichannel_config(Bytes::from_static(&[2, 3, 0, 1, 3])).unwrap();
        assert_eq!(
            c,
            MultichannelConfig {
                channels: 3,
                order: ChannelOrder::Custom {
                    mapping: vec![0, 1, 3]
                }
            }
        );
        let c = parse_multichannel_config(Bytes::from_static(&[0, 8])).unwrap();
        assert_eq!((c.channels, c.order), (8, ChannelOrder::Unspecified));
    }

    #[test]
    fn malformed() {
        for bad in [&[][..], &[1], &[1, 2, 0, 0, 0], &[2, 3, 0, 1]] {
            assert!(
                matches!(
                    parse_multichannel_config(Bytes::copy_from_slice(bad)),
                    Err(FlvError::Truncated { .. })
                ),
                "{bad:?}"
            );
        }
        assert!(matches!(
            parse_multichannel_config(Bytes::from_static(&[3, 2])),
            Err(FlvError::Invalid {
                what: "MultichannelConfig AudioChannelOrder",
                ..
            })
        ));
    }

    #[test]
    fn fuzz_multichannel_config() {
        bolero::check!().for_each(|input: &[u8]| {
            if let Ok(c) = parse_multichannel_config(Bytes::copy_from_slice(input)) {
                if let ChannelOrder::Custom { mapping } = &c.order {
                    assert_eq!(mapping.len(), usize::from(c.channels));
                }
            }
        });
    }
}
