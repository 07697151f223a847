//! Audio handling: format sniffing from magic bytes ([`sniff`]), the validated [`AudioInput`], decoding to
//! f32 PCM ([`decode_pcm`]), mixing and resampling to the 16 kHz mono Whisper wants ([`to_mono_16k`]) and
//! WAV encoding of decoded audio ([`encode_wav_pcm16`]).
//!
//! Sniffing is hand-written (it only reads headers: RIFF/WAVE chunks, MP3 frame headers, the first and last
//! Ogg page, FLAC STREAMINFO, MP4 `mvhd`) so it is cheap, total and fuzzed. Decoding uses
//! [symphonia](https://docs.rs/symphonia) 0.5 (pure Rust; WAV PCM/float/µ-law/A-law, MP3, FLAC, Ogg Vorbis,
//! MP4/M4A AAC, Matroska/WebM containers). Symphonia has no Opus decoder, so Opus audio is accepted for upload
//! to a provider but [`decode_pcm`] refuses it with [`Error::UnsupportedAudio`]. Resampling uses
//! [rubato](https://docs.rs/rubato)'s FFT resampler (band-limited, fixed ratio — exactly the 8 kHz → 16 kHz
//! case of phone audio).

use std::path::Path;

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{Error, Result};

/// The sample rate Whisper models expect.
pub const WHISPER_SAMPLE_RATE: u32 = 16_000;

/// The largest input [`AudioInput::from_bytes`] and [`AudioInput::from_file`] accept (512 MiB, about 4.6 h of
/// 16 kHz stereo PCM); the `*_with_limit` constructors take another.
pub const DEFAULT_MAX_INPUT_BYTES: u64 = 512 * 1024 * 1024;

fn too_big(len: u64, max: u64) -> Error {
    Error::invalid_audio(format!(
        "the input is {len} bytes, over the {max}-byte limit (see AudioInput::from_bytes_with_limit)"
    ))
}

/// The lowest sample rate accepted from a header or decoder (Hz); lower rates are [`Error::InvalidAudio`].
pub const MIN_SAMPLE_RATE: u32 = 1_000;
/// The highest sample rate accepted from a header or decoder (Hz); higher rates are [`Error::InvalidAudio`].
pub const MAX_SAMPLE_RATE: u32 = 384_000;

/// Rejects a sample rate outside [`MIN_SAMPLE_RATE`]..=[`MAX_SAMPLE_RATE`]: a forged header must not make
/// resampling allocate `frames × 16,000` samples or plan thousands of uploads.
fn check_sample_rate(rate: u32) -> Result<u32> {
    if (MIN_SAMPLE_RATE..=MAX_SAMPLE_RATE).contains(&rate) {
        Ok(rate)
    } else {
        Err(Error::invalid_audio(format!(
            "sample rate {rate} Hz is outside {MIN_SAMPLE_RATE}..={MAX_SAMPLE_RATE} Hz"
        )))
    }
}

/// An audio container/encoding recognised from magic bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum AudioFormat {
    /// RIFF/WAVE with integer PCM samples.
    WavPcm,
    /// RIFF/WAVE with IEEE float samples.
    WavFloat,
    /// RIFF/WAVE with G.711 µ-law samples (Twilio's telephone-quality format).
    WavMulaw,
    /// RIFF/WAVE with G.711 A-law samples.
    WavAlaw,
    /// MPEG audio layer III (also layers I/II), with or without an ID3v2 tag.
    Mp3,
    /// Ogg container with Opus audio.
    OggOpus,
    /// Ogg container with Vorbis audio.
    OggVorbis,
    /// Native FLAC.
    Flac,
    /// ISO base media (MP4/M4A), usually AAC.
    Mp4,
    /// EBML container: WebM or Matroska (usually Opus or Vorbis).
    WebM,
}

impl AudioFormat {
    /// The file extension providers expect (`wav`, `mp3`, `ogg`, `flac`, `m4a`, `webm`).
    pub fn extension(self) -> &'static str {
        match self {
            AudioFormat::WavPcm | AudioFormat::WavFloat | AudioFormat::WavMulaw | AudioFormat::WavAlaw => {
                "wav"
            }
            AudioFormat::Mp3 => "mp3",
            AudioFormat::OggOpus | AudioFormat::OggVorbis => "ogg",
            AudioFormat::Flac => "flac",
            AudioFormat::Mp4 => "m4a",
            AudioFormat::WebM => "webm",
        }
    }

    /// The MIME type to send with an upload.
    pub fn mime_type(self) -> &'static str {
        match self {
            AudioFormat::WavPcm | AudioFormat::WavFloat | AudioFormat::WavMulaw | AudioFormat::WavAlaw => {
                "audio/wav"
            }
            AudioFormat::Mp3 => "audio/mpeg",
            AudioFormat::OggOpus | AudioFormat::OggVorbis => "audio/ogg",
            AudioFormat::Flac => "audio/flac",
            AudioFormat::Mp4 => "audio/mp4",
            AudioFormat::WebM => "audio/webm",
        }
    }

    /// Whether [`decode_pcm`] can decode it (everything but Opus).
    pub fn is_decodable(self) -> bool {
        !matches!(self, AudioFormat::OggOpus)
    }
}

/// What sniffing learnt from the headers.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AudioInfo {
    /// The format.
    pub format: AudioFormat,
    /// Duration in seconds, when the headers tell it.
    pub duration_seconds: Option<f64>,
    /// Number of channels, when the headers tell it.
    pub channels: Option<u16>,
    /// Sample rate in Hz, when the headers tell it.
    pub sample_rate: Option<u32>,
}

impl AudioInfo {
    fn new(format: AudioFormat) -> Self {
        AudioInfo {
            format,
            duration_seconds: None,
            channels: None,
            sample_rate: None,
        }
    }
}

/// Validated audio: the bytes exactly as given plus what [`sniff`] learnt about them.
///
/// An `AudioInput` can only be built from bytes that sniff as a known, non-empty, non-truncated format, so a
/// backend never sends garbage to a provider.
#[derive(Clone, PartialEq)]
pub struct AudioInput {
    bytes: Bytes,
    info: AudioInfo,
    filename: Option<String>,
    path: Option<std::path::PathBuf>,
}

impl std::fmt::Debug for AudioInput {
    // Never print the audio itself.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AudioInput")
            .field("len", &self.bytes.len())
            .field("info", &self.info)
            .field("filename", &self.filename)
            .field("path", &self.path)
            .finish()
    }
}

