//! Chunk plans cover the audio in order; stitching keeps segments ordered and inside the audio.
#![allow(clippy::unwrap_used)]

use callbook_transcribe::chunking::{Chunk, FRAME_SECONDS, plan_chunks, stitch};
use callbook_transcribe::{Segment, Transcript};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn chunks_cover_the_audio_in_order(
        duration in 0.05f64..4000.0,
        max_seconds in 9.0f64..1500.0,
        overlap in 0.0f64..5.0,
        seed in prop::collection::vec(0.0f32..1.0, 1..64),
        silent_every in 1usize..500,
    ) {
        let frames = (duration / FRAME_SECONDS).ceil() as usize;
        let energy: Vec<f32> = (0..frames)
            .map(|i| if i % silent_every == 0 { 0.0 } else { seed[i % seed.len()] })
            .collect();
        let chunks = plan_chunks(&energy, duration, max_seconds, overlap);
        prop_assert!(!chunks.is_empty());
        prop_assert_eq!(chunks[0].start, 0.0);
        prop_assert_eq!(chunks.last().unwrap().end, duration);
        for c in &chunks {
            prop_assert!(c.end > c.start, "{:?}", c);
            prop_assert!(c.end - c.start <= max_seconds + 1e-9, "{:?} longer than {}", c, max_seconds);
        }
        for w in chunks.windows(2) {
            prop_assert!(w[1].start > w[0].start, "starts increase: {:?}", w);
            prop_assert!(w[1].start <= w[0].end, "no gap: {:?}", w);
            prop_assert!(w[1].end > w[0].end, "ends increase: {:?}", w);
        }
        if duration <= max_seconds {
            prop_assert_eq!(chunks.len(), 1);
        }
    }

    #[test]
    fn stitched_segments_are_ordered_and_inside_the_audio(
        duration in 30.0f64..300.0,
        per_chunk in prop::collection::vec(prop::collection::vec((0.0f64..1.0, 0.1f64..3.0), 0..6), 1..2),
    ) {
        let chunks = plan_chunks(&[], duration, 20.0, 2.0);
        let parts: Vec<Transcript> = chunks
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let spec = &per_chunk[0];
                let len = c.end - c.start;
                let mut segments: Vec<Segment> = spec
                    .iter()
                    .map(|(at, d)| {
                        let start = at * len;
                        Segment { start, end: (start + d).min(len), text: format!("c{i}"), ..Default::default() }
                    })
                    .collect();
                segments.sort_by(|a, b| a.start.total_cmp(&b.start));
                Transcript { text: format!("c{i}"), segments, ..Default::default() }
            })
            .collect();
        let t = stitch(&chunks, parts).unwrap();
        let mut last = f64::NEG_INFINITY;
        for s in &t.segments {
            prop_assert!(s.start >= last - 1e-9, "ordered");
            prop_assert!(s.start >= 0.0 && s.end <= duration + 1e-9, "inside");
            last = s.start;
        }
        prop_assert_eq!(t.duration_seconds, Some(duration));
    }
}

#[test]
fn mismatched_counts_are_an_error() {
    assert!(stitch(&[Chunk { start: 0.0, end: 1.0 }], vec![]).is_err());
}
