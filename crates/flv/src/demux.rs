//! One stream's FLV tags → decoder configurations and timed frames.
//!
//! The stateful step between RTMP messages and the packager: it keeps the
//! current decoder configuration of each track (identical repeats are no-ops,
//! a real change is reported, FLV-SEQ-01), maps wire timestamps onto the
//! 64-bit timeline ([`Timeline`], RTMP-TS-04) and computes PTS = DTS +
//! composition offset (RTMP-TS-05).

use bytes::Bytes;

use crate::audio::{parse_audio, AudioPacket};
use crate::av1::av1_is_key_frame;
use crate::codec::{unsupported_video, AudioConfig, VideoConfig};
use crate::error::FlvError;
use crate::multichannel::MultichannelConfig;
use crate::timeline::{Timeline, TimelineConfig, Track};
use crate::video::{parse_video, VideoPacket};
use crate::vp9::{vp9_frame_size, Vp9Config};
use crate::TrackKind;

/// One access unit on the stream timeline.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    pub track: TrackKind,
    /// Decode time, ms, monotonic per track.
    pub dts_ms: i64,
    /// Presentation time, ms: DTS + the FLV composition offset (may be < DTS).
    pub pts_ms: i64,
    /// A random access point (video key frame; every audio frame).
    pub keyframe: bool,
    /// The timeline was rebased at this frame (jump or reconnect).
    pub discontinuity: bool,
    /// Length-prefixed NAL units (AVC, HEVC), one AV1 temporal unit (OBUs),
    /// one VP9 frame or superframe, or one audio access unit (a raw AAC
    /// frame, an Opus packet, a FLAC frame, AC-3/E-AC-3 syncframes, an MP3
    /// frame).
    pub data: Bytes,
}

/// What one tag turned into.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DemuxEvent {
    /// A decoder configuration that differs from the previous one of the track
    /// (or the first). `changed` is true when an earlier one was reported.
    VideoConfig {
        config: VideoConfig,
        changed: bool,
    },
    AudioConfig {
        config: AudioConfig,
        changed: bool,
    },
    Frame(Frame),
    /// The publisher ended the track's sequence (AVC end of sequence).
    EndOfSequence(TrackKind),
}

/// The events of one tag, in order: none, one, or a VP9 configuration
/// released by its first key frame followed by that frame.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DemuxEvents {
    first: Option<DemuxEvent>,
    second: Option<DemuxEvent>,
}

impl DemuxEvents {
    fn one(event: DemuxEvent) -> Self {
        DemuxEvents {
            first: Some(event),
            second: None,
        }
    }
}

impl Iterator for DemuxEvents {
    type Item = DemuxEvent;

    fn next(&mut self) -> Option<DemuxEvent> {
        self.first.take().or_else(|| self.second.take())
    }
}

/// Per-stream demuxer. Feed it every audio/video message body in arrival order.
#[derive(Debug)]
pub struct Demuxer {
    timeline: Timeline,
    video: Option<VideoConfig>,
    audio: Option<AudioConfig>,
    /// Whether a configuration was ever reported for the track: after an
    /// unsupported codec, a supported one again is still a change for consumers.
    video_seen: bool,
    audio_seen: bool,
    /// A VP9 configuration waiting for the picture size of its first key
    /// frame (vpcC has none); `video` is `None` meanwhile.
    vp9_pending: Option<Vp9Config>,
    /// The second event of the last [`Demuxer::push_video`] call ([`Demuxer::second_event`]).
    held: Option<DemuxEvent>,
    audio_track: AudioTrack,
}

/// Audio state besides the configuration.
#[derive(Debug, Default)]
struct AudioTrack {
    /// The last MultichannelConfig and the FourCC it came with: attached to
    /// configurations of that codec and channel count.
    layout: Option<([u8; 4], MultichannelConfig)>,
    /// A frame went out since the last configuration event.
    flowing: bool,
    /// `changed` of the last configuration event.
    last_changed: bool,
    /// The frame of a tag that also reported a configuration, for
    /// [`Demuxer::second_event`].
    pending: Option<DemuxEvent>,
}

impl Demuxer {
    pub fn new(config: TimelineConfig) -> Self {
        Demuxer {
            timeline: Timeline::new(config),
            video: None,
            audio: None,
            video_seen: false,
            audio_seen: false,
            audio_track: AudioTrack::default(),
            vp9_pending: None,
            held: None,
        }
    }

    pub fn video_config(&self) -> Option<&VideoConfig> {
        self.video.as_ref()
    }

    pub fn audio_config(&self) -> Option<&AudioConfig> {
        self.audio.as_ref()
    }

    /// The publisher reconnected within the grace window: the timeline goes on
    /// after the last output and the next frames report a discontinuity.
    /// Configurations are kept, so an identical sequence header is no change.
    pub fn reconnect(&mut self) {
        self.timeline.reset_for_reconnect();
    }

    /// A video message body. `Ok(None)` when the tag carries nothing to act on
    /// (a repeated sequence header, a frame with no usable configuration, …).
    /// `Err` rejects just this tag; the stream may go on.
    ///
    /// One tag can give two events: a VP9 configuration is held until the
    /// first key frame gives its picture size, and is then reported just
    /// before that frame. This method returns the first of them and keeps
    /// the second for [`second_event`](Self::second_event);
    /// [`push_video_events`](Self::push_video_events) returns both.
    pub fn push_video(
        &mut self,
        wire_ts: u32,
        payload: Bytes,
    ) -> Result<Option<DemuxEvent>, FlvError> {
        let mut events = self.push_video_events(wire_ts, payload)?;
        let first = events.next();
        self.held = events.next();
        Ok(first)
    }

