use super::*;
use crate::bits::test_util::BitWriter;
use crate::test_vectors::*;

/// Real x264 SPS → (width, height, profile, level, sar, frame_rate),
/// as reported by ffprobe for the same files.
#[test]
fn real_x264_sps_match_ffprobe() {
    type Expected = (u32, u32, u8, u8, Option<(u16, u16)>, Option<(u32, u32)>);
    let table: [(&str, Expected); 10] = [
        (
            HIGH31_720P_SEQ,
            (1280, 720, 100, 31, Some((1, 1)), Some((60, 2))),
        ),
        (
            BASE30_360P_SEQ,
            (640, 360, 66, 30, Some((1, 1)), Some((60, 2))),
        ),
        (
            MAIN40_1080P_SEQ,
            (1920, 1080, 77, 40, Some((1, 1)), Some((50, 2))),
        ),
        (
            HIGH40_1080P_SEQ,
            (1920, 1080, 100, 40, Some((1, 1)), Some((60, 2))),
        ),
        (
            HIGH_INTERLACED_1080I_SEQ,
            (1920, 1080, 100, 40, Some((1, 1)), Some((60000, 2002))),
        ),
        (
            HIGH_PAL_SAR_SEQ,
            (720, 576, 100, 30, Some((16, 15)), Some((50, 2))),
        ),
        (
            HIGH_EXT_SAR_SEQ,
            (352, 288, 100, 13, Some((5, 7)), Some((50, 2))),
        ),
        (HIGH10_SEQ, (320, 240, 110, 13, Some((1, 1)), Some((60, 2)))),
        (
            HIGH444_SEQ,
            (320, 240, 244, 13, Some((1, 1)), Some((60, 2))),
        ),
        (
            BASE_100X50_SEQ,
            (100, 50, 66, 10, Some((1, 1)), Some((60, 2))),
        ),
    ];
    for (tag, (w, h, profile, level, sar, rate)) in table {
        let info = parse_sps(&sps_of(tag)).unwrap();
        assert_eq!((info.width, info.height), (w, h), "{tag}");
        assert_eq!(
            (info.profile_idc, info.level_idc),
            (profile, level),
            "{tag}"
        );
        assert_eq!(info.sar, sar, "{tag}");
        assert_eq!(info.frame_rate, rate, "{tag}");
    }
}

#[test]
fn real_sps_colour_description() {
    // setsar=16/15 -color_primaries/trc/colorspace bt709 -color_range pc
    let info = parse_sps(&sps_of(HIGH_PAL_SAR_SEQ)).unwrap();
    assert_eq!(
        info.colour,
        Some(ColourInfo {
            colour_primaries: 1,
            transfer_characteristics: 1,
            matrix_coefficients: 1,
            full_range: true,
        })
    );
    assert_eq!(parse_sps(&sps_of(HIGH31_720P_SEQ)).unwrap().colour, None);
}

/// Every prefix of a real SPS either fails or (once the cropping fields
/// are complete) gives the same picture size: truncation never yields a
/// wrong size, and never panics.
#[test]
fn real_sps_prefixes_never_give_a_wrong_size() {
    for tag in [
        HIGH31_720P_SEQ,
        BASE30_360P_SEQ,
        HIGH_INTERLACED_1080I_SEQ,
        HIGH444_SEQ,
    ] {
        let sps = sps_of(tag);
        let full = parse_sps(&sps).unwrap();
        for n in 0..sps.len() {
            if let Ok(info) = parse_sps(&sps[..n]) {
                assert!(n > 5, "prefix {n} of {tag} parsed");
                assert_eq!((info.width, info.height), (full.width, full.height));
            }
        }
    }
}

/// Fields of a hand-built SPS; `build` writes them in syntax order.
struct Sps {
    profile_idc: u8,
    /// chroma_format_idc, separate_colour_plane, bit depths (high profiles).
    chroma: Option<(u32, bool, u32, u32)>,
    /// Per list: None = not present, Some(deltas) = delta_scale values.
    scaling_lists: Option<Vec<Option<Vec<i32>>>>,
    poc_type: u32,
    poc_cycle: Vec<i32>,
    width_mbs_minus1: u32,
    height_map_units_minus1: u32,
    frame_mbs_only: bool,
    crop: Option<(u32, u32, u32, u32)>,
    vui: Option<Vui>,
}