impl AudioInput {
    /// Sniffs `bytes` and wraps them.
    ///
    /// # Errors
    /// [`Error::InvalidAudio`] when the bytes are empty, truncated or of an unknown format;
    /// [`Error::UnsupportedAudio`] for a recognised container with an encoding we cannot name (e.g. a WAV
    /// with ADPCM samples).
    /// [`Error::InvalidAudio`] too for input over [`DEFAULT_MAX_INPUT_BYTES`].
    pub fn from_bytes(bytes: impl Into<Bytes>) -> Result<Self> {
        Self::from_bytes_with_limit(bytes, DEFAULT_MAX_INPUT_BYTES)
    }

    /// [`AudioInput::from_bytes`] with `max_bytes` instead of [`DEFAULT_MAX_INPUT_BYTES`].
    ///
    /// # Errors
    /// As [`AudioInput::from_bytes`]; [`Error::InvalidAudio`] for input over `max_bytes`.
    pub fn from_bytes_with_limit(bytes: impl Into<Bytes>, max_bytes: u64) -> Result<Self> {
        let bytes = bytes.into();
        if bytes.len() as u64 > max_bytes {
            return Err(too_big(bytes.len() as u64, max_bytes));
        }
        let info = sniff(&bytes)?;
        Ok(AudioInput {
            bytes,
            info,
            filename: None,
            path: None,
        })
    }

    /// Reads and sniffs a file; the file name is kept for uploads and sidecar look-ups.
    ///
    /// # Errors
    /// [`Error::InvalidAudio`] when the file cannot be read, is over [`DEFAULT_MAX_INPUT_BYTES`] or is not
    /// audio.
    pub async fn from_file(path: impl AsRef<Path>) -> Result<Self> {
        Self::from_file_with_limit(path, DEFAULT_MAX_INPUT_BYTES).await
    }

    /// [`AudioInput::from_file`] with `max_bytes` instead of [`DEFAULT_MAX_INPUT_BYTES`]; a larger file is
    /// rejected before it is read.
    ///
    /// # Errors
    /// As [`AudioInput::from_file`]; [`Error::InvalidAudio`] for a file over `max_bytes`.
    pub async fn from_file_with_limit(path: impl AsRef<Path>, max_bytes: u64) -> Result<Self> {
        use tokio::io::AsyncReadExt;
        let path = path.as_ref();
        let cannot_read =
            |e: std::io::Error| Error::invalid_audio(format!("cannot read {}: {e}", path.display()));
        let file = tokio::fs::File::open(path).await.map_err(cannot_read)?;
        let len = file.metadata().await.map_err(cannot_read)?.len();
        if len > max_bytes {
            return Err(too_big(len, max_bytes));
        }
        // Read at most one byte past the limit, in case the file grows while it is read.
        let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
        file.take(max_bytes.saturating_add(1))
            .read_to_end(&mut bytes)
            .await
            .map_err(cannot_read)?;
        let mut input = AudioInput::from_bytes_with_limit(bytes, max_bytes)?;
        input.filename = path.file_name().map(|n| n.to_string_lossy().into_owned());
        input.path = Some(path.to_path_buf());
        Ok(input)
    }

    /// Sets the original file name (used for the upload's file name when its extension fits the format).
    pub fn with_filename(mut self, filename: impl Into<String>) -> Self {
        self.filename = Some(filename.into());
        self
    }

    /// The audio bytes, untouched.
    pub fn bytes(&self) -> &Bytes {
        &self.bytes
    }

    /// Size in bytes.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Always false: an `AudioInput` is never empty. Present for API symmetry with `len`.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// Everything sniffing learnt.
    pub fn info(&self) -> &AudioInfo {
        &self.info
    }

    /// The detected format.
    pub fn format(&self) -> AudioFormat {
        self.info.format
    }

    /// Duration in seconds, when the headers tell it.
    pub fn duration_seconds(&self) -> Option<f64> {
        self.info.duration_seconds
    }

    /// Number of channels, when the headers tell it.
    pub fn channels(&self) -> Option<u16> {
        self.info.channels
    }

    /// Sample rate in Hz, when the headers tell it.
    pub fn sample_rate(&self) -> Option<u32> {
        self.info.sample_rate
    }

    /// The original file name, if one was given.
    pub fn filename(&self) -> Option<&str> {
        self.filename.as_deref()
    }

    /// The file it was read from, when built with [`AudioInput::from_file`] (the sidecar transcriber looks
    /// next to it).
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// A file name for uploads: the original one when its extension matches the format, else `audio.<ext>`
    /// (providers decide the decoder from the extension).
    pub fn upload_filename(&self) -> String {
        let ext = self.info.format.extension();
        if let Some(name) = &self.filename {
            let lower = name.to_ascii_lowercase();
            let ok = match self.info.format {
                AudioFormat::Mp4 => [".m4a", ".mp4"].iter().any(|e| lower.ends_with(e)),
                AudioFormat::Mp3 => lower.ends_with(".mp3") || lower.ends_with(".mpga"),
                AudioFormat::OggOpus | AudioFormat::OggVorbis => {
                    lower.ends_with(".ogg") || lower.ends_with(".opus") || lower.ends_with(".oga")
                }
                _ => lower.ends_with(&format!(".{ext}")),
            };
            if ok && !name.contains(['/', '\\', '"']) {
                return name.clone();
            }
        }
        format!("audio.{ext}")
    }

    /// Lower-case hex SHA-256 of the bytes (the key of [`crate::fake::ScriptedTranscriber`]).
    pub fn sha256_hex(&self) -> String {
        sha256_hex(&self.bytes)
    }
}

/// Lower-case hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

// ------------------------------------------------------------------------------------------------ sniffing

