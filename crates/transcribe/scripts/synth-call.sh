#!/usr/bin/env bash
# Synthesise a realistic inbound trades call with espeak-ng and convert it with sox into the formats a phone
# system delivers, for the local-Whisper tests and benchmark.
#
# Usage: synth-call.sh OUT_DIR
#
# Writes into OUT_DIR (overwriting):
#   call.txt             the spoken text (the reference; tests compare key words, not the whole string)
#   call-8k-mulaw.wav    8 kHz mono G.711 µ-law WAV, band-passed to the 300–3400 Hz telephone band (phone quality)
#   call-16k-pcm.wav     16 kHz mono 16-bit PCM WAV (what a wideband recording looks like)
#   silence-8k-mulaw.wav 8 s of 8 kHz µ-law digital silence with a faint hiss (a caller who never spoke)
# Needs espeak-ng and sox on PATH (Debian: apt-get install espeak-ng sox). Deterministic for a given
# espeak-ng/sox version: sox's dither and noise are seeded with -R / fixed seeds.
set -euo pipefail

out=${1:?usage: synth-call.sh OUT_DIR}
mkdir -p "$out"
for tool in espeak-ng sox; do
  command -v "$tool" >/dev/null || { echo "synth-call.sh: $tool is not on PATH" >&2; exit 127; }
done

text="Hi, this is Maria Lopez. I live at 42 Oak Street. My kitchen sink is leaking all over the floor. \
Could a plumber come out on Tuesday, at ten in the morning? Thank you."
printf '%s\n' "$text" >"$out/call.txt"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# en-us voice, 140 words per minute: an unhurried caller. espeak-ng writes 22.05 kHz mono PCM.
espeak-ng -v en-us -s 140 -w "$tmp/raw.wav" "$text"
# Half a second of lead-in and trailing room tone, as a real recording has.
sox -R "$tmp/raw.wav" -r 16000 -c 1 -b 16 -e signed-integer "$out/call-16k-pcm.wav" pad 0.5 0.5
sox -R "$tmp/raw.wav" -r 8000 -c 1 -e u-law "$out/call-8k-mulaw.wav" sinc 300-3400 pad 0.5 0.5
# Silence: a very quiet white-noise floor (about -70 dBFS) rather than all-zero samples, like an open line.
sox -R -n -r 8000 -c 1 -e u-law "$out/silence-8k-mulaw.wav" synth 8 whitenoise vol 0.0003
