//! Checking a whisper.cpp ggml model file before whisper.cpp loads it.
//!
//! whisper.cpp's loader accepts a file that ends right after its vocabulary as an "empty model for testing"
//! and does not notice when the last tensor's data is cut short, so a truncated download would load and then
//! produce garbage. This walks the file's structure — header, mel filters, vocabulary and every tensor
//! record — with seeks (the tensor data is not read), and insists that the tensors end exactly at the end of
//! the file and that there are as many as a Whisper model of the declared size has.
//!
//! The layout is the one whisper.cpp's `models/convert-pt-to-ggml.py` writes: magic `0x67676d6c`, 11 `i32`
//! hyper-parameters, the mel filter bank (`i32` rows, `i32` columns, `f32` values), the vocabulary (`i32`
//! count, then `u32` length + bytes per token), then tensor records until the end of the file (`i32` dims,
//! `i32` name length, `i32` ggml type, `i32` sizes innermost first, the name, the data).

use std::io::{self, Read, Seek, SeekFrom};

/// What the structural walk learnt about a model file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ModelSummary {
    pub(crate) n_vocab: i32,
    pub(crate) n_audio_layer: i32,
    pub(crate) n_text_layer: i32,
    pub(crate) n_mels: i32,
    /// Tensor records found; `None` when a tensor of a type unknown to this check stopped the walk early.
    pub(crate) tensors: Option<usize>,
}

const MAGIC: u32 = 0x6767_6d6c;
const MAX_NAME: i32 = 1024;

/// Walks the file and returns its summary, or says in words what is wrong with it.
pub(crate) fn inspect<R: Read + Seek>(file: &mut R) -> Result<ModelSummary, String> {
    let len = file.seek(SeekFrom::End(0)).map_err(io_problem)?;
    file.seek(SeekFrom::Start(0)).map_err(io_problem)?;
    let mut r = Walker { file, len };

    if r.u32("the magic number")? != MAGIC {
        return Err("it does not start with the ggml magic number".into());
    }
    let mut hp = [0i32; 11];
    for value in &mut hp {
        *value = r.i32("the hyper-parameters")?;
    }
    let [
        n_vocab,
        n_audio_ctx,
        n_audio_state,
        n_audio_head,
        n_audio_layer,
        n_text_ctx,
        n_text_state,
        n_text_head,
        n_text_layer,
        n_mels,
        _ftype,
    ] = hp;
    let sizes = [
        n_vocab,
        n_audio_ctx,
        n_audio_state,
        n_audio_head,
        n_text_ctx,
        n_text_state,
        n_text_head,
        n_mels,
    ];
    if sizes.iter().any(|&v| !(1..=1_000_000).contains(&v))
        || !(0..=256).contains(&n_audio_layer)
        || !(0..=256).contains(&n_text_layer)
    {
        return Err(format!("its hyper-parameters are implausible ({hp:?})"));
    }

    let rows = r.i32("the mel filter size")?;
    let cols = r.i32("the mel filter size")?;
    if !(1..=1024).contains(&rows) || !(1..=65_536).contains(&cols) {
        return Err(format!("its mel filter bank size {rows}×{cols} is implausible"));
    }
    r.skip(
        u64::from(rows.unsigned_abs()) * u64::from(cols.unsigned_abs()) * 4,
        "the mel filters",
    )?;

    let words = r.i32("the vocabulary size")?;
    if !(0..=n_vocab).contains(&words) {
        return Err(format!(
            "it lists {words} vocabulary entries for a vocabulary of {n_vocab}"
        ));
    }
    for _ in 0..words {
        let word_len = r.u32("the vocabulary")?;
        if word_len > 1024 {
            return Err(format!("a vocabulary entry claims {word_len} bytes"));
        }
        r.skip(u64::from(word_len), "the vocabulary")?;
    }

    let mut tensors = 0usize;
    while r.position()? < r.len {
        let n_dims = r.i32("a tensor header")?;
        let name_len = r.i32("a tensor header")?;
        let ggml_type = r.i32("a tensor header")?;
        if !(1..=4).contains(&n_dims) || !(1..=MAX_NAME).contains(&name_len) {
            return Err(format!("tensor {} has a malformed header", tensors + 1));
        }
        let mut elements: u64 = 1;
        let mut row = 0u64;
        for d in 0..n_dims {
            let size = r.i32("a tensor header")?;
            if size < 1 {
                return Err(format!("tensor {} has a dimension of {size}", tensors + 1));
            }
            if d == 0 {
                row = u64::from(size.unsigned_abs());
            }
            elements = elements.saturating_mul(u64::from(size.unsigned_abs()));
        }
        r.skip(u64::from(name_len.unsigned_abs()), "a tensor name")?;
        let Some((block, bytes_per_block)) = type_size(ggml_type) else {
            // A type this check does not know (a newer quantisation): leave the rest to whisper.cpp.
            return Ok(summary(hp, None));
        };
        if !row.is_multiple_of(block) {
            return Err(format!(
                "tensor {} has rows that do not fit its type",
                tensors + 1
            ));
        }
        r.skip(elements / block * bytes_per_block, "tensor data")?;
        tensors += 1;
    }
    let expected = expected_tensors(n_audio_layer, n_text_layer);
    if tensors != expected {
        return Err(format!(
            "it holds {tensors} tensors where a Whisper model with {n_audio_layer} encoder and {n_text_layer} \
             decoder layers has {expected}"
        ));
    }
    Ok(summary(hp, Some(tensors)))
}