    /// The second event of the last push, whichever kind it was: a VP9
    /// key frame after the configuration held for it, or an MP3/AC-3/E-AC-3
    /// frame after the configuration it brought. A host that calls this
    /// after every push needs nothing else.
    pub fn second_event(&mut self) -> Option<DemuxEvent> {
        self.held.take().or_else(|| self.audio_track.pending.take())
    }

    /// A video message body: every event it gives, in order (at most two).
    pub fn push_video_events(
        &mut self,
        wire_ts: u32,
        payload: Bytes,
    ) -> Result<DemuxEvents, FlvError> {
        let tag = parse_video(payload)?;
        match tag.packet {
            VideoPacket::SequenceStart(config) => {
                let record = Some(config.record());
                if self.video.as_ref().map(VideoConfig::record) == record
                    || self.vp9_pending.as_ref().map(|p| &p.record) == record
                {
                    return Ok(DemuxEvents::default());
                }
                self.vp9_pending = None;
                match config {
                    VideoConfig::Unsupported { fourcc, .. } => {
                        self.video = None;
                        Err(unsupported_video(&fourcc))
                    }
                    VideoConfig::Vp9(vp9) => {
                        // Frames of the old configuration are not decodable
                        // with the new one: drop them until the key frame.
                        self.video = None;
                        self.vp9_pending = Some(vp9);
                        Ok(DemuxEvents::default())
                    }
                    config => Ok(DemuxEvents::one(self.set_video(config))),
                }
            }
            VideoPacket::Coded {
                composition_offset_ms,
                data,
            } => {
                // VP9: the picture size of a key frame completes a held
                // configuration, or changes the current one.
                let mut config_event = None;
                if let Some(size) = self.vp9_new_size(&data) {
                    let vp9 = match (self.vp9_pending.take(), &self.video) {
                        (Some(pending), _) => Some(pending),
                        (None, Some(VideoConfig::Vp9(current))) => Some(current.clone()),
                        _ => None,
                    };
                    if let Some(mut vp9) = vp9 {
                        (vp9.width, vp9.height) = size;
                        config_event = Some(self.set_video(VideoConfig::Vp9(vp9)));
                    }
                }
                let Some(video) = &self.video else {
                    return Ok(DemuxEvents::default());
                };
                // AV1 and VP9 key frames are found in the bitstream; the FLV
                // frame type is only the publisher's claim.
                let keyframe = match video {
                    VideoConfig::Av1(_) => av1_is_key_frame(&data),
                    VideoConfig::Vp9(_) => vp9_frame_size(&data).is_some(),
                    _ => tag.frame_type.is_key(),
                };
                let mapped = self.timeline.map(Track::Video, wire_ts);
                let frame = DemuxEvent::Frame(Frame {
                    track: TrackKind::Video,
                    dts_ms: mapped.dts_ms,
                    pts_ms: mapped
                        .dts_ms
                        .saturating_add(i64::from(composition_offset_ms)),
                    keyframe,
                    discontinuity: mapped.discontinuity,
                    data,
                });
                Ok(match config_event {
                    Some(config) => DemuxEvents {
                        first: Some(config),
                        second: Some(frame),
                    },
                    None => DemuxEvents::one(frame),
                })
            }
            VideoPacket::SequenceEnd => Ok(DemuxEvents {
                first: self
                    .video
                    .is_some()
                    .then_some(DemuxEvent::EndOfSequence(TrackKind::Video)),
                second: None,
            }),
            VideoPacket::Ignored { .. } => Ok(DemuxEvents::default()),
        }
    }

    /// Makes `config` the current video configuration; its event.
    fn set_video(&mut self, config: VideoConfig) -> DemuxEvent {
        let changed = self.video_seen;
        self.video_seen = true;
        self.video = Some(config.clone());
        DemuxEvent::VideoConfig { config, changed }
    }

    /// The size of a VP9 key frame when it completes a held configuration
    /// or differs from the current one's.
    fn vp9_new_size(&self, data: &[u8]) -> Option<(u32, u32)> {
        let current = match (&self.vp9_pending, &self.video) {
            (Some(_), _) => None,
            (None, Some(VideoConfig::Vp9(vp9))) => Some((vp9.width, vp9.height)),
            _ => return None,
        };
        vp9_frame_size(data).filter(|&size| Some(size) != current)
    }

