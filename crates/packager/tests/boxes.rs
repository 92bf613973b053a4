//! Box writer tests: golden bytes for small boxes, and every init segment and
//! chunk we write decoded back with `mp4-atom` (feature `strict`, so an
//! unknown or malformed child box is an error).

mod boxes_support;

use boxes_support::{find_box, fixture, video_durations};
use bytes::Bytes;
use mp4_atom::{Codec, Colr, Decode, Ftyp, Mdat, Moof, Moov, StszSamples, Styp, TrunEntry};
use weir_flv::{parse_asc, AacConfig};
use weir_packager::boxes::brands::{FTYP_COMPATIBLE, STYP_COMPATIBLE};
use weir_packager::boxes::fragment::{write_mfhd, write_styp, write_tfdt};
use weir_packager::boxes::init::write_ftyp;
use weir_packager::boxes::{
    audio_frame_ticks, audio_init, audio_timescale, video_init, write_fragment, BoxError,
    BoxWriter, ChunkHeader, FragmentSpec, SampleInfo, SyncSamples, NON_SYNC_SAMPLE_FLAGS,
    SYNC_SAMPLE_FLAGS, VIDEO_TIMESCALE,
};

/// Hex digits to bytes; whitespace is ignored and `#` starts a comment.
fn hex(s: &str) -> Vec<u8> {
    let digits: Vec<u8> = s
        .lines()
        .flat_map(|line| line.split('#').next().unwrap_or("").bytes())
        .filter(u8::is_ascii_hexdigit)
        .map(|c| (c as char).to_digit(16).unwrap() as u8)
        .collect();
    digits.chunks(2).map(|p| p[0] << 4 | p[1]).collect()
}

fn written(f: impl FnOnce(&mut BoxWriter) -> Result<(), BoxError>) -> Bytes {
    let mut w = BoxWriter::new();
    f(&mut w).unwrap();
    w.finish()
}

// ---------------------------------------------------------------- golden bytes