fn summary(hp: [i32; 11], tensors: Option<usize>) -> ModelSummary {
    ModelSummary {
        n_vocab: hp[0],
        n_audio_layer: hp[4],
        n_text_layer: hp[8],
        n_mels: hp[9],
        tensors,
    }
}

/// Tensors of a Whisper model: the encoder's 2 convolutions (weight and bias), positional embedding and final
/// norm (7) plus 15 per layer; the decoder's token and positional embeddings and final norm (4) plus 24 per
/// layer (self-attention and MLP as in the encoder, and cross-attention).
pub(crate) fn expected_tensors(n_audio_layer: i32, n_text_layer: i32) -> usize {
    let layers = |n: i32| usize::try_from(n).unwrap_or(0);
    7 + 15 * layers(n_audio_layer) + 4 + 24 * layers(n_text_layer)
}

/// (elements per block, bytes per block) of the ggml tensor types whisper.cpp models use.
fn type_size(ggml_type: i32) -> Option<(u64, u64)> {
    Some(match ggml_type {
        0 => (1, 4),      // F32
        1 | 30 => (1, 2), // F16, BF16
        2 => (32, 18),    // Q4_0
        3 => (32, 20),    // Q4_1
        6 => (32, 22),    // Q5_0
        7 => (32, 24),    // Q5_1
        8 => (32, 34),    // Q8_0
        9 => (32, 36),    // Q8_1
        10 => (256, 84),  // Q2_K
        11 => (256, 110), // Q3_K
        12 => (256, 144), // Q4_K
        13 => (256, 176), // Q5_K
        14 => (256, 210), // Q6_K
        15 => (256, 292), // Q8_K
        _ => return None,
    })
}

struct Walker<'a, R> {
    file: &'a mut R,
    len: u64,
}

impl<R: Read + Seek> Walker<'_, R> {
    fn position(&mut self) -> Result<u64, String> {
        self.file.stream_position().map_err(io_problem)
    }

    fn bytes4(&mut self, what: &str) -> Result<[u8; 4], String> {
        let mut buf = [0u8; 4];
        self.file.read_exact(&mut buf).map_err(|e| match e.kind() {
            io::ErrorKind::UnexpectedEof => format!("it ends in the middle of {what} (truncated?)"),
            _ => io_problem(e),
        })?;
        Ok(buf)
    }

    fn u32(&mut self, what: &str) -> Result<u32, String> {
        self.bytes4(what).map(u32::from_le_bytes)
    }

    fn i32(&mut self, what: &str) -> Result<i32, String> {
        self.bytes4(what).map(i32::from_le_bytes)
    }

    fn skip(&mut self, bytes: u64, what: &str) -> Result<(), String> {
        let target = self.position()?.saturating_add(bytes);
        if target > self.len {
            return Err(format!("it ends in the middle of {what} (truncated?)"));
        }
        self.file.seek(SeekFrom::Start(target)).map_err(io_problem)?;
        Ok(())
    }
}

