//! One stream's FLV tags → decoder configurations and timed frames.
//!
//! The stateful step between RTMP messages and the packager: it keeps the
//! current decoder configuration of each track (identical repeats are no-ops,
//! a real change is reported, FLV-SEQ-01), maps wire timestamps onto the
//! 64-bit timeline ([`Timeline`], RTMP-TS-04) and computes PTS = DTS +
//! composition offset (RTMP-TS-05).

use bytes::Bytes;

use crate::audio::{parse_audio, AudioPacket};
use crate::codec::{fourcc_to_string, AudioConfig, VideoConfig};
use crate::error::FlvError;
use crate::timeline::{Timeline, TimelineConfig, Track};
use crate::video::{parse_video, VideoPacket};
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
    /// Length-prefixed NAL units (AVC) or one raw AAC frame.
    pub data: Bytes,
}

/// What one tag turned into.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DemuxEvent {
    /// A decoder configuration that differs from the previous one of the track
    /// (or the first). `changed` is true when it replaces an earlier one.
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

/// Per-stream demuxer. Feed it every audio/video message body in arrival order.
#[derive(Debug)]
pub struct Demuxer {
    timeline: Timeline,
    video: Option<VideoConfig>,
    audio: Option<AudioConfig>,
}

impl Demuxer {
    pub fn new(config: TimelineConfig) -> Self {
        Demuxer {
            timeline: Timeline::new(config),
            video: None,
            audio: None,
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
    pub fn push_video(
        &mut self,
        wire_ts: u32,
        payload: Bytes,
    ) -> Result<Option<DemuxEvent>, FlvError> {
        let tag = parse_video(payload)?;
        match tag.packet {
            VideoPacket::SequenceStart(config) => {
                if self.video.as_ref().map(VideoConfig::record) == Some(config.record()) {
                    return Ok(None);
                }
                if let VideoConfig::Unsupported { fourcc, .. } = &config {
                    self.video = None;
                    return Err(FlvError::Unsupported {
                        what: format!(
                            "video codec {} is recognised but not packaged yet; the video track is dropped",
                            fourcc_to_string(fourcc)
                        ),
                    });
                }
                let changed = self.video.is_some();
                self.video = Some(config.clone());
                Ok(Some(DemuxEvent::VideoConfig { config, changed }))
            }
            VideoPacket::Coded {
                composition_offset_ms,
                data,
            } => {
                if self.video.is_none() {
                    return Ok(None);
                }
                let mapped = self.timeline.map(Track::Video, wire_ts);
                Ok(Some(DemuxEvent::Frame(Frame {
                    track: TrackKind::Video,
                    dts_ms: mapped.dts_ms,
                    pts_ms: mapped
                        .dts_ms
                        .saturating_add(i64::from(composition_offset_ms)),
                    keyframe: tag.frame_type.is_key(),
                    discontinuity: mapped.discontinuity,
                    data,
                })))
            }
            VideoPacket::SequenceEnd => Ok(self
                .video
                .is_some()
                .then_some(DemuxEvent::EndOfSequence(TrackKind::Video))),
            VideoPacket::Ignored { .. } => Ok(None),
        }
    }

    /// An audio message body; see [`push_video`](Self::push_video).
    pub fn push_audio(
        &mut self,
        wire_ts: u32,
        payload: Bytes,
    ) -> Result<Option<DemuxEvent>, FlvError> {
        let tag = parse_audio(payload)?;
        match tag.packet {
            AudioPacket::SequenceStart(config) => {
                if self.audio.as_ref().map(AudioConfig::record) == Some(config.record()) {
                    return Ok(None);
                }
                if let AudioConfig::Unsupported { codec, .. } = &config {
                    self.audio = None;
                    return Err(FlvError::Unsupported {
                        what: format!(
                            "audio codec {codec} is recognised but not packaged yet; the audio track is dropped"
                        ),
                    });
                }
                let changed = self.audio.is_some();
                self.audio = Some(config.clone());
                Ok(Some(DemuxEvent::AudioConfig { config, changed }))
            }
            AudioPacket::Coded { data } => {
                if self.audio.is_none() {
                    return Ok(None);
                }
                let mapped = self.timeline.map(Track::Audio, wire_ts);
                Ok(Some(DemuxEvent::Frame(Frame {
                    track: TrackKind::Audio,
                    dts_ms: mapped.dts_ms,
                    pts_ms: mapped.dts_ms,
                    keyframe: true,
                    discontinuity: mapped.discontinuity,
                    data,
                })))
            }
            AudioPacket::SequenceEnd => Ok(self
                .audio
                .is_some()
                .then_some(DemuxEvent::EndOfSequence(TrackKind::Audio))),
            AudioPacket::Ignored { .. } => Ok(None),
        }
    }
}

impl Default for Demuxer {
    fn default() -> Self {
        Self::new(TimelineConfig::default())
    }
}