/// Recognises the format from magic bytes and reads duration, channels and sample rate from the headers.
///
/// Total: never panics, whatever the input (property-tested and fuzzed).
///
/// # Errors
/// [`Error::InvalidAudio`] for empty, truncated or unknown input; [`Error::UnsupportedAudio`] for a WAV with
/// an encoding other than PCM, float, µ-law or A-law.
pub fn sniff(bytes: &[u8]) -> Result<AudioInfo> {
    if bytes.is_empty() {
        return Err(Error::invalid_audio("empty audio (0 bytes)"));
    }
    if bytes.starts_with(b"RIFF") || bytes.starts_with(b"RIFX") || bytes.starts_with(b"RF64") {
        return sniff_wav(bytes);
    }
    if bytes.starts_with(b"OggS") {
        return sniff_ogg(bytes);
    }
    if bytes.starts_with(b"fLaC") {
        return sniff_flac(bytes);
    }
    if bytes.starts_with(&[0x1A, 0x45, 0xDF, 0xA3]) {
        return sniff_webm(bytes);
    }
    if bytes.len() >= 8 && &bytes[4..8] == b"ftyp" {
        return sniff_mp4(bytes);
    }
    if bytes.starts_with(b"ID3") || mp3_frame_header(bytes).is_some() {
        return sniff_mp3(bytes);
    }
    if bytes.len() < 4 {
        return Err(Error::invalid_audio(format!(
            "too short to be audio ({} bytes)",
            bytes.len()
        )));
    }
    Err(Error::invalid_audio(
        "unknown audio format (not WAV, MP3, Ogg, FLAC, MP4/M4A or WebM)",
    ))
}

fn u16_le(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}
fn u32_le(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}
fn u32_be(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}
fn u64_be(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_be_bytes(b.get(at..at + 8)?.try_into().ok()?))
}
fn u64_le(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

/// The parsed `fmt ` and `data` chunks of a WAV file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WavHeader {
    /// WAVE format tag (1 PCM, 3 float, 6 A-law, 7 µ-law; the sub-format's tag for `0xFFFE`).
    pub format_tag: u16,
    /// Channels.
    pub channels: u16,
    /// Sample rate in Hz.
    pub sample_rate: u32,
    /// Bytes per frame (all channels).
    pub block_align: u16,
    /// Bits per sample.
    pub bits_per_sample: u16,
    /// Byte offset of the first sample.
    pub data_offset: usize,
    /// Length of the sample data in bytes (whole frames only).
    pub data_len: usize,
}

/// Parses a RIFF/WAVE header.
///
/// # Errors
/// [`Error::InvalidAudio`] when the chunks are missing, inconsistent or the data is shorter than declared.
pub fn parse_wav_header(bytes: &[u8]) -> Result<WavHeader> {
    if bytes.starts_with(b"RIFX") {
        return Err(Error::UnsupportedAudio {
            reason: "big-endian WAV (RIFX)".into(),
        });
    }
    if bytes.len() < 12 {
        return Err(Error::invalid_audio(
            "truncated WAV: header shorter than 12 bytes",
        ));
    }
    if &bytes[8..12] != b"WAVE" {
        return Err(Error::invalid_audio("RIFF file that is not WAVE"));
    }
    let rf64 = bytes.starts_with(b"RF64");
    let mut rf64_data_len: Option<u64> = None;
    let mut fmt: Option<(u16, u16, u32, u16, u16)> = None;
    let mut pos = 12usize;
    loop {
        let (Some(id), Some(size)) = (bytes.get(pos..pos + 4), u32_le(bytes, pos + 4)) else {
            return Err(Error::invalid_audio(if fmt.is_none() {
                "truncated WAV: no `fmt ` chunk"
            } else {
                "truncated WAV: no `data` chunk"
            }));
        };
        let body = pos + 8;
        match id {
            b"ds64" if rf64 => {
                rf64_data_len = u64_le(bytes, body + 8);
            }
            b"fmt " => {
                let chunk = bytes
                    .get(body..body.saturating_add(size as usize))
                    .ok_or_else(|| Error::invalid_audio("truncated WAV: `fmt ` chunk cut short"))?;
                if chunk.len() < 16 {
                    return Err(Error::invalid_audio("WAV `fmt ` chunk shorter than 16 bytes"));
                }
                let mut tag = u16_le(chunk, 0).unwrap_or(0);
                if tag == 0xFFFE {
                    // WAVE_FORMAT_EXTENSIBLE: the real tag opens the sub-format GUID.
                    tag = u16_le(chunk, 24).ok_or_else(|| {
                        Error::invalid_audio("WAV extensible `fmt ` chunk without a sub-format")
                    })?;
                }
                fmt = Some((
                    tag,
                    u16_le(chunk, 2).unwrap_or(0),
                    u32_le(chunk, 4).unwrap_or(0),
                    u16_le(chunk, 12).unwrap_or(0),
                    u16_le(chunk, 14).unwrap_or(0),
                ));
            }
            b"data" => {
                let Some((format_tag, channels, sample_rate, block_align, bits_per_sample)) = fmt else {
                    return Err(Error::invalid_audio("WAV `data` chunk before `fmt ` chunk"));
                };
                if channels == 0 || sample_rate == 0 || block_align == 0 {
                    return Err(Error::invalid_audio(
                        "WAV `fmt ` chunk with zero channels, sample rate or block size",
                    ));
                }
                check_sample_rate(sample_rate)?;
                let available = bytes.len() - body.min(bytes.len());
                let declared = match (rf64, size) {
                    (true, u32::MAX) => rf64_data_len.unwrap_or(available as u64),
                    // 0xFFFFFFFF (and 0 for some streaming writers) means "until the end of the file".
                    (_, u32::MAX) => available as u64,
                    (_, 0) if available > 0 => available as u64,
                    (_, n) => u64::from(n),
                };
                if declared > available as u64 {
                    return Err(Error::invalid_audio(format!(
                        "truncated WAV: data chunk declares {declared} bytes but {available} are present"
                    )));
                }
                let whole = (declared as usize / block_align as usize) * block_align as usize;
                if whole == 0 {
                    return Err(Error::invalid_audio("WAV without samples (empty data chunk)"));
                }
                return Ok(WavHeader {
                    format_tag,
                    channels,
                    sample_rate,
                    block_align,
                    bits_per_sample,
                    data_offset: body,
                    data_len: whole,
                });
            }
            _ => {}
        }
        // Chunks are padded to an even size.
        let next = (size as usize).saturating_add(size as usize & 1);
        pos = body.saturating_add(next);
        if pos >= bytes.len() {
            return Err(Error::invalid_audio(if fmt.is_none() {
                "truncated WAV: no `fmt ` chunk"
            } else {
                "truncated WAV: no `data` chunk"
            }));
        }
    }
}

