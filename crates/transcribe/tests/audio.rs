//! Sniffing and decoding against files written by an independent encoder (SoX 14.4.2; commands in
//! `tests/fixtures/README.md`), plus the "never panics" property.
#![allow(clippy::unwrap_used)]

use callbook_transcribe::Error;
use callbook_transcribe::audio::{self, AudioFormat, AudioInput, channel_16k, decode_pcm, to_mono_16k};
use proptest::prelude::*;

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

/// Dominant frequency by counting upward zero crossings.
fn frequency(samples: &[f32], rate: u32) -> f64 {
    let crossings = samples.windows(2).filter(|w| w[0] <= 0.0 && w[1] > 0.0).count();
    crossings as f64 * f64::from(rate) / samples.len() as f64
}

#[test]
fn fixtures_sniff_as_sox_wrote_them() {
    let cases: [(&str, AudioFormat, u16, u32, f64); 6] = [
        ("tone_8k_pcm16.wav", AudioFormat::WavPcm, 1, 8000, 1.5),
        ("tone_8k_ulaw_stereo.wav", AudioFormat::WavMulaw, 2, 8000, 1.0),
        ("tone_8k_alaw.wav", AudioFormat::WavAlaw, 1, 8000, 1.0),
        ("tone_16k.mp3", AudioFormat::Mp3, 1, 16000, 1.08),
        ("tone_8k.flac", AudioFormat::Flac, 1, 8000, 1.0),
        ("tone_16k.ogg", AudioFormat::OggVorbis, 1, 16000, 1.0),
    ];
    for (name, format, channels, rate, seconds) in cases {
        let input = AudioInput::from_bytes(fixture(name)).unwrap();
        assert_eq!(input.format(), format, "{name}");
        assert_eq!(input.channels(), Some(channels), "{name}");
        assert_eq!(input.sample_rate(), Some(rate), "{name}");
        let d = input.duration_seconds().unwrap();
        assert!((d - seconds).abs() < 0.05, "{name}: {d} vs {seconds}");
    }
}

#[test]
fn every_decodable_fixture_decodes_to_the_tone() {
    for name in [
        "tone_8k_pcm16.wav",
        "tone_8k_alaw.wav",
        "tone_16k.mp3",
        "tone_8k.flac",
        "tone_16k.ogg",
    ] {
        let input = AudioInput::from_bytes(fixture(name)).unwrap();
        let decoded = decode_pcm(&input).unwrap();
        assert_eq!(decoded.channels.len(), 1, "{name}");
        assert_eq!(Some(decoded.sample_rate), input.sample_rate(), "{name}");
        // The tone lasts 1 s (the PCM file adds 0.5 s of silence; MP3 adds encoder delay at the start).
        let rate = decoded.sample_rate as usize;
        let tone = &decoded.channels[0][rate / 4..rate * 3 / 4];
        let f = frequency(tone, decoded.sample_rate);
        assert!((f - 440.0).abs() < 10.0, "{name}: {f} Hz");
        let peak = tone.iter().fold(0.0f32, |m, s| m.max(s.abs()));
        assert!((0.4..=0.6).contains(&peak), "{name}: peak {peak}");
        let mono = to_mono_16k(&decoded);
        let expected = decoded.frames() as f64 * 16000.0 / f64::from(decoded.sample_rate);
        assert_eq!(mono.len(), expected.ceil() as usize, "{name}");
        let f16 = frequency(&mono[4000..12000], 16000);
        assert!((f16 - 440.0).abs() < 10.0, "{name} at 16 kHz: {f16} Hz");
    }
}

#[test]
fn twilio_dual_channel_keeps_caller_and_agent_apart() {
    let input = AudioInput::from_bytes(fixture("tone_8k_ulaw_stereo.wav")).unwrap();
    let decoded = decode_pcm(&input).unwrap();
    assert_eq!(decoded.channels.len(), 2);
    assert_eq!(decoded.frames(), 8000);
    let caller = channel_16k(&decoded, 0).unwrap();
    let agent = channel_16k(&decoded, 1).unwrap();
    assert_eq!(caller.len(), 16000);
    assert!((frequency(&caller[1000..15000], 16000) - 440.0).abs() < 10.0);
    assert!((frequency(&agent[1000..15000], 16000) - 1000.0).abs() < 15.0);
    assert!(channel_16k(&decoded, 2).is_none());
}

#[test]
fn hound_round_trip_through_our_encoder() {
    let samples: Vec<f32> = (0..800).map(|i| ((i as f32) / 400.0) - 1.0).collect();
    let wav = audio::encode_wav_pcm16(&[samples.clone(), samples.clone()], 8000).unwrap();
    let input = AudioInput::from_bytes(wav).unwrap();
    assert_eq!(input.format(), AudioFormat::WavPcm);
    assert_eq!(input.channels(), Some(2));
    assert_eq!(input.duration_seconds(), Some(0.1));
    let decoded = decode_pcm(&input).unwrap();
    for (a, b) in decoded.channels[1].iter().zip(&samples) {
        assert!((a - b).abs() < 1.0 / 16000.0, "{a} vs {b}");
    }
}

#[test]
fn truncated_fixtures_are_invalid_audio() {
    let wav = fixture("tone_8k_pcm16.wav");
    assert!(matches!(
        AudioInput::from_bytes(wav[..1000].to_vec()),
        Err(Error::InvalidAudio { .. })
    ));
    let flac = fixture("tone_8k.flac");
    assert!(matches!(
        AudioInput::from_bytes(flac[..20].to_vec()),
        Err(Error::InvalidAudio { .. })
    ));
    assert!(matches!(
        AudioInput::from_bytes(Vec::new()),
        Err(Error::InvalidAudio { .. })
    ));
}