#[derive(Clone, Copy)]
struct Vui {
    sar_idc: Option<u8>,
    ext_sar: (u16, u16),
    colour: Option<(u8, u8, u8, bool)>,
    timing: Option<(u32, u32)>,
}

impl Default for Sps {
    fn default() -> Self {
        Sps {
            profile_idc: 66,
            chroma: None,
            scaling_lists: None,
            poc_type: 2,
            poc_cycle: vec![],
            width_mbs_minus1: 19,        // 320
            height_map_units_minus1: 14, // 240
            frame_mbs_only: true,
            crop: None,
            vui: None,
        }
    }
}

impl Sps {
    fn build(&self) -> Vec<u8> {
        let mut w = BitWriter::new();
        w.bits(8, 0x67); // NAL header: nal_ref_idc 3, nal_unit_type 7
        w.bits(8, u64::from(self.profile_idc)); // profile_idc
        w.bits(8, 0); // constraint_set flags + reserved
        w.bits(8, 30); // level_idc
        w.ue(0); // seq_parameter_set_id
        if let Some((chroma_format_idc, separate, luma, chroma)) = self.chroma {
            w.ue(chroma_format_idc); // chroma_format_idc
            if chroma_format_idc == 3 {
                w.bit(separate); // separate_colour_plane_flag
            }
            w.ue(luma); // bit_depth_luma_minus8
            w.ue(chroma); // bit_depth_chroma_minus8
            w.bit(false); // qpprime_y_zero_transform_bypass_flag
            w.bit(self.scaling_lists.is_some()); // seq_scaling_matrix_present_flag
            for list in self.scaling_lists.iter().flatten() {
                w.bit(list.is_some()); // seq_scaling_list_present_flag[i]
                for &d in list.iter().flatten() {
                    w.se(d); // delta_scale
                }
            }
        }
        w.ue(0); // log2_max_frame_num_minus4
        w.ue(self.poc_type); // pic_order_cnt_type
        match self.poc_type {
            0 => {
                w.ue(2); // log2_max_pic_order_cnt_lsb_minus4
            }
            1 => {
                w.bit(false); // delta_pic_order_always_zero_flag
                w.se(-2); // offset_for_non_ref_pic
                w.se(1); // offset_for_top_to_bottom_field
                w.ue(self.poc_cycle.len() as u32); // num_ref_frames_in_pic_order_cnt_cycle
                for &o in &self.poc_cycle {
                    w.se(o); // offset_for_ref_frame[i]
                }
            }
            _ => {}
        }
        w.ue(1); // max_num_ref_frames
        w.bit(false); // gaps_in_frame_num_value_allowed_flag
        w.ue(self.width_mbs_minus1); // pic_width_in_mbs_minus1
        w.ue(self.height_map_units_minus1); // pic_height_in_map_units_minus1
        w.bit(self.frame_mbs_only); // frame_mbs_only_flag
        if !self.frame_mbs_only {
            w.bit(false); // mb_adaptive_frame_field_flag
        }
        w.bit(true); // direct_8x8_inference_flag
        w.bit(self.crop.is_some()); // frame_cropping_flag
        if let Some((l, r, t, b)) = self.crop {
            w.ue(l).ue(r).ue(t).ue(b); // frame_crop_{left,right,top,bottom}_offset
        }
        w.bit(self.vui.is_some()); // vui_parameters_present_flag
        if let Some(vui) = self.vui {
            w.bit(vui.sar_idc.is_some()); // aspect_ratio_info_present_flag
            if let Some(idc) = vui.sar_idc {
                w.bits(8, u64::from(idc)); // aspect_ratio_idc
                if idc == 255 {
                    w.bits(16, u64::from(vui.ext_sar.0)); // sar_width
                    w.bits(16, u64::from(vui.ext_sar.1)); // sar_height
                }
            }
            w.bit(false); // overscan_info_present_flag
            w.bit(vui.colour.is_some()); // video_signal_type_present_flag
            if let Some((p, t, m, full)) = vui.colour {
                w.bits(3, 5); // video_format
                w.bit(full); // video_full_range_flag
                w.bit(true); // colour_description_present_flag
                w.bits(8, u64::from(p))
                    .bits(8, u64::from(t))
                    .bits(8, u64::from(m));
            }
            w.bit(true); // chroma_loc_info_present_flag
            w.ue(0).ue(0); // chroma_sample_loc_type_{top,bottom}_field
            w.bit(vui.timing.is_some()); // timing_info_present_flag
            if let Some((units, scale)) = vui.timing {
                w.bits(32, u64::from(units)); // num_units_in_tick
                w.bits(32, u64::from(scale)); // time_scale
                w.bit(true); // fixed_frame_rate_flag
            }
            w.bit(false); // nal_hrd_parameters_present_flag
            w.bit(false); // vcl_hrd_parameters_present_flag
            w.bit(false); // pic_struct_present_flag
            w.bit(false); // bitstream_restriction_flag
        }
        w.trailing();
        escape(&w.finish())
    }
}

