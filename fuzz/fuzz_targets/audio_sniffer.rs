//! The audio sniffer and WAV parser on raw bytes and on structured, nearly valid WAV files: they never panic,
//! and what they accept is self-consistent (data inside the file, finite non-negative duration, a format
//! that matches the header).
#![no_main]

use arbitrary::Arbitrary;
use callbook_transcribe::audio::{AudioFormat, parse_wav_header, sniff};
use libfuzzer_sys::fuzz_target;

#[derive(Debug, Arbitrary)]
struct Chunk {
    id: [u8; 4],
    declared: Option<u32>,
    body: Vec<u8>,
}

#[derive(Debug, Arbitrary)]
enum Input {
    Raw(Vec<u8>),
    Wav {
        riff_size: u32,
        format_tag: u16,
        channels: u16,
        sample_rate: u32,
        block_align: u16,
        bits: u16,
        extensible_tag: Option<u16>,
        before: Vec<Chunk>,
        data_declared: Option<u32>,
        data: Vec<u8>,
        cut: Option<u16>,
    },
    Prefixed {
        magic: u8,
        tail: Vec<u8>,
    },
}

fn build(input: Input) -> Vec<u8> {
    match input {
        Input::Raw(bytes) => bytes,
        Input::Prefixed { magic, tail } => {
            let magics: [&[u8]; 8] = [
                b"RIFF\x24\x00\x00\x00WAVE",
                b"OggS",
                b"fLaC",
                b"ID3\x03\x00",
                b"\xff\xfb\x90\xc4",
                b"\x1a\x45\xdf\xa3",
                b"\x00\x00\x00\x18ftypM4A ",
                b"RF64\xff\xff\xff\xffWAVEds64",
            ];
            let mut v = magics[magic as usize % magics.len()].to_vec();
            v.extend_from_slice(&tail);
            v
        }
        Input::Wav {
            riff_size,
            format_tag,
            channels,
            sample_rate,
            block_align,
            bits,
            extensible_tag,
            before,
            data_declared,
            data,
            cut,
        } => {
            let mut v = b"RIFF".to_vec();
            v.extend_from_slice(&riff_size.to_le_bytes());
            v.extend_from_slice(b"WAVE");
            for c in before {
                v.extend_from_slice(&c.id);
                v.extend_from_slice(&c.declared.unwrap_or(c.body.len() as u32).to_le_bytes());
                v.extend_from_slice(&c.body);
            }
            let mut fmt = Vec::new();
            fmt.extend_from_slice(&if extensible_tag.is_some() { 0xFFFEu16 } else { format_tag }.to_le_bytes());
            fmt.extend_from_slice(&channels.to_le_bytes());
            fmt.extend_from_slice(&sample_rate.to_le_bytes());
            fmt.extend_from_slice(&sample_rate.wrapping_mul(u32::from(block_align)).to_le_bytes());
            fmt.extend_from_slice(&block_align.to_le_bytes());
            fmt.extend_from_slice(&bits.to_le_bytes());
            if let Some(tag) = extensible_tag {
                fmt.extend_from_slice(&22u16.to_le_bytes());
                fmt.extend_from_slice(&bits.to_le_bytes());
                fmt.extend_from_slice(&0u32.to_le_bytes());
                fmt.extend_from_slice(&tag.to_le_bytes());
                fmt.extend_from_slice(&[0; 14]);
            }
            v.extend_from_slice(b"fmt ");
            v.extend_from_slice(&(fmt.len() as u32).to_le_bytes());
            v.extend_from_slice(&fmt);
            v.extend_from_slice(b"data");
            v.extend_from_slice(&data_declared.unwrap_or(data.len() as u32).to_le_bytes());
            v.extend_from_slice(&data);
            if let Some(cut) = cut {
                v.truncate(cut as usize);
            }
            v
        }
    }
}

fuzz_target!(|input: Input| {
    let bytes = build(input);
    if let Ok(h) = parse_wav_header(&bytes) {
        assert!(h.data_offset + h.data_len <= bytes.len(), "data inside the file");
        assert!(h.channels > 0 && h.sample_rate > 0 && h.block_align > 0);
        assert_eq!(h.data_len % h.block_align as usize, 0, "whole frames only");
        assert!(h.data_len > 0);
    }
    if let Ok(info) = sniff(&bytes) {
        if let Some(d) = info.duration_seconds {
            assert!(d.is_finite() && d >= 0.0, "duration {d}");
        }
        assert!(info.channels != Some(0));
        if matches!(
            info.format,
            AudioFormat::WavPcm | AudioFormat::WavFloat | AudioFormat::WavMulaw | AudioFormat::WavAlaw
        ) {
            assert!(parse_wav_header(&bytes).is_ok(), "a sniffed WAV parses");
        }
    }
});