#[test]
fn golden_ftyp() {
    let expected = hex("
        00000018 66747970  # size 24, 'ftyp'
        69736f36           # major_brand 'iso6'
        00000000           # minor_version 0
        69736f36 636d6663  # compatible 'iso6' 'cmfc'
    ");
    assert_eq!(&written(write_ftyp)[..], &expected[..]);
}

#[test]
fn golden_styp() {
    let expected = hex("
        0000001c 73747970           # size 28, 'styp'
        6d736468                    # major_brand 'msdh'
        00000000                    # minor_version 0
        6d736468 636d6673 636d6666  # compatible 'msdh' 'cmfs' 'cmff'
    ");
    assert_eq!(&written(write_styp)[..], &expected[..]);
}

#[test]
fn golden_mfhd() {
    let expected = hex("
        00000010 6d666864  # size 16, 'mfhd'
        00 000000          # version 0, flags 0
        0000002a           # sequence_number 42
    ");
    assert_eq!(&written(|w| write_mfhd(w, 42))[..], &expected[..]);
}

/// MP4-SEG-03 / pitfall 29: 50 000 s at 90 kHz = 4 500 000 000 > 2^32
/// needs the 64-bit field of version 1.
#[test]
fn golden_tfdt_v1_above_2_pow_32() {
    let expected = hex("
        00000014 74666474   # size 20, 'tfdt'
        01 000000           # version 1, flags 0
        00000001 0c388d00   # baseMediaDecodeTime 4 500 000 000
    ");
    let tfdt = written(|w| write_tfdt(w, 50_000 * 90_000));
    assert_eq!(&tfdt[..], &expected[..]);
}

/// A whole chunk: keyframe + non-sync frame with a negative composition
/// offset (pitfall 18: v0 would read −3000 as 4 294 964 296).
#[test]
fn golden_chunk_trun_v1_negative_offset() {
    let samples = [
        SampleInfo {
            duration: 3000,
            size: 4,
            is_sync: true,
            composition_offset: 3000,
        },
        SampleInfo {
            duration: 3000,
            size: 2,
            is_sync: false,
            composition_offset: -3000,
        },
    ];
    let data = [
        Bytes::from_static(&[0, 1, 2, 3]),
        Bytes::from_static(&[0xaa, 0xbb]),
    ];
    let chunk = write_fragment(&FragmentSpec {
        sequence_number: 7,
        track_id: 1,
        base_media_decode_time: 90_000,
        samples: &samples,
        data: &data,
        header: ChunkHeader::None,
        sync: SyncSamples::Flagged,
    })
    .unwrap();
    let expected = hex("
        00000074 6d6f6f66          # moof, 116 bytes
          00000010 6d666864        # mfhd
            00000000 00000007      #   v0, sequence_number 7
          0000005c 74726166        # traf, 92 bytes
            00000018 74666864      # tfhd, 24 bytes
              00 020028            #   v0, default-base-is-moof | default duration | default flags
              00000001             #   track_ID 1
              00000bb8             #   default_sample_duration 3000
              01010000             #   default_sample_flags: non-sync
            00000014 74666474      # tfdt, 20 bytes
              01000000             #   v1
              00000000 00015f90    #   baseMediaDecodeTime 90 000
            00000028 7472756e      # trun, 40 bytes
              01 000a05            #   v1, data_offset | first_sample_flags | size | CTO
              00000002             #   sample_count 2
              0000007c             #   data_offset 124 = moof 116 + mdat header 8
              02000000             #   first_sample_flags: sync
              00000004 00000bb8    #   sample 0: size 4, CTO +3000
              00000002 fffff448    #   sample 1: size 2, CTO -3000
        0000000e 6d646174          # mdat, 14 bytes
          00010203 aabb
    ");
    assert_eq!(&chunk[..], &expected[..]);
}

// ------------------------------------------------------------ init segments

fn decode_init(init: &[u8]) -> (Ftyp, Moov) {
    let mut buf = init;
    let ftyp = Ftyp::decode(&mut buf).expect("ftyp");
    let moov = Moov::decode(&mut buf).expect("moov");
    assert!(buf.is_empty(), "init is exactly ftyp + moov");
    (ftyp, moov)
}

/// MP4-INIT-01/02: brands, durations 0, one trak, mvex/trex, empty tables.
fn assert_common_init(ftyp: &Ftyp, moov: &Moov, track_id: u32, timescale: u32) {
    assert_eq!(ftyp.major_brand, b"iso6".into());
    assert_eq!(ftyp.minor_version, 0);
    let compatible: Vec<[u8; 4]> = ftyp.compatible_brands.iter().map(|&b| b.into()).collect();
    assert_eq!(compatible, FTYP_COMPATIBLE.to_vec());
    assert!(compatible.contains(b"iso6") && compatible.contains(b"cmfc"));

    assert_eq!(moov.mvhd.timescale, 1000);
    assert_eq!(moov.mvhd.duration, 0);
    assert_eq!(moov.mvhd.next_track_id, track_id + 1);
    assert_eq!(
        moov.trak.len(),
        1,
        "one track per init segment (MP4-INIT-04)"
    );
    let trak = &moov.trak[0];
    assert_eq!(trak.tkhd.track_id, track_id);
    assert_eq!(trak.tkhd.duration, 0);
    assert!(trak.tkhd.enabled && trak.tkhd.in_movie);
    assert!(trak.edts.is_none(), "no edit list (MP4-SEG-09)");
    let mdia = &trak.mdia;
    assert_eq!(mdia.mdhd.timescale, timescale);
    assert_eq!(mdia.mdhd.duration, 0);
    assert_eq!(mdia.mdhd.language, "und");
    assert_eq!(mdia.minf.dinf.dref.entries.len(), 1);
    let stbl = &mdia.minf.stbl;
    assert_eq!(stbl.stsd.codecs.len(), 1);
    assert!(stbl.stts.entries.is_empty());
    assert!(stbl.stsc.entries.is_empty());
    assert!(matches!(&stbl.stsz.samples, StszSamples::Different { sizes } if sizes.is_empty()));
    assert!(stbl.stco.as_ref().is_some_and(|s| s.entries.is_empty()));
    assert!(stbl.co64.is_none() && stbl.ctts.is_none() && stbl.stss.is_none());

    let mvex = moov.mvex.as_ref().expect("mvex");
    assert_eq!(mvex.trex.len(), 1);
    assert_eq!(mvex.trex[0].track_id, track_id);
    assert_eq!(mvex.trex[0].default_sample_description_index, 1);
}

#[test]
fn video_init_decodes_with_mp4_atom() {
    let fx = fixture();
    let init = video_init(1, &fx.avc).unwrap();
    let (ftyp, moov) = decode_init(&init);
    assert_common_init(&ftyp, &moov, 1, VIDEO_TIMESCALE);
    let trak = &moov.trak[0];
    assert_eq!(trak.mdia.hdlr.handler, b"vide".into());
    assert!(trak.mdia.minf.vmhd.is_some() && trak.mdia.minf.smhd.is_none());
    assert_eq!(
        (trak.tkhd.width.integer(), trak.tkhd.width.decimal()),
        (320, 0)
    );
    assert_eq!(trak.tkhd.height.integer(), 240);
    assert_eq!(trak.tkhd.volume.integer(), 0);

    let Codec::Avc1(avc1) = &trak.mdia.minf.stbl.stsd.codecs[0] else {
        panic!("not avc1: {:?}", trak.mdia.minf.stbl.stsd.codecs[0]);
    };
    assert_eq!((avc1.visual.width, avc1.visual.height), (320, 240));
    assert_eq!(avc1.visual.data_reference_index, 1);
    assert_eq!(avc1.avcc.avc_profile_indication, fx.avc.profile_indication);
    assert_eq!(avc1.avcc.avc_level_indication, fx.avc.level_indication);
    assert_eq!(avc1.avcc.length_size, fx.avc.nal_length_size);
    assert_eq!(
        avc1.avcc.sequence_parameter_sets,
        vec![fx.avc.sps[0].to_vec()]
    );
    assert_eq!(
        avc1.avcc.picture_parameter_sets,
        vec![fx.avc.pps[0].to_vec()]
    );
    // The fixture asks for BT.709 (1/1/1), limited range.
    assert_eq!(
        avc1.colr,
        Some(Colr::Nclx {
            colour_primaries: 1,
            transfer_characteristics: 1,
            matrix_coefficients: 1,
            full_range_flag: false,
        })
    );
    let pasp = avc1.pasp.as_ref().expect("pasp");
    assert_eq!((pasp.h_spacing, pasp.v_spacing), (1, 1));
    assert!(avc1.btrt.is_none());

    // The avcC box body is the input record, byte for byte.
    let (_, avcc) = find_box(
        &init,
        &[
            b"moov", b"trak", b"mdia", b"minf", b"stbl", b"stsd", b"avc1", b"avcC",
        ],
    );
    assert_eq!(&avcc[8..], &fx.avc.record[..]);
}

/// A non-square SAR scales the tkhd width and goes into pasp; without a VUI
/// colour description there is no colr.
#[test]
fn video_init_with_sar_and_no_colour() {
    let mut avc = fixture().avc;
    avc.sps_info.sar = Some((4, 3));
    avc.sps_info.colour = None;
    let init = video_init(3, &avc).unwrap();
    let (ftyp, moov) = decode_init(&init);
    assert_common_init(&ftyp, &moov, 3, VIDEO_TIMESCALE);
    let tkhd = &moov.trak[0].tkhd;
    // 320 × 4/3 = 426.666… → 426 + 43690/65536.
    assert_eq!((tkhd.width.integer(), tkhd.width.decimal()), (426, 43690));
    assert_eq!(tkhd.height.integer(), 240);
    let Codec::Avc1(avc1) = &moov.trak[0].mdia.minf.stbl.stsd.codecs[0] else {
        panic!("not avc1");
    };
    assert_eq!((avc1.visual.width, avc1.visual.height), (320, 240));
    let pasp = avc1.pasp.as_ref().expect("pasp");
    assert_eq!((pasp.h_spacing, pasp.v_spacing), (4, 3));
    assert!(avc1.colr.is_none());
}

/// The ASC's bits, MSB first, padded with zeros to whole bytes.
fn asc(bits: &str) -> AacConfig {
    let bits: Vec<u8> = bits.bytes().filter(|b| *b == b'0' || *b == b'1').collect();
    let bytes: Vec<u8> = bits
        .chunks(8)
        .map(|c| {
            c.iter()
                .chain(std::iter::repeat(&b'0'))
                .take(8)
                .fold(0u8, |acc, b| acc << 1 | (b - b'0'))
        })
        .collect();
    parse_asc(Bytes::from(bytes)).unwrap()
}

fn decode_mp4a(init: &[u8]) -> (Moov, mp4_atom::Mp4a) {
    let (ftyp, moov) = decode_init(init);
    let timescale = moov.trak[0].mdia.mdhd.timescale;
    assert_common_init(&ftyp, &moov, 2, timescale);
    let trak = &moov.trak[0];
    assert_eq!(trak.mdia.hdlr.handler, b"soun".into());
    assert!(trak.mdia.minf.smhd.is_some() && trak.mdia.minf.vmhd.is_none());
    assert_eq!(trak.tkhd.volume.integer(), 1);
    assert_eq!(trak.tkhd.width.integer(), 0);
    let Codec::Mp4a(mp4a) = &trak.mdia.minf.stbl.stsd.codecs[0] else {
        panic!("not mp4a");
    };
    let mp4a = mp4a.clone();
    (moov, mp4a)
}

fn assert_esds(mp4a: &mp4_atom::Mp4a, aac: &AacConfig) {
    let es = &mp4a.esds.es_desc;
    assert_eq!(es.dec_config.object_type_indication, 0x40);
    assert_eq!(es.dec_config.stream_type, 5);
    let dsi = es
        .dec_config
        .dec_specific
        .as_ref()
        .expect("DecoderSpecificInfo");
    assert_eq!(dsi.raw, aac.record.to_vec(), "ASC verbatim");
}

#[test]
fn audio_init_decodes_with_mp4_atom() {
    let fx = fixture();
    let init = audio_init(2, &fx.aac).unwrap();
    let (moov, mp4a) = decode_mp4a(&init);
    assert_eq!(moov.trak[0].mdia.mdhd.timescale, 48_000);
    assert_eq!(mp4a.audio.channel_count, 2);
    assert_eq!(mp4a.audio.sample_size, 16);
    assert_eq!(mp4a.audio.sample_rate.integer(), 48_000);
    assert_eq!(mp4a.audio.data_reference_index, 1);
    assert_esds(&mp4a, &fx.aac);
    assert_eq!(audio_timescale(&fx.aac), 48_000);
    assert_eq!(audio_frame_ticks(&fx.aac), 1024);
}

/// HE-AAC, explicit hierarchical signalling: AOT 5, core 24 kHz, SBR 48 kHz.
/// Timescale = output rate, 2048 ticks per frame (MP4-SEG-11).
#[test]
fn audio_init_he_aac_uses_the_output_rate() {
    let aac = asc("00101 0110 0010 0011 00010 000"); // AOT 5, 24k, stereo, 48k, AOT 2, GASC
    assert_eq!((aac.object_type, aac.sample_rate), (5, 48_000));
    assert_eq!(audio_timescale(&aac), 48_000);
    assert_eq!(audio_frame_ticks(&aac), 2048);
    let (moov, mp4a) = decode_mp4a(&audio_init(2, &aac).unwrap());
    assert_eq!(moov.trak[0].mdia.mdhd.timescale, 48_000);
    assert_eq!(mp4a.audio.sample_rate.integer(), 48_000);
    assert_eq!(mp4a.audio.channel_count, 2);
    assert_esds(&mp4a, &aac);
}

/// HE-AACv2: mono core, parametric stereo → channelcount 2.
#[test]
fn audio_init_he_aac_v2_has_two_channels() {
    let aac = asc("11101 0110 0001 0011 00010 000"); // AOT 29, 24k, mono, 48k, AOT 2
    assert_eq!((aac.object_type, aac.channels), (29, 2));
    let (_, mp4a) = decode_mp4a(&audio_init(2, &aac).unwrap());
    assert_eq!(mp4a.audio.channel_count, 2);
    assert_esds(&mp4a, &aac);
}

/// 96 kHz does not fit the 16-bit samplerate field: it is halved there,
/// while mdhd keeps the true rate.
#[test]
fn audio_init_96k_halves_the_sample_entry_rate() {
    let aac = asc("00010 0000 0010 000"); // AOT 2, 96 kHz, stereo
    assert_eq!(aac.sample_rate, 96_000);
    let (moov, mp4a) = decode_mp4a(&audio_init(2, &aac).unwrap());
    assert_eq!(moov.trak[0].mdia.mdhd.timescale, 96_000);
    assert_eq!(mp4a.audio.sample_rate.integer(), 48_000);
}

#[test]
fn init_rejects_track_id_zero() {
    let fx = fixture();
    assert_eq!(video_init(0, &fx.avc), Err(BoxError::InvalidTrackId));
    assert_eq!(audio_init(0, &fx.aac), Err(BoxError::InvalidTrackId));
}

// ------------------------------------------------------------------- chunks

struct DecodedChunk {
    styp: Option<Styp>,
    moof: Moof,
    mdat: Mdat,
    /// Offset of `moof` in the chunk.
    moof_at: usize,
}

fn decode_chunk(chunk: &[u8]) -> DecodedChunk {
    let mut buf = chunk;
    let styp = if &chunk[4..8] == b"styp" {
        Some(Styp::decode(&mut buf).expect("styp"))
    } else {
        None
    };
    let moof_at = chunk.len() - buf.len();
    let moof = Moof::decode(&mut buf).expect("moof");
    let mdat = Mdat::decode(&mut buf).expect("mdat");
    assert!(buf.is_empty(), "chunk is [styp] moof mdat");
    DecodedChunk {
        styp,
        moof,
        mdat,
        moof_at,
    }
}

/// Resolves trun entries against tfhd defaults, as a player does.
fn resolved_samples(moof: &Moof) -> Vec<TrunEntry> {
    let traf = &moof.traf[0];
    traf.trun[0]
        .samples
        .iter()
        .map(|e| TrunEntry {
            duration: e.duration.or(traf.tfhd.default_sample_duration),
            size: e.size.or(traf.tfhd.default_sample_size),
            flags: e.flags.or(traf.tfhd.default_sample_flags),
            cts: Some(e.cts.unwrap_or(0)),
        })
        .collect()
}

/// MP4-SEG-01/02/03/08 on a decoded chunk: one traf/trun, base-is-moof with
/// no base offset, tfdt and trun version 1, data_offset at the first
/// payload byte.
fn assert_chunk_structure(chunk: &[u8], d: &DecodedChunk, spec: &FragmentSpec) {
    assert_eq!(d.moof.mfhd.sequence_number, spec.sequence_number);
    assert_eq!(d.moof.traf.len(), 1);
    let traf = &d.moof.traf[0];
    assert_eq!(traf.tfhd.track_id, spec.track_id);
    assert!(traf.tfhd.default_base_is_moof);
    assert_eq!(traf.tfhd.base_data_offset, None);
    assert_eq!(traf.tfhd.sample_description_index, None);
    assert_eq!(
        traf.tfdt.as_ref().expect("tfdt").base_media_decode_time,
        spec.base_media_decode_time
    );
    assert_eq!(traf.trun.len(), 1);

    let moof_raw = &chunk[d.moof_at..];
    let (_, tfdt) = find_box(moof_raw, &[b"moof", b"traf", b"tfdt"]);
    assert_eq!(tfdt[8], 1, "tfdt version 1");
    let (_, trun) = find_box(moof_raw, &[b"moof", b"traf", b"trun"]);
    assert_eq!(trun[8], 1, "trun version 1");

    let moof_size = u32::from_be_bytes(moof_raw[..4].try_into().unwrap()) as usize;
    let data_offset = traf.trun[0].data_offset.expect("data_offset") as usize;
    assert_eq!(data_offset, moof_size + 8);
    let first = &spec.data[0];
    assert_eq!(
        &chunk[d.moof_at + data_offset..][..first.len()],
        &first[..],
        "data_offset points at sample 0"
    );
    let payload: Vec<u8> = spec.data.iter().flat_map(|b| b.iter().copied()).collect();
    assert_eq!(d.mdat.data, payload);

    let expected: Vec<TrunEntry> = spec
        .samples
        .iter()
        .map(|s| TrunEntry {
            duration: Some(s.duration),
            size: Some(s.size),
            flags: Some(if spec.sync == SyncSamples::All || s.is_sync {
                SYNC_SAMPLE_FLAGS
            } else {
                NON_SYNC_SAMPLE_FLAGS
            }),
            cts: Some(i64::from(s.composition_offset)),
        })
        .collect();
    assert_eq!(resolved_samples(&d.moof), expected);
}

/// Fixture video frames → samples at 90 kHz.
fn video_samples(fx: &boxes_support::Fixture) -> Vec<SampleInfo> {
    fx.video
        .iter()
        .zip(video_durations(&fx.video))
        .map(|(f, duration)| SampleInfo {
            duration,
            size: f.data.len() as u32,
            is_sync: f.key,
            composition_offset: f.composition_offset_ms * 90,
        })
        .collect()
}

#[test]
fn video_chunks_from_the_fixture_decode_with_mp4_atom() {
    let fx = fixture();
    let samples = video_samples(&fx);
    let data: Vec<Bytes> = fx.video.iter().map(|f| f.data.clone()).collect();
    let keys: Vec<usize> = (0..samples.len()).filter(|&i| samples[i].is_sync).collect();
    assert_eq!(keys, vec![0, 30], "fixture GOPs");
    assert!(samples.iter().any(|s| s.composition_offset > 0), "B-frames");

    let mut tfdt = 0u64;
    for (sequence_number, range) in [(1, 0..30), (2, 30..samples.len())] {
        let spec = FragmentSpec {
            sequence_number,
            track_id: 1,
            base_media_decode_time: tfdt,
            samples: &samples[range.clone()],
            data: &data[range],
            header: ChunkHeader::SegmentType,
            sync: SyncSamples::Flagged,
        };
        let chunk = write_fragment(&spec).unwrap();
        let d = decode_chunk(&chunk);
        let styp = d.styp.as_ref().expect("styp");
        assert_eq!(styp.major_brand, b"msdh".into());
        let brands: Vec<[u8; 4]> = styp.compatible_brands.iter().map(|&b| b.into()).collect();
        assert_eq!(brands, STYP_COMPATIBLE.to_vec());
        assert_chunk_structure(&chunk, &d, &spec);
        // Keyframe first, then non-sync frames: first_sample_flags + default.
        let traf = &d.moof.traf[0];
        assert_eq!(traf.tfhd.default_sample_flags, Some(NON_SYNC_SAMPLE_FLAGS));
        assert!(matches!(
            traf.trun[0].samples.get(0),
            Some(TrunEntry {
                flags: Some(SYNC_SAMPLE_FLAGS),
                ..
            })
        ));
        // MP4-SEG-04: the next tfdt is this one plus the durations, exactly.
        tfdt += spec
            .samples
            .iter()
            .map(|s| u64::from(s.duration))
            .sum::<u64>();
    }
    let total: u64 = samples.iter().map(|s| u64::from(s.duration)).sum();
    assert_eq!(tfdt, total);
}

#[test]
fn audio_chunks_from_the_fixture_decode_with_mp4_atom() {
    let fx = fixture();
    let ticks = audio_frame_ticks(&fx.aac);
    let samples: Vec<SampleInfo> = fx
        .audio
        .iter()
        .map(|f| SampleInfo {
            duration: ticks,
            size: f.data.len() as u32,
            is_sync: false, // ignored for audio
            composition_offset: 0,
        })
        .collect();
    let data: Vec<Bytes> = fx.audio.iter().map(|f| f.data.clone()).collect();
    let spec = FragmentSpec {
        sequence_number: 1,
        track_id: 2,
        base_media_decode_time: 0,
        samples: &samples,
        data: &data,
        header: ChunkHeader::None,
        sync: SyncSamples::All,
    };
    let chunk = write_fragment(&spec).unwrap();
    let d = decode_chunk(&chunk);
    assert!(d.styp.is_none());
    assert_chunk_structure(&chunk, &d, &spec);
    let tfhd = &d.moof.traf[0].tfhd;
    assert_eq!(tfhd.default_sample_duration, Some(1024));
    assert_eq!(tfhd.default_sample_flags, Some(SYNC_SAMPLE_FLAGS));
    let trun = &d.moof.traf[0].trun[0];
    assert!(trun
        .samples
        .iter()
        .all(|e| e.duration.is_none() && e.flags.is_none() && e.cts.is_none() && e.size.is_some()));
}

/// One sample: every field is a tfhd default, trun holds only the count
/// and the data offset.
#[test]
fn single_sample_chunk_is_all_defaults() {
    let samples = [SampleInfo {
        duration: 1024,
        size: 3,
        is_sync: true,
        composition_offset: 0,
    }];
    let data = [Bytes::from_static(b"\x21\x10\x05")];
    let spec = FragmentSpec {
        sequence_number: u32::MAX,
        track_id: 9,
        base_media_decode_time: u64::MAX - 1024,
        samples: &samples,
        data: &data,
        header: ChunkHeader::None,
        sync: SyncSamples::All,
    };
    let chunk = write_fragment(&spec).unwrap();
    let d = decode_chunk(&chunk);
    assert_chunk_structure(&chunk, &d, &spec);
    let tfhd = &d.moof.traf[0].tfhd;
    assert_eq!(
        (
            tfhd.default_sample_duration,
            tfhd.default_sample_size,
            tfhd.default_sample_flags
        ),
        (Some(1024), Some(3), Some(SYNC_SAMPLE_FLAGS))
    );
    assert!(matches!(
        d.moof.traf[0].trun[0].samples,
        mp4_atom::TrunSamples::Inherited {
            count: 1,
            first_flags: None
        }
    ));
}

/// Two keyframes in one chunk: flags go per sample.
#[test]
fn chunk_with_two_sync_samples_has_per_sample_flags() {
    let samples: Vec<SampleInfo> = [true, false, true, false]
        .into_iter()
        .map(|is_sync| SampleInfo {
            duration: 3000,
            size: 5,
            is_sync,
            composition_offset: 0,
        })
        .collect();
    let data = vec![Bytes::from_static(b"\0\0\0\x01\x65"); 4];
    let spec = FragmentSpec {
        sequence_number: 3,
        track_id: 1,
        base_media_decode_time: 1 << 40,
        samples: &samples,
        data: &data,
        header: ChunkHeader::None,
        sync: SyncSamples::Flagged,
    };
    let chunk = write_fragment(&spec).unwrap();
    let d = decode_chunk(&chunk);
    assert_chunk_structure(&chunk, &d, &spec);
    assert_eq!(d.moof.traf[0].tfhd.default_sample_flags, None);
}

#[test]
fn fragment_errors() {
    let samples = [SampleInfo {
        duration: 1,
        size: 2,
        is_sync: true,
        composition_offset: 0,
    }];
    let good = [Bytes::from_static(b"ab")];
    let bad = [Bytes::from_static(b"abc")];
    let base = FragmentSpec {
        sequence_number: 1,
        track_id: 1,
        base_media_decode_time: 0,
        samples: &samples,
        data: &good,
        header: ChunkHeader::SegmentType,
        sync: SyncSamples::Flagged,
    };
    assert!(write_fragment(&base).is_ok());
    assert_eq!(
        write_fragment(&FragmentSpec {
            samples: &[],
            data: &[],
            ..base
        }),
        Err(BoxError::EmptyFragment)
    );
    assert_eq!(
        write_fragment(&FragmentSpec { data: &[], ..base }),
        Err(BoxError::SampleCountMismatch {
            samples: 1,
            payloads: 0
        })
    );
    assert_eq!(
        write_fragment(&FragmentSpec { data: &bad, ..base }),
        Err(BoxError::SampleSizeMismatch {
            index: 0,
            declared: 2,
            actual: 3
        })
    );
    assert_eq!(
        write_fragment(&FragmentSpec {
            track_id: 0,
            ..base
        }),
        Err(BoxError::InvalidTrackId)
    );
}