#[test]
fn opus_is_accepted_for_upload_but_not_decoded_locally() {
    let mut ogg = b"OggS\x00\x02".to_vec();
    ogg.extend_from_slice(&[0; 8]);
    ogg.extend_from_slice(&1u32.to_le_bytes());
    ogg.extend_from_slice(&[0; 8]);
    ogg.extend_from_slice(&[1, 19]);
    ogg.extend_from_slice(b"OpusHead\x01\x01\x38\x01\x40\x1f\x00\x00\x00\x00\x00");
    let input = AudioInput::from_bytes(ogg).unwrap();
    assert_eq!(input.format(), AudioFormat::OggOpus);
    assert!(matches!(decode_pcm(&input), Err(Error::UnsupportedAudio { .. })));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn sniffing_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = audio::sniff(&bytes);
    }

    #[test]
    fn sniffing_bytes_behind_a_magic_never_panics(
        magic in prop::sample::select(vec![
            b"RIFF\x10\x00\x00\x00WAVEfmt ".to_vec(), b"OggS".to_vec(), b"fLaC".to_vec(), b"ID3".to_vec(),
            vec![0xFF, 0xFB], vec![0x1A, 0x45, 0xDF, 0xA3], b"\x00\x00\x00\x10ftyp".to_vec(), b"RF64".to_vec(),
        ]),
        tail in proptest::collection::vec(any::<u8>(), 0..512),
    ) {
        let mut bytes = magic;
        bytes.extend_from_slice(&tail);
        if let Ok(info) = audio::sniff(&bytes)
            && let Some(d) = info.duration_seconds
        {
            prop_assert!(d >= 0.0);
        }
    }

    #[test]
    fn corrupting_a_real_wav_header_never_panics(at in 0usize..64, byte in any::<u8>(), cut in 0usize..24044) {
        let mut wav = fixture("tone_8k_pcm16.wav");
        wav[at] = byte;
        wav.truncate(cut);
        let _ = audio::sniff(&wav);
    }
}

fn wav_with_rate(rate: u32) -> Vec<u8> {
    let samples: Vec<f32> = (0..800).map(|i| (i as f32 * 0.3).sin() * 0.5).collect();
    let mut wav = audio::encode_wav_pcm16(&[samples], 8000).unwrap().to_vec();
    assert_eq!(&wav[12..16], b"fmt ");
    wav[24..28].copy_from_slice(&rate.to_le_bytes());
    wav
}

#[test]
fn absurd_wav_sample_rates_are_invalid_audio() {
    for rate in [1, 2, 999, 384_001, 10_000_000, u32::MAX] {
        let err = AudioInput::from_bytes(wav_with_rate(rate)).unwrap_err();
        assert!(matches!(err, Error::InvalidAudio { .. }), "{rate}: {err:?}");
        assert!(err.to_string().contains("sample rate"), "{rate}: {err}");
    }
    for rate in [1_000, 8_000, 384_000] {
        let input = AudioInput::from_bytes(wav_with_rate(rate)).unwrap();
        assert_eq!(input.sample_rate(), Some(rate));
        let decoded = decode_pcm(&input).unwrap();
        assert_eq!(decoded.sample_rate, rate);
        let mono = to_mono_16k(&decoded);
        assert_eq!(mono.len(), (800u64 * 16_000).div_ceil(u64::from(rate)) as usize);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn any_wav_sample_rate_is_accepted_in_range_or_rejected(rate in any::<u32>()) {
        match AudioInput::from_bytes(wav_with_rate(rate)) {
            Ok(input) => {
                prop_assert!((audio::MIN_SAMPLE_RATE..=audio::MAX_SAMPLE_RATE).contains(&rate));
                prop_assert_eq!(input.sample_rate(), Some(rate));
            }
            Err(e) => {
                prop_assert!(!(audio::MIN_SAMPLE_RATE..=audio::MAX_SAMPLE_RATE).contains(&rate));
                let invalid = matches!(e, Error::InvalidAudio { .. });
                prop_assert!(invalid);
            }
        }
    }
}

#[tokio::test]
async fn inputs_over_the_size_limit_are_rejected_clearly() {
    let wav = fixture("tone_8k_pcm16.wav");
    let len = wav.len() as u64;
    assert_eq!(audio::DEFAULT_MAX_INPUT_BYTES, 512 * 1024 * 1024);
    assert!(AudioInput::from_bytes_with_limit(wav.clone(), len).is_ok());
    let err = AudioInput::from_bytes_with_limit(wav.clone(), len - 1).unwrap_err();
    assert!(matches!(err, Error::InvalidAudio { .. }), "{err:?}");
    assert!(
        err.to_string()
            .contains(&format!("{len} bytes, over the {}-byte limit", len - 1)),
        "{err}"
    );

    let path = std::env::temp_dir().join(format!("callbook-transcribe-limit-{}.wav", std::process::id()));
    std::fs::write(&path, &wav).unwrap();
    let ok = AudioInput::from_file_with_limit(&path, len).await.unwrap();
    assert_eq!(ok.len() as u64, len);
    let err = AudioInput::from_file_with_limit(&path, 100).await.unwrap_err();
    assert!(err.to_string().contains("over the 100-byte limit"), "{err}");
    assert!(AudioInput::from_file(&path).await.is_ok());
    std::fs::remove_file(&path).unwrap();
}