fn sniff_wav(bytes: &[u8]) -> Result<AudioInfo> {
    let h = parse_wav_header(bytes)?;
    let format = match h.format_tag {
        1 => AudioFormat::WavPcm,
        3 => AudioFormat::WavFloat,
        6 => AudioFormat::WavAlaw,
        7 => AudioFormat::WavMulaw,
        other => {
            return Err(Error::UnsupportedAudio {
                reason: format!("WAV with format tag {other:#06x} (only PCM, float, µ-law and A-law)"),
            });
        }
    };
    let frames = h.data_len / h.block_align as usize;
    Ok(AudioInfo {
        format,
        duration_seconds: Some(frames as f64 / f64::from(h.sample_rate)),
        channels: Some(h.channels),
        sample_rate: Some(h.sample_rate),
    })
}

/// An MPEG audio frame header: (frame length in bytes, samples per frame, sample rate, channels).
fn mp3_frame_header(b: &[u8]) -> Option<(usize, u32, u32, u16)> {
    let h = u32_be(b, 0)?;
    if h >> 21 != 0x7FF {
        return None;
    }
    let version = (h >> 19) & 3; // 0 = 2.5, 1 reserved, 2 = MPEG2, 3 = MPEG1
    let layer = (h >> 17) & 3; // 1 = III, 2 = II, 3 = I
    let bitrate_index = ((h >> 12) & 0xF) as usize;
    let rate_index = ((h >> 10) & 3) as usize;
    let padding = (h >> 9) & 1;
    let mode = (h >> 6) & 3;
    if version == 1 || layer == 0 || bitrate_index == 0 || bitrate_index == 15 || rate_index == 3 {
        return None;
    }
    const RATES: [[u32; 3]; 4] = [
        [11025, 12000, 8000],
        [0, 0, 0],
        [22050, 24000, 16000],
        [44100, 48000, 32000],
    ];
    const V1_L1: [u32; 15] = [
        0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448,
    ];
    const V1_L2: [u32; 15] = [0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384];
    const V1_L3: [u32; 15] = [0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320];
    const V2_L1: [u32; 15] = [0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256];
    const V2_L23: [u32; 15] = [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160];
    let sample_rate = RATES[version as usize][rate_index];
    let mpeg1 = version == 3;
    let kbps = match (mpeg1, layer) {
        (true, 3) => V1_L1[bitrate_index],
        (true, 2) => V1_L2[bitrate_index],
        (true, _) => V1_L3[bitrate_index],
        (false, 3) => V2_L1[bitrate_index],
        (false, _) => V2_L23[bitrate_index],
    };
    let bitrate = kbps * 1000;
    let (len, samples) = match layer {
        3 => ((12 * bitrate / sample_rate + padding) * 4, 384),
        2 => (144 * bitrate / sample_rate + padding, 1152),
        _ if mpeg1 => (144 * bitrate / sample_rate + padding, 1152),
        _ => (72 * bitrate / sample_rate + padding, 576),
    };
    if len < 4 {
        return None;
    }
    Some((len as usize, samples, sample_rate, if mode == 3 { 1 } else { 2 }))
}

fn sniff_mp3(bytes: &[u8]) -> Result<AudioInfo> {
    let mut pos = 0usize;
    if bytes.starts_with(b"ID3") {
        if bytes.len() < 10 {
            return Err(Error::invalid_audio("truncated MP3: ID3 tag cut short"));
        }
        let size = bytes[6..10]
            .iter()
            .fold(0usize, |acc, b| (acc << 7) | usize::from(b & 0x7F));
        let footer = if bytes[5] & 0x10 != 0 { 10 } else { 0 };
        pos = 10 + size + footer;
        // Some encoders pad after the tag; skip zero bytes.
        while bytes.get(pos) == Some(&0) {
            pos += 1;
        }
    }
    let mut frames = 0u64;
    let mut samples = 0u64;
    let mut first: Option<(u32, u16)> = None;
    while let Some(rest) = bytes.get(pos..) {
        let Some((len, n, rate, channels)) = mp3_frame_header(rest) else {
            break;
        };
        if let Some((r, _)) = first
            && r != rate
        {
            break;
        }
        first.get_or_insert((rate, channels));
        if rest.len() < len && frames > 0 {
            // A final partial frame is common when a stream was cut; the decoder drops it.
            break;
        }
        frames += 1;
        samples += u64::from(n);
        pos += len;
    }
    let Some((rate, channels)) = first else {
        return Err(Error::invalid_audio(
            "MP3 without a valid frame (ID3 tag only, or truncated)",
        ));
    };
    Ok(AudioInfo {
        format: AudioFormat::Mp3,
        duration_seconds: Some(samples as f64 / f64::from(rate)),
        channels: Some(channels),
        sample_rate: Some(rate),
    })
}

fn sniff_ogg(bytes: &[u8]) -> Result<AudioInfo> {
    let nsegs = *bytes
        .get(26)
        .ok_or_else(|| Error::invalid_audio("truncated Ogg: first page header cut short"))?
        as usize;
    let serial = u32_le(bytes, 14).unwrap_or(0);
    let payload = bytes
        .get(27 + nsegs..)
        .filter(|p| p.len() >= 8)
        .ok_or_else(|| Error::invalid_audio("truncated Ogg: first page without a codec header"))?;
    let mut info;
    let pre_skip;
    if payload.starts_with(b"OpusHead") {
        info = AudioInfo::new(AudioFormat::OggOpus);
        info.channels = payload.get(9).map(|&c| u16::from(c)).filter(|&c| c > 0);
        pre_skip = u64::from(u16_le(payload, 10).unwrap_or(0));
        // Opus always decodes at 48 kHz; granule positions count 48 kHz samples.
        info.sample_rate = Some(48_000);
    } else if payload.starts_with(b"\x01vorbis") {
        info = AudioInfo::new(AudioFormat::OggVorbis);
        info.channels = payload.get(11).map(|&c| u16::from(c)).filter(|&c| c > 0);
        info.sample_rate = u32_le(payload, 12)
            .filter(|&r| r > 0)
            .map(check_sample_rate)
            .transpose()?;
        pre_skip = 0;
    } else {
        return Err(Error::UnsupportedAudio {
            reason: "Ogg stream that is neither Opus nor Vorbis".into(),
        });
    }
    // The duration is the granule position of the stream's last page.
    if let Some(rate) = info.sample_rate {
        let mut end = bytes.len();
        while let Some(at) = find_last(&bytes[..end], b"OggS") {
            if u32_le(bytes, at + 14) == Some(serial)
                && let Some(granule) = u64_le(bytes, at + 6)
                && granule != u64::MAX
            {
                info.duration_seconds = Some(granule.saturating_sub(pre_skip) as f64 / f64::from(rate));
                break;
            }
            end = at;
        }
    }
    Ok(info)
}