fn io_problem(e: io::Error) -> String {
    format!("it cannot be read ({e})")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    /// A structurally valid model with no layers: 11 tensors, tiny sizes.
    fn tiny_model(tensor_type: i32) -> Vec<u8> {
        let mut f = Vec::new();
        let i32s = |f: &mut Vec<u8>, v: &[i32]| v.iter().for_each(|x| f.extend(x.to_le_bytes()));
        i32s(&mut f, &[0x6767_6d6c, 8, 4, 32, 1, 0, 4, 32, 1, 0, 2, 1]);
        i32s(&mut f, &[2, 3]);
        f.extend([0u8; 2 * 3 * 4]);
        i32s(&mut f, &[2]);
        for word in [&b"hi"[..], b" there"] {
            f.extend((word.len() as u32).to_le_bytes());
            f.extend(word);
        }
        for name in [
            "encoder.conv1.weight",
            "encoder.conv1.bias",
            "encoder.conv2.weight",
            "encoder.conv2.bias",
            "encoder.positional_embedding",
            "encoder.ln_post.weight",
            "encoder.ln_post.bias",
            "decoder.positional_embedding",
            "decoder.token_embedding.weight",
            "decoder.ln.weight",
            "decoder.ln.bias",
        ] {
            let (dims, bytes) = match tensor_type {
                0 => ([32, 2], 32 * 2 * 4),
                1 => ([32, 2], 32 * 2 * 2),
                2 => ([32, 2], 2 * 18),
                _ => ([32, 2], 7),
            };
            i32s(&mut f, &[2, name.len() as i32, tensor_type, dims[0], dims[1]]);
            f.extend(name.as_bytes());
            f.extend(vec![0u8; bytes]);
        }
        f
    }

    #[test]
    fn a_complete_model_passes_and_is_summarised() {
        for t in [0, 1, 2] {
            let s = inspect(&mut Cursor::new(tiny_model(t))).unwrap();
            assert_eq!(s.tensors, Some(11));
            assert_eq!(
                (s.n_vocab, s.n_audio_layer, s.n_text_layer, s.n_mels),
                (8, 0, 0, 2)
            );
        }
    }

    #[test]
    fn a_tensor_type_it_does_not_know_ends_the_walk_without_judging() {
        assert_eq!(inspect(&mut Cursor::new(tiny_model(99))).unwrap().tensors, None);
    }

    #[test]
    fn every_truncation_is_caught() {
        let model = tiny_model(1);
        // Every cut point: inside the header, filters, vocabulary, a tensor header or data, or between tensors.
        for cut in 0..model.len() {
            let err = inspect(&mut Cursor::new(&model[..cut])).unwrap_err();
            assert!(
                err.contains("truncated") || err.contains("tensors where") || err.contains("magic"),
                "cut at {cut}: {err}"
            );
        }
    }

    #[test]
    fn trailing_bytes_and_wrong_counts_are_caught() {
        let mut model = tiny_model(1);
        model.extend([1, 2, 3]);
        assert!(inspect(&mut Cursor::new(model)).is_err());
    }

    #[test]
    fn other_files_are_refused_with_a_reason() {
        assert!(
            inspect(&mut Cursor::new(b"GGUF\x03\x00\x00\x00".to_vec()))
                .unwrap_err()
                .contains("magic")
        );
        let mut bad = tiny_model(1);
        bad[4..8].copy_from_slice(&(-5i32).to_le_bytes());
        assert!(
            inspect(&mut Cursor::new(bad))
                .unwrap_err()
                .contains("implausible")
        );
    }

    #[test]
    fn tensor_counts_match_the_real_models() {
        // tiny (4+4 layers) has 167 tensors, base (6+6) 245, large (32+32) 1259.
        assert_eq!(expected_tensors(4, 4), 167);
        assert_eq!(expected_tensors(6, 6), 245);
        assert_eq!(expected_tensors(32, 32), 1259);
    }
}