    /// An audio message body; see [`push_video`](Self::push_video).
    ///
    /// For codecs whose frames carry their own configuration (MP3, AC-3,
    /// E-AC-3) a frame with a new configuration yields two events: this
    /// call returns the `AudioConfig` and [`second_event`](Self::second_event)
    /// then returns the frame. A MultichannelConfig for the current codec
    /// attaches its layout to the configuration and reports it again; before
    /// any frame went out it keeps the `changed` flag of the configuration
    /// it refines.
    pub fn push_audio(
        &mut self,
        wire_ts: u32,
        payload: Bytes,
    ) -> Result<Option<DemuxEvent>, FlvError> {
        // An event the host did not collect is dropped: one frame at most.
        self.audio_track.pending = None;
        let tag = parse_audio(payload)?;
        match tag.packet {
            AudioPacket::SequenceStart(config) => self.new_audio_config(config),
            AudioPacket::Coded { data } => Ok(self.audio_frame(wire_ts, data)),
            AudioPacket::CodedWithConfig { config, data } => {
                let event = self.new_audio_config(config)?;
                let frame = self.audio_frame(wire_ts, data);
                if event.is_none() {
                    return Ok(frame);
                }
                self.audio_track.pending = frame;
                Ok(event)
            }
            AudioPacket::ChannelLayout { fourcc, layout } => {
                Ok(self.audio_channel_layout(fourcc, layout))
            }
            AudioPacket::SequenceEnd => Ok(self
                .audio
                .is_some()
                .then_some(DemuxEvent::EndOfSequence(TrackKind::Audio))),
            AudioPacket::Ignored { .. } => Ok(None),
        }
    }

    /// FLV-SEQ-01 for audio: an identical configuration is a no-op, another
    /// one replaces the current one and is reported.
    fn new_audio_config(
        &mut self,
        mut config: AudioConfig,
    ) -> Result<Option<DemuxEvent>, FlvError> {
        if let Some(current) = &self.audio {
            if current.record() == config.record() && current.fourcc() == config.fourcc() {
                return Ok(None);
            }
        }
        if let AudioConfig::Unsupported { codec, .. } = &config {
            self.audio = None;
            return Err(FlvError::Unsupported {
                what: format!(
                    "audio codec {codec} is recognised but not packaged yet; the audio track is dropped"
                ),
            });
        }
        if let Some((fourcc, layout)) = &self.audio_track.layout {
            if *fourcc == config.fourcc() && layout.channels == config.channels() {
                config.set_channel_layout(Some(layout.clone()));
            }
        }
        let changed = self.audio_seen;
        self.audio_seen = true;
        Ok(Some(self.report_audio_config(config, changed)))
    }

    /// A MultichannelConfig: remembered, and attached to the current
    /// configuration when it is of the same codec and channel count.
    fn audio_channel_layout(
        &mut self,
        fourcc: [u8; 4],
        layout: MultichannelConfig,
    ) -> Option<DemuxEvent> {
        self.audio_track.layout = Some((fourcc, layout.clone()));
        let current = self.audio.as_ref()?;
        if current.fourcc() != fourcc
            || current.channels() != layout.channels
            || current.channel_layout() == Some(&layout)
        {
            return None;
        }
        let mut config = current.clone();
        config.set_channel_layout(Some(layout));
        // Before any frame the new event refines the last one; after frames
        // it is a change like any other.
        let changed = self.audio_track.flowing || self.audio_track.last_changed;
        Some(self.report_audio_config(config, changed))
    }

    fn report_audio_config(&mut self, config: AudioConfig, changed: bool) -> DemuxEvent {
        self.audio = Some(config.clone());
        self.audio_track.flowing = false;
        self.audio_track.last_changed = changed;
        DemuxEvent::AudioConfig { config, changed }
    }

    /// A coded audio frame on the timeline, when the track has a configuration.
    fn audio_frame(&mut self, wire_ts: u32, data: Bytes) -> Option<DemuxEvent> {
        self.audio.as_ref()?;
        self.audio_track.flowing = true;
        let mapped = self.timeline.map(Track::Audio, wire_ts);
        Some(DemuxEvent::Frame(Frame {
            track: TrackKind::Audio,
            dts_ms: mapped.dts_ms,
            pts_ms: mapped.dts_ms,
            keyframe: true,
            discontinuity: mapped.discontinuity,
            data,
        }))
    }
}

impl Default for Demuxer {
    fn default() -> Self {
        Self::new(TimelineConfig::default())
    }
}