fn find_last(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).rposition(|w| w == needle)
}

fn sniff_flac(bytes: &[u8]) -> Result<AudioInfo> {
    // "fLaC", then a metadata block header whose first block must be STREAMINFO (type 0, 34 bytes).
    let si = bytes
        .get(8..8 + 34)
        .filter(|_| bytes[4] & 0x7F == 0)
        .ok_or_else(|| Error::invalid_audio("truncated FLAC: no STREAMINFO block"))?;
    let sample_rate = (u32::from(si[10]) << 12) | (u32::from(si[11]) << 4) | (u32::from(si[12]) >> 4);
    let channels = u16::from((si[12] >> 1) & 7) + 1;
    let total = (u64::from(si[13] & 0x0F) << 32) | u64::from(u32_be(si, 14).unwrap_or(0));
    if sample_rate == 0 {
        return Err(Error::invalid_audio("FLAC STREAMINFO with sample rate 0"));
    }
    check_sample_rate(sample_rate)?;
    Ok(AudioInfo {
        format: AudioFormat::Flac,
        duration_seconds: (total > 0).then(|| total as f64 / f64::from(sample_rate)),
        channels: Some(channels),
        sample_rate: Some(sample_rate),
    })
}

/// Iterates ISO-BMFF boxes in `b`: (type, body).
fn mp4_boxes(b: &[u8]) -> impl Iterator<Item = (&[u8], &[u8])> {
    let mut pos = 0usize;
    std::iter::from_fn(move || {
        let size32 = u32_be(b, pos)? as usize;
        let kind = b.get(pos + 4..pos + 8)?;
        let (header, size) = match size32 {
            1 => (16usize, usize::try_from(u64_be(b, pos + 8)?).ok()?),
            0 => (8, b.len() - pos),
            n => (8, n),
        };
        if size < header {
            return None;
        }
        // A box running past the end is truncated: stop there.
        let end = pos.checked_add(size)?;
        let body = b.get(pos + header..end)?;
        pos = end;
        Some((kind, body))
    })
}

fn sniff_mp4(bytes: &[u8]) -> Result<AudioInfo> {
    let mut info = AudioInfo::new(AudioFormat::Mp4);
    let moov = mp4_boxes(bytes)
        .find(|(kind, _)| *kind == b"moov")
        .map(|(_, body)| body)
        .ok_or_else(|| Error::invalid_audio("truncated MP4/M4A: no `moov` box"))?;
    if let Some((_, mvhd)) = mp4_boxes(moov).find(|(kind, _)| *kind == b"mvhd") {
        let (timescale, duration) = if mvhd.first() == Some(&1) {
            (u32_be(mvhd, 20), u64_be(mvhd, 24))
        } else {
            (u32_be(mvhd, 12), u32_be(mvhd, 16).map(u64::from))
        };
        if let (Some(ts), Some(d)) = (timescale, duration)
            && ts > 0
        {
            info.duration_seconds = Some(d as f64 / f64::from(ts));
        }
    }
    Ok(info)
}

fn sniff_webm(bytes: &[u8]) -> Result<AudioInfo> {
    // The EBML header alone is ~40 bytes; anything shorter cannot hold audio.
    if bytes.len() < 64 {
        return Err(Error::invalid_audio("truncated WebM/Matroska: no segment"));
    }
    // DocType "webm" or "matroska" must appear in the EBML header.
    let head = &bytes[..bytes.len().min(64)];
    if !head.windows(4).any(|w| w == b"webm") && !head.windows(8).any(|w| w == b"matroska") {
        return Err(Error::invalid_audio(
            "EBML file that is neither WebM nor Matroska",
        ));
    }
    Ok(AudioInfo::new(AudioFormat::WebM))
}

// ------------------------------------------------------------------------------------------------ decoding

/// Decoded audio: f32 samples in −1..=1, one vector per channel, at `sample_rate`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DecodedAudio {
    /// Sample rate in Hz.
    pub sample_rate: u32,
    /// Samples per channel (all the same length). Channel 0 is Twilio's channel 1, the caller.
    pub channels: Vec<Vec<f32>>,
}

impl DecodedAudio {
    /// Frames (samples per channel).
    pub fn frames(&self) -> usize {
        self.channels.first().map_or(0, Vec::len)
    }

    /// Duration in seconds.
    pub fn duration_seconds(&self) -> f64 {
        if self.sample_rate == 0 {
            return 0.0;
        }
        self.frames() as f64 / f64::from(self.sample_rate)
    }
}