/// RBSP → NAL payload: insert emulation-prevention bytes.
fn escape(rbsp: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut zeros = 0;
    for &b in rbsp {
        if zeros >= 2 && b <= 3 {
            out.push(3);
            zeros = 0;
        }
        zeros = if b == 0 { zeros + 1 } else { 0 };
        out.push(b);
    }
    out
}

#[test]
fn minimal_baseline_sps() {
    let info = parse_sps(&Sps::default().build()).unwrap();
    assert_eq!((info.width, info.height), (320, 240));
    assert_eq!((info.sar, info.frame_rate, info.colour), (None, None, None));
}

/// 1080p: 68 MB rows = 1088, crop_bottom 4 × CropUnitY 2 = 8 → 1080.
#[test]
fn crop_1088_to_1080() {
    let sps = Sps {
        width_mbs_minus1: 119,
        height_map_units_minus1: 67,
        crop: Some((0, 0, 0, 4)),
        ..Sps::default()
    };
    let info = parse_sps(&sps.build()).unwrap();
    assert_eq!((info.width, info.height), (1920, 1080));
}

/// Interlaced: map units are MB pairs (32 rows) and CropUnitY doubles.
#[test]
fn crop_interlaced_field_pairs() {
    let sps = Sps {
        profile_idc: 100,
        chroma: Some((1, false, 0, 0)),
        width_mbs_minus1: 119,
        height_map_units_minus1: 33, // 34 × 32 = 1088
        frame_mbs_only: false,
        crop: Some((0, 0, 0, 2)), // 2 × CropUnitY 4 = 8
        ..Sps::default()
    };
    let info = parse_sps(&sps.build()).unwrap();
    assert_eq!((info.width, info.height), (1920, 1080));
}

/// 4:4:4 crops in single samples (SubWidthC = SubHeightC = 1); 4:2:2
/// crops 2 horizontally, 1 vertically; monochrome (chroma_format_idc 0)
/// and separate colour planes crop 1 × 1.
#[test]
fn crop_units_follow_chroma_format() {
    let cases = [
        ((3, false), (317, 239)),
        ((2, false), (314, 239)),
        ((0, false), (317, 239)),
        ((3, true), (317, 239)),
    ];
    for ((chroma_format_idc, separate), expected) in cases {
        let sps = Sps {
            profile_idc: 244,
            chroma: Some((chroma_format_idc, separate, 2, 2)),
            crop: Some((1, 2, 0, 1)),
            ..Sps::default()
        };
        let info = parse_sps(&sps.build()).unwrap();
        assert_eq!((info.width, info.height), expected, "{chroma_format_idc}");
    }
}

