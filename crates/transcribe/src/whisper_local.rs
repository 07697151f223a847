//! Local Whisper transcription (feature `whisper-local`). Not written yet.