/// Decodes the audio to f32 PCM per channel with symphonia.
///
/// # Errors
/// [`Error::UnsupportedAudio`] for Opus (no pure-Rust decoder in symphonia); [`Error::InvalidAudio`] when the
/// stream cannot be decoded or holds no samples.
pub fn decode_pcm(audio: &AudioInput) -> Result<DecodedAudio> {
    use symphonia::core::audio::SampleBuffer;
    use symphonia::core::codecs::{CODEC_TYPE_NULL, DecoderOptions};
    use symphonia::core::errors::Error as SymError;
    use symphonia::core::formats::FormatOptions;
    use symphonia::core::io::MediaSourceStream;
    use symphonia::core::meta::MetadataOptions;
    use symphonia::core::probe::Hint;

    if !audio.format().is_decodable() {
        return Err(Error::UnsupportedAudio {
            reason: format!("{:?} cannot be decoded locally (no Opus decoder)", audio.format()),
        });
    }
    let bad = |what: &str, e: SymError| Error::invalid_audio(format!("{what}: {e}"));
    let mss = MediaSourceStream::new(
        Box::new(std::io::Cursor::new(audio.bytes().clone())),
        Default::default(),
    );
    let mut hint = Hint::new();
    hint.with_extension(audio.format().extension());
    let probed = symphonia::default::get_probe()
        .format(&hint, mss, &FormatOptions::default(), &MetadataOptions::default())
        .map_err(|e| bad("cannot read the container", e))?;
    let mut reader = probed.format;
    let track = reader
        .tracks()
        .iter()
        .find(|t| t.codec_params.codec != CODEC_TYPE_NULL)
        .ok_or_else(|| Error::invalid_audio("no audio track"))?;
    let track_id = track.id;
    let mut decoder = symphonia::default::get_codecs()
        .make(&track.codec_params, &DecoderOptions::default())
        .map_err(|e| match e {
            SymError::Unsupported(what) => Error::UnsupportedAudio {
                reason: format!("codec not supported: {what}"),
            },
            other => bad("cannot create a decoder", other),
        })?;
    let mut sample_rate = track.codec_params.sample_rate.unwrap_or(0);
    if sample_rate != 0 {
        check_sample_rate(sample_rate)?;
    }
    let mut channels: Vec<Vec<f32>> = Vec::new();
    let mut buf: Option<SampleBuffer<f32>> = None;
    loop {
        let packet = match reader.next_packet() {
            Ok(p) => p,
            Err(SymError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
            Err(SymError::ResetRequired) => break,
            Err(e) => return Err(bad("cannot read a packet", e)),
        };
        if packet.track_id() != track_id {
            continue;
        }
        let decoded = match decoder.decode(&packet) {
            Ok(d) => d,
            // A corrupt packet is skipped, as players do; a stream of only corrupt packets ends up empty.
            Err(SymError::DecodeError(_)) => continue,
            Err(SymError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
            Err(e) => return Err(bad("cannot decode", e)),
        };
        let spec = *decoded.spec();
        sample_rate = check_sample_rate(spec.rate)?;
        let n_ch = spec.channels.count().max(1);
        if channels.len() != n_ch {
            if channels.iter().any(|c| !c.is_empty()) {
                return Err(Error::UnsupportedAudio {
                    reason: "channel count changes mid-stream".into(),
                });
            }
            channels = vec![Vec::new(); n_ch];
        }
        let needed = decoded.capacity() as u64;
        let sb = match &mut buf {
            Some(sb) if sb.capacity() as u64 >= needed * n_ch as u64 => sb,
            _ => buf.insert(SampleBuffer::<f32>::new(needed, spec)),
        };
        sb.copy_interleaved_ref(decoded);
        for frame in sb.samples().chunks_exact(n_ch) {
            for (ch, &s) in channels.iter_mut().zip(frame) {
                ch.push(s);
            }
        }
    }
    if channels.first().is_none_or(Vec::is_empty) || sample_rate == 0 {
        return Err(Error::invalid_audio("the audio decodes to no samples"));
    }
    Ok(DecodedAudio {
        sample_rate,
        channels,
    })
}

/// Default silence gate: audio whose loudest 30 ms frame is quieter than this (dBFS RMS) holds no speech.
pub const DEFAULT_SILENCE_GATE_DBFS: f64 = -60.0;

/// The level in dBFS (RMS) of the loudest 30 ms frame of any channel; −200 for no samples or digital
/// silence. The same measure as the local Whisper backend's silence gate.
pub fn loudest_frame_dbfs(audio: &DecodedAudio) -> f64 {
    audio
        .channels
        .iter()
        .map(|c| samples_loudest_frame_dbfs(c, audio.sample_rate))
        .fold(-200.0, f64::max)
}

/// [`loudest_frame_dbfs`] of one stream of samples at `sample_rate`: the level in dBFS (RMS) of its loudest
/// 30 ms frame, −200 for no samples or digital silence. Both the OpenAI backend's and the local Whisper
/// backend's silence gates use this measure.
pub fn samples_loudest_frame_dbfs(samples: &[f32], sample_rate: u32) -> f64 {
    let frame = ((f64::from(sample_rate) * 0.03) as usize).max(1);
    let peak = samples
        .chunks(frame)
        .map(|f| (f.iter().map(|&s| f64::from(s) * f64::from(s)).sum::<f64>() / f.len() as f64).sqrt())
        .fold(0.0, f64::max);
    if peak > 0.0 {
        (20.0 * peak.log10()).max(-200.0)
    } else {
        -200.0
    }
}

/// Whether no 30 ms frame of any channel reaches `gate_dbfs` ([`DEFAULT_SILENCE_GATE_DBFS`]): such audio
/// is not worth uploading, and models that return no segments (the gpt-4o family) would otherwise invent a
/// "Thank you." for it.
pub fn is_silent(audio: &DecodedAudio, gate_dbfs: f64) -> bool {
    loudest_frame_dbfs(audio) < gate_dbfs
}

/// Mixes all channels down to mono and resamples to 16 kHz, the input Whisper models want.
pub fn to_mono_16k(audio: &DecodedAudio) -> Vec<f32> {
    let frames = audio.frames();
    let n = audio.channels.len().max(1) as f32;
    let mono: Vec<f32> = (0..frames)
        .map(|i| {
            audio
                .channels
                .iter()
                .map(|c| c.get(i).copied().unwrap_or(0.0))
                .sum::<f32>()
                / n
        })
        .collect();
    resample(&mono, audio.sample_rate, WHISPER_SAMPLE_RATE)
}

/// One channel (0-based index; index 0 is Twilio's channel 1, the caller) resampled to 16 kHz, or `None`
/// when there is no such channel.
pub fn channel_16k(audio: &DecodedAudio, index: usize) -> Option<Vec<f32>> {
    let channel = audio.channels.get(index)?;
    Some(resample(channel, audio.sample_rate, WHISPER_SAMPLE_RATE))
}

/// Resamples mono audio from `from` Hz to `to` Hz with rubato's FFT resampler. The output has exactly
/// `ceil(len × to / from)` samples and no added delay.
///
/// Rates outside [`MIN_SAMPLE_RATE`]..=[`MAX_SAMPLE_RATE`] (which [`decode_pcm`] never returns) leave the
/// samples unchanged rather than allocate without bound.
pub fn resample(samples: &[f32], from: u32, to: u32) -> Vec<f32> {
    let supported = |r: u32| (MIN_SAMPLE_RATE..=MAX_SAMPLE_RATE).contains(&r);
    if from == to || samples.is_empty() || !supported(from) || !supported(to) {
        return samples.to_vec();
    }
    let expected = (samples.len() as u64 * u64::from(to)).div_ceil(u64::from(from)) as usize;
    match resample_fft(samples, from, to, expected) {
        Some(out) => out,
        None => resample_linear(samples, from, to, expected),
    }
}

fn resample_fft(samples: &[f32], from: u32, to: u32, expected: usize) -> Option<Vec<f32>> {
    use rubato::{FftFixedIn, Resampler};
    let mut resampler = FftFixedIn::<f32>::new(from as usize, to as usize, 1024, 2, 1).ok()?;
    let delay = resampler.output_delay();
    let mut out: Vec<f32> = Vec::with_capacity(expected + delay + 2048);
    let mut pos = 0;
    loop {
        let need = resampler.input_frames_next();
        if pos + need > samples.len() {
            break;
        }
        let chunk = resampler.process(&[&samples[pos..pos + need]], None).ok()?;
        out.extend_from_slice(chunk.first()?);
        pos += need;
    }
    if pos < samples.len() {
        let chunk = resampler.process_partial(Some(&[&samples[pos..]]), None).ok()?;
        out.extend_from_slice(chunk.first()?);
    }
    while out.len() < expected + delay {
        let chunk = resampler.process_partial(None::<&[&[f32]]>, None).ok()?;
        let chunk = chunk.first()?;
        if chunk.is_empty() {
            break;
        }
        out.extend_from_slice(chunk);
    }
    out.drain(..delay.min(out.len()));
    out.resize(expected, 0.0);
    Some(out)
}

fn resample_linear(samples: &[f32], from: u32, to: u32, expected: usize) -> Vec<f32> {
    let step = f64::from(from) / f64::from(to);
    (0..expected)
        .map(|i| {
            let x = i as f64 * step;
            let i0 = x.floor() as usize;
            let frac = (x - i0 as f64) as f32;
            let a = samples.get(i0).copied().unwrap_or(0.0);
            let b = samples.get(i0 + 1).copied().unwrap_or(a);
            a + (b - a) * frac
        })
        .collect()
}

/// Encodes f32 channels as a 16-bit PCM WAV file (with hound). Samples are clamped to −1..=1.
///
/// # Errors
/// [`Error::InvalidAudio`] when there are no channels, channels differ in length or the rate is 0.
pub fn encode_wav_pcm16(channels: &[Vec<f32>], sample_rate: u32) -> Result<Bytes> {
    if channels.is_empty() || sample_rate == 0 {
        return Err(Error::invalid_audio("nothing to encode"));
    }
    let frames = channels[0].len();
    if channels.iter().any(|c| c.len() != frames) {
        return Err(Error::invalid_audio("channels differ in length"));
    }
    let spec = hound::WavSpec {
        channels: u16::try_from(channels.len()).map_err(|_| Error::invalid_audio("too many channels"))?,
        sample_rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut cursor = std::io::Cursor::new(Vec::with_capacity(44 + frames * channels.len() * 2));
    let to_local = |e: hound::Error| Error::Local {
        message: "WAV encoding failed".into(),
        source: Some(Box::new(e)),
    };
    {
        let mut writer = hound::WavWriter::new(&mut cursor, spec).map_err(to_local)?;
        for i in 0..frames {
            for ch in channels {
                let s = (ch[i].clamp(-1.0, 1.0) * 32767.0).round() as i16;
                writer.write_sample(s).map_err(to_local)?;
            }
        }
        writer.finalize().map_err(to_local)?;
    }
    Ok(Bytes::from(cursor.into_inner()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_silence_gate_measures_the_loudest_frame_of_any_channel() {
        let quiet = DecodedAudio {
            sample_rate: 8000,
            channels: vec![vec![0.0; 8000], vec![0.0; 8000]],
        };
        assert_eq!(loudest_frame_dbfs(&quiet), -200.0);
        assert!(is_silent(&quiet, DEFAULT_SILENCE_GATE_DBFS));
        // One 30 ms frame at RMS 0.5 (−6 dBFS) on the second channel is enough.
        let mut loud = quiet.clone();
        loud.channels[1][240..480].iter_mut().for_each(|s| *s = 0.5);
        assert!((loudest_frame_dbfs(&loud) - 20.0 * 0.5f64.log10()).abs() < 1e-9);
        assert!(!is_silent(&loud, DEFAULT_SILENCE_GATE_DBFS));
        // A steady −70 dBFS hiss is below the gate.
        let hiss = DecodedAudio {
            sample_rate: 8000,
            channels: vec![vec![10f32.powf(-70.0 / 20.0); 8000]],
        };
        assert!((loudest_frame_dbfs(&hiss) + 70.0).abs() < 1e-3);
        assert!(is_silent(&hiss, DEFAULT_SILENCE_GATE_DBFS));
    }

    fn wav(tag: u16, channels: u16, rate: u32, bits: u16, data: &[u8]) -> Vec<u8> {
        let block = channels * bits.div_ceil(8);
        let mut v = Vec::new();
        v.extend_from_slice(b"RIFF");
        v.extend_from_slice(&(36 + data.len() as u32).to_le_bytes());
        v.extend_from_slice(b"WAVEfmt ");
        v.extend_from_slice(&16u32.to_le_bytes());
        v.extend_from_slice(&tag.to_le_bytes());
        v.extend_from_slice(&channels.to_le_bytes());
        v.extend_from_slice(&rate.to_le_bytes());
        v.extend_from_slice(&(rate * u32::from(block)).to_le_bytes());
        v.extend_from_slice(&block.to_le_bytes());
        v.extend_from_slice(&bits.to_le_bytes());
        v.extend_from_slice(b"data");
        v.extend_from_slice(&(data.len() as u32).to_le_bytes());
        v.extend_from_slice(data);
        v
    }

    #[test]
    fn wav_mulaw_two_channels_is_recognised_with_duration() {
        let bytes = wav(7, 2, 8000, 8, &[0xFF; 16000]);
        let info = sniff(&bytes).unwrap();
        assert_eq!(info.format, AudioFormat::WavMulaw);
        assert_eq!(info.channels, Some(2));
        assert_eq!(info.sample_rate, Some(8000));
        assert_eq!(info.duration_seconds, Some(1.0));
        assert_eq!(
            sniff(&wav(6, 1, 8000, 8, &[0xD5; 8])).unwrap().format,
            AudioFormat::WavAlaw
        );
        assert_eq!(
            sniff(&wav(1, 1, 16000, 16, &[0; 32])).unwrap().format,
            AudioFormat::WavPcm
        );
    }

    #[test]
    fn bad_input_is_invalid_audio_with_a_reason() {
        for (bytes, needle) in [
            (Vec::new(), "empty"),
            (b"RIFF\x00\x00".to_vec(), "truncated"),
            (b"hello world, not audio".to_vec(), "unknown"),
            (
                b"ID3\x04\x00\x00\x00\x00\x00\x00".to_vec(),
                "MP3 without a valid frame",
            ),
        ] {
            match sniff(&bytes) {
                Err(Error::InvalidAudio { reason }) => assert!(reason.contains(needle), "{reason}"),
                other => panic!("{needle}: {other:?}"),
            }
        }
        // Data chunk declaring more than is present: a cut-off download.
        let mut cut = wav(1, 1, 8000, 16, &[0; 1000]);
        cut.truncate(500);
        assert!(matches!(sniff(&cut), Err(Error::InvalidAudio { reason }) if reason.contains("truncated")));
        // Empty data chunk.
        assert!(matches!(
            sniff(&wav(1, 1, 8000, 16, &[])),
            Err(Error::InvalidAudio { .. })
        ));
        // ADPCM is recognised but unsupported.
        assert!(matches!(
            sniff(&wav(2, 1, 8000, 4, &[0; 10])),
            Err(Error::UnsupportedAudio { .. })
        ));
    }

    #[test]
    fn mp3_frames_are_counted() {
        // MPEG1 layer III, 128 kbit/s, 44.1 kHz, mono: 417-byte frames of 1152 samples.
        let mut frame = vec![0u8; 417];
        frame[..4].copy_from_slice(&[0xFF, 0xFB, 0x90, 0xC4]);
        let mut bytes = b"ID3\x03\x00\x00\x00\x00\x00\x05abcde".to_vec();
        for _ in 0..10 {
            bytes.extend_from_slice(&frame);
        }
        let info = sniff(&bytes).unwrap();
        assert_eq!(info.format, AudioFormat::Mp3);
        assert_eq!(info.channels, Some(1));
        assert_eq!(info.sample_rate, Some(44100));
        let d = info.duration_seconds.unwrap();
        assert!((d - 11520.0 / 44100.0).abs() < 1e-9, "{d}");
    }

    #[test]
    fn ogg_flac_mp4_webm_magic() {
        // Ogg Opus: first page with OpusHead, last page granule 48000 + pre-skip 312.
        let mut ogg = b"OggS\x00\x02".to_vec();
        ogg.extend_from_slice(&0u64.to_le_bytes());
        ogg.extend_from_slice(&7u32.to_le_bytes()); // serial
        ogg.extend_from_slice(&[0; 8]);
        ogg.push(1);
        ogg.push(19);
        ogg.extend_from_slice(b"OpusHead\x01\x02\x38\x01\x80\xbb\x00\x00\x00\x00\x00");
        ogg.extend_from_slice(b"OggS\x00\x04");
        ogg.extend_from_slice(&(48_000u64 + 312).to_le_bytes());
        ogg.extend_from_slice(&7u32.to_le_bytes());
        ogg.extend_from_slice(&[0; 9]);
        let info = sniff(&ogg).unwrap();
        assert_eq!(info.format, AudioFormat::OggOpus);
        assert_eq!(info.channels, Some(2));
        assert_eq!(info.duration_seconds, Some(1.0));

        let mut flac = b"fLaC\x80\x00\x00\x22".to_vec();
        let mut si = [0u8; 34];
        // 8000 Hz, 1 channel, 16 bits, 16000 samples.
        si[10] = (8000 >> 12) as u8;
        si[11] = (8000 >> 4) as u8;
        si[12] = ((8000 & 0xF) << 4) as u8; // channels − 1 = 0 in bits 1..=3
        si[13] = 0xF0;
        si[14..18].copy_from_slice(&16000u32.to_be_bytes());
        flac.extend_from_slice(&si);
        let info = sniff(&flac).unwrap();
        assert_eq!(
            (
                info.format,
                info.sample_rate,
                info.channels,
                info.duration_seconds
            ),
            (AudioFormat::Flac, Some(8000), Some(1), Some(2.0))
        );

        let mut mp4 = Vec::new();
        mp4.extend_from_slice(&16u32.to_be_bytes());
        mp4.extend_from_slice(b"ftypM4A \x00\x00\x00\x00");
        let mut mvhd = vec![0u8; 100];
        mvhd[12..16].copy_from_slice(&1000u32.to_be_bytes());
        mvhd[16..20].copy_from_slice(&2500u32.to_be_bytes());
        mp4.extend_from_slice(&(8 + 8 + mvhd.len() as u32).to_be_bytes());
        mp4.extend_from_slice(b"moov");
        mp4.extend_from_slice(&(8 + mvhd.len() as u32).to_be_bytes());
        mp4.extend_from_slice(b"mvhd");
        mp4.extend_from_slice(&mvhd);
        let info = sniff(&mp4).unwrap();
        assert_eq!(
            (info.format, info.duration_seconds),
            (AudioFormat::Mp4, Some(2.5))
        );
        assert!(matches!(sniff(&mp4[..24]), Err(Error::InvalidAudio { .. })));

        let mut webm = vec![0x1A, 0x45, 0xDF, 0xA3, 0x9F, 0x42, 0x82, 0x84];
        webm.extend_from_slice(b"webm");
        webm.resize(100, 0);
        assert_eq!(sniff(&webm).unwrap().format, AudioFormat::WebM);
        assert!(matches!(sniff(&webm[..20]), Err(Error::InvalidAudio { .. })));
    }

    #[test]
    fn upload_filename_keeps_a_matching_name_only() {
        let a = AudioInput::from_bytes(wav(1, 1, 8000, 16, &[0; 16])).unwrap();
        assert_eq!(a.upload_filename(), "audio.wav");
        assert_eq!(a.clone().with_filename("call.WAV").upload_filename(), "call.WAV");
        assert_eq!(a.with_filename("call.mp3").upload_filename(), "audio.wav");
    }

    #[test]
    fn resampling_doubles_length_and_keeps_a_tone() {
        let tone: Vec<f32> = (0..8000)
            .map(|i| (2.0 * std::f32::consts::PI * 440.0 * i as f32 / 8000.0).sin() * 0.5)
            .collect();
        let up = resample(&tone, 8000, 16000);
        assert_eq!(up.len(), 16000);
        // Compare against the analytic tone at 16 kHz away from the edges.
        let err: f32 = (2000..14000)
            .map(|i| {
                let want = (2.0 * std::f32::consts::PI * 440.0 * i as f32 / 16000.0).sin() * 0.5;
                (up[i] - want).abs()
            })
            .fold(0.0, f32::max);
        assert!(err < 0.02, "max error {err}");
    }
}