/// Scaling lists with deltas (incl. one that sets nextScale to 0 and so
/// ends the list early) must be skipped exactly, or the fields after
/// them come out wrong. 4:4:4 has 12 lists.
#[test]
fn scaling_lists_are_skipped_exactly() {
    let full16: Vec<i32> = (0..16).map(|i| if i % 2 == 0 { 3 } else { -1 }).collect();
    let full64: Vec<i32> = (0..64).map(|i| (i % 7) - 3).collect();
    // delta -8 from lastScale 8 gives nextScale 0: the list stops.
    let early_stop = vec![-8];
    for (chroma_format_idc, count) in [(1u32, 8usize), (3, 12)] {
        let lists: Vec<Option<Vec<i32>>> = (0..count)
            .map(|i| match i % 3 {
                0 => None,
                1 => Some(if i < 6 {
                    full16.clone()
                } else {
                    full64.clone()
                }),
                _ => Some(early_stop.clone()),
            })
            .collect();
        let sps = Sps {
            profile_idc: if chroma_format_idc == 3 { 244 } else { 100 },
            chroma: Some((chroma_format_idc, false, 0, 0)),
            scaling_lists: Some(lists),
            width_mbs_minus1: 79,
            height_map_units_minus1: 44,
            vui: Some(Vui {
                sar_idc: Some(1),
                ext_sar: (0, 0),
                colour: None,
                timing: Some((1001, 60000)),
            }),
            ..Sps::default()
        };
        let info = parse_sps(&sps.build()).unwrap();
        assert_eq!((info.width, info.height), (1280, 720));
        assert_eq!(info.frame_rate, Some((60000, 2002)));
        assert_eq!(info.sar, Some((1, 1)));
    }
}

#[test]
fn delta_scale_out_of_range_is_invalid() {
    let sps = Sps {
        profile_idc: 100,
        chroma: Some((1, false, 0, 0)),
        scaling_lists: Some(vec![Some(vec![128])]),
        ..Sps::default()
    };
    assert!(matches!(
        parse_sps(&sps.build()),
        Err(FlvError::Invalid {
            what: "delta_scale",
            ..
        })
    ));
}

#[test]
fn pic_order_cnt_type_0_and_1() {
    for (poc_type, cycle) in [(0, vec![]), (1, vec![4, -4, 100, -100])] {
        let sps = Sps {
            poc_type,
            poc_cycle: cycle,
            ..Sps::default()
        };
        let info = parse_sps(&sps.build()).unwrap();
        assert_eq!((info.width, info.height), (320, 240));
    }
}

#[test]
fn vui_sar_table_extended_and_unspecified() {
    let with_sar = |idc: u8, ext: (u16, u16)| Sps {
        vui: Some(Vui {
            sar_idc: Some(idc),
            ext_sar: ext,
            colour: None,
            timing: None,
        }),
        ..Sps::default()
    };
    let sar = |s: Sps| parse_sps(&s.build()).unwrap().sar;
    assert_eq!(sar(with_sar(0, (0, 0))), None); // Unspecified
    assert_eq!(sar(with_sar(2, (0, 0))), Some((12, 11)));
    assert_eq!(sar(with_sar(13, (0, 0))), Some((160, 99)));
    assert_eq!(sar(with_sar(16, (0, 0))), Some((2, 1)));
    assert_eq!(sar(with_sar(17, (0, 0))), None); // reserved
    assert_eq!(sar(with_sar(255, (64, 45))), Some((64, 45))); // Extended_SAR
    assert_eq!(sar(with_sar(255, (0, 1))), None);
}

#[test]
fn vui_colour_and_timing() {
    let sps = Sps {
        vui: Some(Vui {
            sar_idc: None,
            ext_sar: (0, 0),
            colour: Some((9, 16, 9, false)), // BT.2020 / PQ / BT.2020nc
            timing: Some((1, 50)),
        }),
        ..Sps::default()
    };
    let info = parse_sps(&sps.build()).unwrap();
    assert_eq!(
        info.colour,
        Some(ColourInfo {
            colour_primaries: 9,
            transfer_characteristics: 16,
            matrix_coefficients: 9,
            full_range: false
        })
    );
    assert_eq!(info.frame_rate, Some((50, 2)));
}

#[test]
fn vui_timing_zero_or_overflowing_is_none() {
    for timing in [(0, 50), (1, 0), (0x8000_0000, 50)] {
        let sps = Sps {
            vui: Some(Vui {
                sar_idc: None,
                ext_sar: (0, 0),
                colour: None,
                timing: Some(timing),
            }),
            ..Sps::default()
        };
        assert_eq!(
            parse_sps(&sps.build()).unwrap().frame_rate,
            None,
            "{timing:?}"
        );
    }
}

#[test]
fn rejects_non_sps_nal_and_forbidden_bit() {
    let mut nal = Sps::default().build();
    nal[0] = 0x68; // PPS
    assert!(matches!(parse_sps(&nal), Err(FlvError::Invalid { .. })));
    nal[0] = 0xe7; // forbidden_zero_bit set
    assert!(matches!(parse_sps(&nal), Err(FlvError::Invalid { .. })));
    assert!(matches!(parse_sps(&[]), Err(FlvError::Truncated { .. })));
}

