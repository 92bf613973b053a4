//! Fuzz and property tests for the sans-IO server handshake (spec-checklist
//! RTMP-HS-01…06, §8 case 3, and style-anchors "a fuzz target per parser").
//!
//! `cargo test` runs the bolero targets with random inputs; `cargo bolero test`
//! runs them under a real fuzzer.

use weir_rtmp::handshake::{
    HandshakeError, HandshakeProgress, ServerHandshake, HANDSHAKE_SIZE, MAX_OUTPUT, RANDOM_SIZE,
};

/// Result of driving a handshake with `data` cut into pieces of the given sizes.
#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    output: Vec<u8>,
    /// Total bytes consumed before `Done` or the error.
    consumed: usize,
    done: bool,
    error: Option<HandshakeError>,
}

fn run(data: &[u8], splits: &[u16]) -> Outcome {
    let mut hs = ServerHandshake::new([0xA5; RANDOM_SIZE], 42);
    let mut output = Vec::new();
    let mut consumed = 0usize;
    let mut pos = 0usize;
    let mut sizes = splits.iter().map(|&s| usize::from(s % 4000));
    while pos < data.len() {
        let size = sizes.next().unwrap_or(data.len()).max(1);
        let end = data.len().min(pos + size);
        let piece = &data[pos..end];
        match hs.read(piece) {
            Ok((n, progress)) => {
                assert!(n <= piece.len(), "consumed more than given");
                consumed += n;
                if let Some(out) = hs.take_output() {
                    output.extend_from_slice(&out);
                }
                assert!(output.len() <= MAX_OUTPUT, "output bound");
                match progress {
                    HandshakeProgress::NeedMore => {
                        assert_eq!(n, piece.len(), "NeedMore must consume everything");
                        assert!(!hs.is_done());
                    }
                    HandshakeProgress::Done => {
                        assert!(hs.is_done());
                        assert_eq!(consumed, 1 + 2 * HANDSHAKE_SIZE);
                        // Done is sticky and consumes nothing.
                        assert_eq!(hs.read(piece).ok(), Some((0, HandshakeProgress::Done)));
                        return Outcome {
                            output,
                            consumed,
                            done: true,
                            error: None,
                        };
                    }
                }
                pos = end;
            }
            Err(err) => {
                assert!(matches!(err, HandshakeError::BadVersion(v) if v >= 32));
                assert!(output.is_empty(), "nothing is sent before a rejection");
                assert_eq!(hs.read(&[3]).err(), Some(err.clone()), "errors are sticky");
                return Outcome {
                    output,
                    consumed,
                    done: false,
                    error: Some(err),
                };
            }
        }
    }
    assert!(consumed == data.len());
    Outcome {
        output,
        consumed,
        done: false,
        error: None,
    }
}

/// Arbitrary bytes in arbitrary splits: never panics, output bounded, and the
/// split does not change the result.
#[test]
fn fuzz_arbitrary_bytes_any_split() {
    bolero::check!()
        .with_type::<(u8, Vec<u8>, Vec<u16>)>()
        .for_each(|(c0, rest, splits)| {
            // Mostly valid-looking C0 so that C1/C2 paths are reached too.
            let mut data = vec![c0 % 40];
            data.extend_from_slice(rest);
            // Let short fuzz inputs reach C2 by padding with a pattern.
            if rest.len() % 3 == 0 {
                data.resize(
                    data.len() + 2 * HANDSHAKE_SIZE,
                    rest.first().copied().unwrap_or(0),
                );
            }
            let split = run(&data, splits);
            let whole = run(&data, &[]);
            assert_eq!(split, whole);
            if let Some(out) = split.output.first() {
                assert_eq!(*out, 3, "S0 is always 3");
                assert_eq!(split.output.len(), MAX_OUTPUT);
            }
        });
}

/// Raw bytes exactly as a fuzzer gives them (first byte is C0 as-is).
#[test]
fn fuzz_raw_bytes() {
    bolero::check!().for_each(|input: &[u8]| {
        let outcome = run(input, &[]);
        assert!(outcome.output.len() <= MAX_OUTPUT);
    });
}

/// §8 case 3 over every split point of C0+C1+C2+trailing chunk bytes.
#[test]
fn every_two_way_split_keeps_trailing_bytes() {
    let mut c1 = [0u8; HANDSHAKE_SIZE];
    for (i, b) in c1.iter_mut().enumerate() {
        *b = (i * 7 + 3) as u8;
    }
    c1[4..8].fill(0);
    let mut probe = ServerHandshake::new([1; RANDOM_SIZE], 7);
    let mut first = vec![3];
    first.extend_from_slice(&c1);
    probe.read(&first).unwrap();
    let out = probe.take_output().unwrap();
    let s1 = &out[1..1 + HANDSHAKE_SIZE];

    let mut stream = first.clone();
    stream.extend_from_slice(s1);
    let trailer = b"\x03\x00\x00\x00\x00\x00\x9d\x14\x00\x00\x00\x00connect";
    stream.extend_from_slice(trailer);

    for cut in (0..stream.len())
        .step_by(97)
        .chain([1, 1 + HANDSHAKE_SIZE, 2 * HANDSHAKE_SIZE])
    {
        let mut hs = ServerHandshake::new([1; RANDOM_SIZE], 7);
        let (a, b) = stream.split_at(cut);
        let mut left = Vec::new();
        for part in [a, b] {
            let (n, p) = hs.read(part).unwrap();
            if p == HandshakeProgress::Done {
                left.extend_from_slice(&part[n..]);
            }
        }
        assert!(hs.is_done(), "cut {cut}");
        // Whatever was not consumed is exactly the trailer.
        assert_eq!(left, trailer, "cut {cut}");
    }
}