#[cfg(test)]
mod video_tests;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio_vectors::*;
    use crate::multichannel::ChannelOrder;
    use crate::test_vectors::*;

    pub(super) fn tag(hex_str: &str) -> Bytes {
        Bytes::from(hex(hex_str))
    }

    /// Concatenates byte groups (one group per field).
    pub(super) fn cat(parts: &[&[u8]]) -> Bytes {
        Bytes::from(parts.concat())
    }

    /// A legacy AVC coded-frame tag: FrameType|CodecID 7, AVCPacketType 1,
    /// SI24 CompositionTime, then one 4-byte-length-prefixed NAL unit.
    fn avc_frame(key: bool, cto: i32, nal: &[u8]) -> Bytes {
        let b0 = if key { 0x17 } else { 0x27 };
        let cto = cto.to_be_bytes();
        let len = (nal.len() as u32).to_be_bytes();
        cat(&[&[b0, 0x01], &cto[1..], &len, nal])
    }

    /// A legacy AAC raw frame tag: SoundFormat 10 | 44 kHz | 16 bit | stereo, AACPacketType 1.
    fn aac_frame(payload: &[u8]) -> Bytes {
        cat(&[&[0xaf, 0x01], payload])
    }

    pub(super) fn frame(ev: Result<Option<DemuxEvent>, FlvError>) -> Frame {
        match ev {
            Ok(Some(DemuxEvent::Frame(f))) => f,
            other => panic!("expected a frame, got {other:?}"),
        }
    }

    pub(super) fn video_config(ev: Result<Option<DemuxEvent>, FlvError>) -> (VideoConfig, bool) {
        match ev {
            Ok(Some(DemuxEvent::VideoConfig { config, changed })) => (config, changed),
            other => panic!("expected a video config, got {other:?}"),
        }
    }

    fn audio_config(ev: Result<Option<DemuxEvent>, FlvError>) -> (AudioConfig, bool) {
        match ev {
            Ok(Some(DemuxEvent::AudioConfig { config, changed })) => (config, changed),
            other => panic!("expected an audio config, got {other:?}"),
        }
    }

    fn unsupported(ev: Result<Option<DemuxEvent>, FlvError>) -> String {
        match ev {
            Err(e @ FlvError::Unsupported { .. }) => e.to_string(),
            other => panic!("expected Unsupported, got {other:?}"),
        }
    }

    /// A demuxer with the HIGH31 AVC and 48 kHz AAC configurations.
    fn configured() -> Demuxer {
        let mut d = Demuxer::default();
        video_config(d.push_video(0, tag(HIGH31_720P_SEQ)));
        audio_config(d.push_audio(0, tag(AAC_48K_STEREO_SEQ)));
        d
    }

    /// FLV-SEQ-01: the first sequence header is reported, identical repeats
    /// (OBS and some encoders resend them before every key frame) are not.
    #[test]
    fn flv_seq_01_identical_sequence_headers_are_no_ops() {
        let mut d = Demuxer::default();
        let (config, changed) = video_config(d.push_video(0, tag(HIGH31_720P_SEQ)));
        assert!(!changed);
        assert_eq!(config.codec_string().as_deref(), Some("avc1.64001f"));
        let (config, changed) = audio_config(d.push_audio(0, tag(AAC_48K_STEREO_SEQ)));
        assert!(!changed);
        assert_eq!(config.codec_string().as_deref(), Some("mp4a.40.2"));
        for ts in [0, 33, 2000] {
            assert_eq!(d.push_video(ts, tag(HIGH31_720P_SEQ)), Ok(None));
            assert_eq!(d.push_audio(ts, tag(AAC_48K_STEREO_SEQ)), Ok(None));
        }
        // The same avcC in an E-RTMP avc1 SequenceStart is the same configuration.
        let ex = cat(&[&[0x90], b"avc1", &avcc_of(HIGH31_720P_SEQ)]);
        assert_eq!(d.push_video(0, ex), Ok(None));
        // Repeats did not touch the timeline: the first frame keeps its wire time.
        let f = frame(d.push_video(40, avc_frame(true, 0, &[0x65, 0x88])));
        assert_eq!((f.dts_ms, f.discontinuity), (40, false));
    }

    /// FLV-SEQ-01: a different record replaces the configuration with `changed: true`.
    #[test]
    fn flv_seq_01_changed_sequence_header_is_reported() {
        let mut d = configured();
        let (config, changed) = video_config(d.push_video(1000, tag(BASE30_360P_SEQ)));
        assert!(changed);
        let VideoConfig::Avc(avc) = &config else {
            panic!("expected AVC, got {config:?}");
        };
        assert_eq!((avc.sps_info.width, avc.sps_info.height), (640, 360));
        assert_eq!(d.video_config(), Some(&config));
        // Back to the first one: a change again, then a no-op.
        let (_, changed) = video_config(d.push_video(2000, tag(HIGH31_720P_SEQ)));
        assert!(changed);
        assert_eq!(d.push_video(2000, tag(HIGH31_720P_SEQ)), Ok(None));

        let (config, changed) = audio_config(d.push_audio(1000, tag(AAC_44K_MONO_SEQ)));
        assert!(changed);
        let AudioConfig::Aac(aac) = &config else {
            panic!("expected AAC, got {config:?}");
        };
        assert_eq!((aac.sample_rate, aac.channels), (44_100, 1));
        assert_eq!(d.audio_config(), Some(&config));
    }

    /// Frames before any decoder configuration cannot be packaged: dropped,
    /// without an error and without starting the timeline.
    #[test]
    fn coded_frames_before_config_are_dropped() {
        let mut d = Demuxer::default();
        assert_eq!(d.push_video(90_000, tag(HIGH31_KEY_FRAME_HEAD)), Ok(None));
        assert_eq!(d.push_video(90_033, tag(HIGH31_INTER_FRAME_HEAD)), Ok(None));
        assert_eq!(d.push_audio(90_000, tag(AAC_FRAME_HEAD)), Ok(None));
        assert_eq!(d.push_video(90_066, tag(AVC_END_OF_SEQUENCE)), Ok(None));
        assert_eq!(
            d.push_audio(90_000, tag("af02")),
            Err(FlvError::invalid("AACPacketType", "2, expected 0 or 1"))
        );
        assert!(d.video_config().is_none() && d.audio_config().is_none());

        video_config(d.push_video(0, tag(HIGH31_720P_SEQ)));
        // Audio is still unconfigured: its frames are still dropped.
        assert_eq!(d.push_audio(0, tag(AAC_FRAME_HEAD)), Ok(None));
        let f = frame(d.push_video(0, tag(HIGH31_KEY_FRAME_HEAD)));
        // The dropped frames at 90 s left no trace: no jump, no discontinuity.
        assert_eq!(
            (f.dts_ms, f.pts_ms, f.keyframe, f.discontinuity),
            (0, 67, true, false)
        );
        assert_eq!(&f.data[..], &hex(HIGH31_KEY_FRAME_HEAD)[5..]);
    }

    /// RTMP-TS-05: PTS = DTS + CompositionTime, which is signed (SI24).
    #[test]
    fn rtmp_ts_05_pts_is_dts_plus_composition_offset() {
        let mut d = configured();
        // Real ffmpeg frames: CTO 67 and 66 ms.
        let f = frame(d.push_video(1000, tag(HIGH31_KEY_FRAME_HEAD)));
        assert_eq!((f.dts_ms, f.pts_ms, f.keyframe), (1000, 1067, true));
        let f = frame(d.push_video(1033, tag(HIGH31_INTER_FRAME_HEAD)));
        assert_eq!((f.dts_ms, f.pts_ms, f.keyframe), (1033, 1099, false));
        // Negative composition offsets (some encoders, edited streams): PTS < DTS.
        let f = frame(d.push_video(1066, avc_frame(false, -33, &[0x41, 0x9a])));
        assert_eq!((f.dts_ms, f.pts_ms), (1066, 1033));
        let f = frame(d.push_video(1100, avc_frame(false, -(1 << 23), &[0x41])));
        assert_eq!((f.dts_ms, f.pts_ms), (1100, 1100 - (1 << 23)));
        let f = frame(d.push_video(1133, avc_frame(false, (1 << 23) - 1, &[0x41])));
        assert_eq!(f.pts_ms, 1133 + (1 << 23) - 1);
        // E-RTMP CodedFramesX has no composition time: PTS = DTS.
        let x = cat(&[&[0xa3], b"avc1", &[0, 0, 0, 2, 0x41, 0x9a]]);
        let f = frame(d.push_video(1166, x));
        assert_eq!((f.dts_ms, f.pts_ms, f.keyframe), (1166, 1166, false));
        assert_eq!(&f.data[..], &[0, 0, 0, 2, 0x41, 0x9a]);
        // E-RTMP CodedFrames carries one: SI24 -1.
        let cf = cat(&[&[0x91], b"avc1", &[0xff, 0xff, 0xff], &[0, 0, 0, 1, 0x65]]);
        let f = frame(d.push_video(1200, cf));
        assert_eq!((f.dts_ms, f.pts_ms, f.keyframe), (1200, 1199, true));
        // Audio has no composition offset.
        let f = frame(d.push_audio(1000, aac_frame(&[0x21, 0x10])));
        assert_eq!(
            (f.track, f.dts_ms, f.pts_ms, f.keyframe),
            (TrackKind::Audio, 1000, 1000, true)
        );
    }

    /// A recognised but unpackaged codec (E-RTMP vp08) is an error that
    /// names it; its frames are dropped and the audio track keeps flowing.
    #[test]
    fn unsupported_video_codec_is_an_error_and_audio_flows() {
        let mut d = Demuxer::default();
        audio_config(d.push_audio(0, tag(AAC_48K_STEREO_SEQ)));
        let vp08_start = cat(&[&[0x90], b"vp08", &[0x01, 0, 0, 0, 0x00, 0x0a, 0x80]]);
        let text = unsupported(d.push_video(0, vp08_start.clone()));
        assert_eq!(
            text,
            "unsupported video codec VP8 (vp08): \
             Weir packages H.264 (avc1), HEVC (hvc1), AV1 (av01) and VP9 (vp09)"
        );
        assert!(d.video_config().is_none());
        // Every repeat says it again (the host may log once per stream).
        unsupported(d.push_video(2000, vp08_start));
        for ts in [0, 33, 66] {
            let key = if ts == 0 { 0x91 } else { 0xa1 }; // Key/Inter | CodedFrames
            let coded = cat(&[&[key], b"vp08", &[0x10, 0x02, 0x00]]);
            assert_eq!(d.push_video(ts, coded), Ok(None));
            let f = frame(d.push_audio(ts, aac_frame(&[0x21, 0x10, ts as u8])));
            assert_eq!((f.track, f.dts_ms), (TrackKind::Audio, i64::from(ts)));
        }
        let eos = cat(&[&[0x92], b"vp08"]);
        assert_eq!(d.push_video(100, eos), Ok(None));
    }

    /// Switching from AVC to an unsupported codec drops the video track: AVC
    /// frames that still arrive no longer match a configuration.
    #[test]
    fn switch_to_unsupported_codec_drops_the_old_config() {
        let mut d = configured();
        frame(d.push_video(0, tag(HIGH31_KEY_FRAME_HEAD)));
        let vvc1 = cat(&[&[0x90], b"vvc1", &[0xff, 0x00, 0x0c, 0x00]]);
        let text = unsupported(d.push_video(33, vvc1));
        assert!(text.contains("VVC (H.266) (vvc1)"), "{text}");
        assert!(d.video_config().is_none());
        assert_eq!(d.push_video(66, tag(HIGH31_INTER_FRAME_HEAD)), Ok(None));
        frame(d.push_audio(66, aac_frame(&[0x21])));
        // AVC again: still a change for consumers that packaged the old AVC
        // configuration (a new init segment and a discontinuity, FLV-SEQ-01).
        let (_, changed) = video_config(d.push_video(100, tag(HIGH31_720P_SEQ)));
        assert!(changed);
        frame(d.push_video(100, tag(HIGH31_KEY_FRAME_HEAD)));
    }

    /// An unknown audio FourCC is refused by name and video flows on.
    #[test]
    fn unsupported_audio_codec_is_an_error_and_video_flows() {
        let mut d = Demuxer::default();
        video_config(d.push_video(0, tag(HIGH31_720P_SEQ)));
        let vorbis = cat(&[&[0x90], b"vorb", &[0x01]]);
        let text = unsupported(d.push_audio(0, vorbis));
        assert!(text.contains("'vorb'"), "{text}");
        assert!(d.audio_config().is_none());
        let coded = cat(&[&[0x91], b"vorb", &[0xfc, 0xff, 0xfe]]);
        assert!(d.push_audio(0, coded).is_err());
        let f = frame(d.push_video(0, tag(HIGH31_KEY_FRAME_HEAD)));
        assert_eq!(f.track, TrackKind::Video);
    }

    /// Legacy formats Weir cannot carry are refused by name; an audio track
    /// already configured is untouched.
    #[test]
    fn refused_legacy_audio_formats_are_named() {
        let mut d = configured();
        for (body, name) in [
            (&[0x70, 0xd5][..], "G.711 A-law audio (SoundFormat 7)"),
            (&[0x80, 0xd5], "G.711 mu-law audio (SoundFormat 8)"),
            (&[0xb6, 0x00], "Speex audio (SoundFormat 11)"),
            (&[0x62, 0x00], "Nellymoser audio (SoundFormat 6)"),
            (
                &[0x3f, 0x00, 0x00],
                "Linear PCM (little endian) audio (SoundFormat 3)",
            ),
        ] {
            let text = unsupported(d.push_audio(0, Bytes::copy_from_slice(body)));
            assert_eq!(
                text,
                format!(
                    "unsupported {name} is not supported: \
                     Weir packages AAC, Opus, FLAC, AC-3, E-AC-3 and MP3"
                )
            );
        }
        assert!(matches!(d.audio_config(), Some(AudioConfig::Aac(_))));
        frame(d.push_audio(10, aac_frame(&[0x21])));
    }

    // ---- Opus, FLAC, AC-3, E-AC-3, MP3 (ffmpeg 9 tags) -------------------

    fn native(channels: u8, flags: u32) -> MultichannelConfig {
        MultichannelConfig {
            channels,
            order: ChannelOrder::Native { flags },
        }
    }

    /// ERTMP-04: ffmpeg's 5.1 Opus: SequenceStart, MultichannelConfig, frames.
    #[test]
    fn opus_51_sequence_layout_and_frames() {
        let mut d = Demuxer::default();
        let (config, changed) = audio_config(d.push_audio(0, tag(OPUS_51_SEQ)));
        assert!(!changed);
        assert_eq!(config.codec_string().as_deref(), Some("opus"));
        assert_eq!(config.channel_layout(), None);
        // The layout refines the configuration before any frame: reported
        // again, still not a change.
        let (config, changed) = audio_config(d.push_audio(0, tag(OPUS_51_MULTICHANNEL)));
        assert!(!changed);
        assert_eq!(config.channel_layout(), Some(&native(6, 0x3f)));
        let AudioConfig::Opus(opus) = &config else {
            panic!("expected Opus, got {config:?}")
        };
        assert_eq!(opus.channel_mapping, vec![0, 4, 1, 2, 3, 5]);
        // Repeats of both are no-ops and keep the layout.
        assert_eq!(d.push_audio(0, tag(OPUS_51_SEQ)), Ok(None));
        assert_eq!(d.push_audio(0, tag(OPUS_51_MULTICHANNEL)), Ok(None));
        assert_eq!(d.audio_config(), Some(&config));
        for ts in [0u32, 20, 40] {
            let f = frame(d.push_audio(ts, tag(OPUS_51_FRAME)));
            assert_eq!((f.dts_ms, f.keyframe), (i64::from(ts), true));
            assert_eq!(&f.data[..], &hex(OPUS_51_FRAME)[5..]);
            assert_eq!(config.frame_samples(&f.data), Some(960));
            assert_eq!(d.second_event(), None);
        }
        // Stereo Opus after frames: a change; its own layout then follows
        // as a change too (frames went out under the 5.1 configuration).
        let (config, changed) = audio_config(d.push_audio(60, tag(OPUS_STEREO_SEQ)));
        assert!(changed);
        assert_eq!(config.channel_layout(), None); // 2 channels: not the 5.1 layout
        frame(d.push_audio(60, tag(OPUS_STEREO_FRAME)));
        let (config, changed) = audio_config(d.push_audio(80, tag(OPUS_STEREO_MULTICHANNEL)));
        assert!(changed);
        assert_eq!(config.channel_layout(), Some(&native(2, 3)));
        // A layout for another codec or channel count is not attached.
        let flac_layout = cat(&[&[0x94], b"fLaC", &[1, 2, 0, 0, 0, 3]]);
        assert_eq!(d.push_audio(80, flac_layout), Ok(None));
        let six = cat(&[&[0x94], b"Opus", &[1, 6, 0, 0, 0, 0x3f]]);
        assert_eq!(d.push_audio(80, six), Ok(None));
    }

    #[test]
    fn flac_sequence_and_frames() {
        let mut d = Demuxer::default();
        let (config, _) = audio_config(d.push_audio(0, tag(FLAC_STEREO_SEQ)));
        assert_eq!(config.codec_string().as_deref(), Some("flac"));
        assert_eq!((config.sample_rate(), config.channels()), (48_000, 2));
        let (config, changed) = audio_config(d.push_audio(0, tag(FLAC_STEREO_MULTICHANNEL)));
        assert!(!changed);
        assert_eq!(config.channel_layout(), Some(&native(2, 3)));
        let f = frame(d.push_audio(0, tag(FLAC_STEREO_FRAME)));
        assert_eq!(config.frame_samples(&f.data), Some(1024));
        let f = frame(d.push_audio(21, tag(FLAC_STEREO_FRAME_2)));
        assert_eq!((f.dts_ms, config.frame_samples(&f.data)), (21, Some(1024)));
        assert_eq!(d.push_audio(21, tag(FLAC_STEREO_SEQ)), Ok(None));
        let (config, changed) = audio_config(d.push_audio(42, tag(FLAC_44K_24BIT_SEQ)));
        assert!(changed);
        assert_eq!(config.sample_rate(), 44_100);
    }

    /// AC-3: the sequence start is empty and the layout comes before the
    /// first frame, whose header makes the configuration; the frame itself
    /// follows as the pending event.
    #[test]
    fn ac3_config_from_the_first_frame() {
        let mut d = Demuxer::default();
        assert_eq!(d.push_audio(0, tag(AC3_SEQ)), Ok(None));
        assert_eq!(d.push_audio(0, tag(AC3_51_MULTICHANNEL)), Ok(None));
        assert!(d.audio_config().is_none());
        let (config, changed) = audio_config(d.push_audio(0, tag(AC3_51_FRAME)));
        assert!(!changed);
        assert_eq!(config.codec_string().as_deref(), Some("ac-3"));
        assert_eq!((config.sample_rate(), config.channels()), (48_000, 6));
        assert_eq!(config.channel_layout(), Some(&native(6, 0x60f)));
        let AudioConfig::Ac3(ac3) = &config else {
            panic!("expected AC-3, got {config:?}")
        };
        assert_eq!(&ac3.dac3()[..], &hex(AC3_51_MP4_DAC3)[..]);
        let f = match d.second_event() {
            Some(DemuxEvent::Frame(f)) => f,
            other => panic!("expected the pending frame, got {other:?}"),
        };
        assert_eq!((f.dts_ms, &f.data[..]), (0, &hex(AC3_51_FRAME)[5..]));
        assert_eq!(d.second_event(), None);
        // Later frames with the same header are just frames.
        let f = frame(d.push_audio(32, tag(AC3_51_FRAME)));
        assert_eq!((f.dts_ms, config.frame_samples(&f.data)), (32, Some(1536)));
        assert_eq!(d.second_event(), None);
        // A frame with another header is a new configuration (FLV-SEQ-01).
        let (config, changed) = audio_config(d.push_audio(64, tag(AC3_STEREO_FRAME)));
        assert!(changed);
        assert_eq!(config.channels(), 2);
        assert_eq!(config.channel_layout(), None);
        assert!(matches!(d.second_event(), Some(DemuxEvent::Frame(f)) if f.dts_ms == 64));
    }

    #[test]
    fn eac3_config_from_the_first_frame() {
        let mut d = Demuxer::default();
        assert_eq!(d.push_audio(0, tag(EAC3_SEQ)), Ok(None));
        let (config, _) = audio_config(d.push_audio(0, tag(EAC3_51_FRAME)));
        assert_eq!(config.codec_string().as_deref(), Some("ec-3"));
        let AudioConfig::Eac3(eac3) = &config else {
            panic!("expected E-AC-3, got {config:?}")
        };
        assert_eq!(&eac3.dec3()[..], &hex(EAC3_51_MP4_DEC3)[..]);
        // The layout arrives after the configuration and its first frame:
        // attached and reported as a change.
        let layout = cat(&[&[0x94], b"ec-3", &[1, 6, 0, 0, 0x06, 0x0f]]);
        let (config, changed) = audio_config(d.push_audio(0, layout));
        assert!(changed);
        assert_eq!(config.channel_layout(), Some(&native(6, 0x60f)));
        // The layout of another codec is remembered for it, not attached.
        assert_eq!(d.push_audio(0, tag(AC3_51_MULTICHANNEL)), Ok(None));
        let f = frame(d.push_audio(32, tag(EAC3_51_FRAME)));
        assert_eq!(d.audio_config().unwrap().frame_samples(&f.data), Some(1536));
    }

    /// Legacy MP3 (SoundFormat 2): the first frame gives the configuration,
    /// frames with another bit rate or padding are no change, another
    /// sample rate or channel count is.
    #[test]
    fn legacy_mp3_config_then_frames() {
        let mut d = configured();
        // AAC → MP3: a change.
        let (config, changed) = audio_config(d.push_audio(0, tag(MP3_44K_MONO_FRAME)));
        assert!(changed);
        assert!(matches!(config, AudioConfig::Mp3(_)));
        assert_eq!(config.codec_string().as_deref(), Some("mp4a.6B"));
        assert!(matches!(d.second_event(), Some(DemuxEvent::Frame(f)) if f.data.len() == 23));
        let f = frame(d.push_audio(26, tag(MP3_44K_MONO_FRAME_2)));
        assert_eq!((f.dts_ms, config.frame_samples(&f.data)), (26, Some(1152)));
        let (config, changed) = audio_config(d.push_audio(52, tag(MP3_22K_MONO_FRAME)));
        assert!(changed);
        assert_eq!(config.codec_string().as_deref(), Some("mp4a.69"));
        // A pending frame the host does not take is dropped by the next push.
        let f = frame(d.push_audio(78, tag(MP3_22K_MONO_FRAME)));
        assert_eq!(f.dts_ms, 78);
        let (_, changed) = audio_config(d.push_audio(104, tag(MP3_48K_STEREO_FRAME)));
        assert!(changed);
        let f = frame(d.push_audio(128, tag(MP3_48K_STEREO_FRAME)));
        assert_eq!(f.dts_ms, 128);
        assert_eq!(d.second_event(), None);
        // E-RTMP .mp3 with the same header: the same configuration.
        let ex = cat(&[&[0x91], b".mp3", &hex(MP3_48K_STEREO_FRAME)[1..]]);
        frame(d.push_audio(152, ex));
    }

    /// 5.1 AAC: legacy sequence header, then an E-RTMP `mp4a` layout.
    #[test]
    fn aac_51_layout() {
        let mut d = Demuxer::default();
        let (config, _) = audio_config(d.push_audio(0, tag(AAC_51_SEQ)));
        assert_eq!(config.channels(), 6);
        let (config, changed) = audio_config(d.push_audio(0, tag(AAC_51_MULTICHANNEL)));
        assert!(!changed);
        assert_eq!(config.channel_layout(), Some(&native(6, 0x3f)));
        assert_eq!(config.frame_samples(&[]), Some(1024));
        assert_eq!(d.push_audio(0, tag(AAC_51_SEQ)), Ok(None));
    }

    /// A malformed tag is rejected alone; the stream goes on.
    #[test]
    fn malformed_tags_do_not_disturb_state() {
        let mut d = configured();
        frame(d.push_video(0, tag(HIGH31_KEY_FRAME_HEAD)));
        for bad in ["", "17", "1701", "170100", "1703000000", "f7", "1700000000"] {
            assert!(d.push_video(33, tag(bad)).is_err(), "{bad:?}");
        }
        for bad in ["af", "af05", "af0012", "5f01"] {
            assert!(d.push_audio(33, tag(bad)).is_err(), "{bad:?}");
        }
        assert!(d.video_config().is_some() && d.audio_config().is_some());
        let f = frame(d.push_video(33, tag(HIGH31_INTER_FRAME_HEAD)));
        assert_eq!((f.dts_ms, f.discontinuity), (33, false));
        // The empty audio message (legacy silence) is ignored, not an error.
        assert_eq!(d.push_audio(40, Bytes::new()), Ok(None));
    }

    #[test]
    fn end_of_sequence_only_for_a_configured_track() {
        let mut d = Demuxer::default();
        assert_eq!(d.push_video(0, tag(AVC_END_OF_SEQUENCE)), Ok(None));
        video_config(d.push_video(0, tag(HIGH31_720P_SEQ)));
        assert_eq!(
            d.push_video(4000, tag(AVC_END_OF_SEQUENCE)),
            Ok(Some(DemuxEvent::EndOfSequence(TrackKind::Video)))
        );
        // The configuration survives the end of sequence.
        assert!(d.video_config().is_some());
    }

    /// Reconnect within the grace window: configurations are kept (identical
    /// sequence headers stay no-ops), timestamps restarting at 0 continue
    /// after the last output, and the first frame of each track is marked.
    #[test]
    fn reconnect_keeps_configs_and_marks_next_frames_discontinuous() {
        let mut d = configured();
        let mut last_video = 0;
        for i in 0..30u32 {
            last_video = frame(d.push_video(i * 33, tag(HIGH31_INTER_FRAME_HEAD))).dts_ms;
        }
        let last_audio = frame(d.push_audio(980, aac_frame(&[0x21]))).dts_ms;
        assert_eq!((last_video, last_audio), (957, 980));

        d.reconnect();
        assert_eq!(d.push_video(0, tag(HIGH31_720P_SEQ)), Ok(None));
        assert_eq!(d.push_audio(0, tag(AAC_48K_STEREO_SEQ)), Ok(None));
        let v = frame(d.push_video(0, tag(HIGH31_KEY_FRAME_HEAD)));
        assert!(v.discontinuity && v.keyframe);
        assert!(v.dts_ms > last_video, "{} after {last_video}", v.dts_ms);
        assert_eq!(v.pts_ms, v.dts_ms + 67);
        let a = frame(d.push_audio(0, aac_frame(&[0x21])));
        assert!(a.discontinuity);
        assert!(a.dts_ms > last_audio, "{} after {last_audio}", a.dts_ms);
        // Then back to normal steps, without further discontinuities.
        let v2 = frame(d.push_video(33, tag(HIGH31_INTER_FRAME_HEAD)));
        assert_eq!((v2.dts_ms - v.dts_ms, v2.discontinuity), (33, false));
        let a2 = frame(d.push_audio(21, aac_frame(&[0x21])));
        assert_eq!((a2.dts_ms - a.dts_ms, a2.discontinuity), (21, false));

        // A different configuration after the reconnect is a change.
        let (_, changed) = video_config(d.push_video(66, tag(BASE30_360P_SEQ)));
        assert!(changed);
    }

    /// A track that had no output before the reconnect is not marked.
    #[test]
    fn reconnect_before_any_frame_marks_nothing() {
        let mut d = configured();
        d.reconnect();
        let f = frame(d.push_video(500, tag(HIGH31_KEY_FRAME_HEAD)));
        assert_eq!((f.dts_ms, f.discontinuity), (500, false));
    }
}