#[test]
fn rejects_cropping_everything() {
    let sps = Sps {
        crop: Some((80, 80, 0, 0)), // 2 × 160 = 320 = the whole width
        ..Sps::default()
    };
    assert!(matches!(
        parse_sps(&sps.build()),
        Err(FlvError::Invalid { .. })
    ));
    let sps = Sps {
        crop: Some((0, 0, u32::MAX - 1, u32::MAX - 1)),
        ..Sps::default()
    };
    assert!(parse_sps(&sps.build()).is_err());
}

#[test]
fn rejects_oversized_pictures() {
    let sps = Sps {
        width_mbs_minus1: MAX_MBS_PER_SIDE,
        ..Sps::default()
    };
    assert!(matches!(
        parse_sps(&sps.build()),
        Err(FlvError::Unsupported { .. })
    ));
    let sps = Sps {
        height_map_units_minus1: u32::MAX - 1,
        ..Sps::default()
    };
    assert!(parse_sps(&sps.build()).is_err());
    let largest = Sps {
        width_mbs_minus1: MAX_MBS_PER_SIDE - 1,
        height_map_units_minus1: MAX_MBS_PER_SIDE - 1,
        frame_mbs_only: false,
        ..Sps::default()
    };
    let info = parse_sps(&largest.build()).unwrap();
    assert_eq!((info.width, info.height), (16_384, 32_768));
}

#[test]
fn rejects_out_of_range_ue_fields() {
    let sps = Sps {
        profile_idc: 100,
        chroma: Some((4, false, 0, 0)), // chroma_format_idc > 3
        ..Sps::default()
    };
    assert!(matches!(
        parse_sps(&sps.build()),
        Err(FlvError::Invalid {
            what: "chroma_format_idc",
            ..
        })
    ));
    let sps = Sps {
        poc_type: 3,
        ..Sps::default()
    };
    assert!(matches!(
        parse_sps(&sps.build()),
        Err(FlvError::Invalid {
            what: "pic_order_cnt_type",
            ..
        })
    ));
}

/// A VUI cut short keeps what was read before the cut.
#[test]
fn truncated_vui_is_tolerated() {
    let sps = Sps {
        vui: Some(Vui {
            sar_idc: Some(14),
            ext_sar: (0, 0),
            colour: None,
            timing: Some((1, 60)),
        }),
        ..Sps::default()
    };
    let nal = sps.build();
    let full = parse_sps(&nal).unwrap();
    assert_eq!(full.frame_rate, Some((60, 2)));
    // Drop the last 5 bytes: inside time_scale.
    let cut = parse_sps(&nal[..nal.len() - 5]).unwrap();
    assert_eq!((cut.width, cut.height, cut.sar), (320, 240, Some((4, 3))));
    assert_eq!(cut.frame_rate, None);
}

proptest::proptest! {
    /// Any picture size and any cropping that leaves a picture parse back
    /// to exactly the cropped size (4:2:0, progressive and interlaced).
    #[test]
    fn prop_cropped_size_round_trips(
        width_mbs in 1u32..=120,
        height_units in 1u32..=68,
        frame_mbs_only in proptest::bool::ANY,
        crop in (0u32..8, 0u32..8, 0u32..4, 0u32..4),
    ) {
        let field_factor = if frame_mbs_only { 1 } else { 2 };
        let (l, r, t, b) = crop;
        let width = width_mbs * 16;
        let height = height_units * 16 * field_factor;
        let crop_w = 2 * (l + r);
        let crop_h = 2 * field_factor * (t + b);
        proptest::prop_assume!(crop_w < width && crop_h < height);
        let sps = Sps {
            profile_idc: 100,
            chroma: Some((1, false, 0, 0)),
            width_mbs_minus1: width_mbs - 1,
            height_map_units_minus1: height_units - 1,
            frame_mbs_only,
            crop: Some(crop),
            ..Sps::default()
        };
        let info = parse_sps(&sps.build()).unwrap();
        proptest::prop_assert_eq!((info.width, info.height), (width - crop_w, height - crop_h));
    }
}
