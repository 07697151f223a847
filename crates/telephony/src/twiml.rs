//! TwiML for voice: a typed builder for the XML documents Twilio fetches from our webhooks.
//!
//! A [`VoiceResponse`] holds the verbs Twilio runs in order ([`Say`], [`Play`], [`Pause`], [`Record`],
//! [`Dial`], [`Gather`], [`Reject`], [`Redirect`] and `<Hangup>`). Each verb is built with `new()` and
//! `with_*()` setters; attributes that are left unset are not written, so Twilio applies its own default.
//! Serve the result of [`VoiceResponse::to_xml`] with the [`CONTENT_TYPE`] header.
//!
//! ```
//! use callbook_telephony::twiml::{Method, Record, RecordingCallbackEvent, Say, VoiceResponse};
//!
//! let twiml = VoiceResponse::new()
//!     .say(Say::new("After the beep, tell us what you need.").with_voice("Polly.Joanna"))
//!     .record(
//!         Record::new()
//!             .with_action("https://hooks.example.com/twilio/record-done?job=7f3c&try=1")
//!             .with_method(Method::Post)
//!             .with_max_length(300)
//!             .with_recording_status_callback_event([
//!                 RecordingCallbackEvent::Completed,
//!                 RecordingCallbackEvent::Absent,
//!             ]),
//!     )
//!     .say("We did not catch that. Goodbye.")
//!     .hangup();
//!
//! assert_eq!(
//!     twiml.to_xml(),
//!     concat!(
//!         r#"<?xml version="1.0" encoding="UTF-8"?><Response>"#,
//!         r#"<Say voice="Polly.Joanna">After the beep, tell us what you need.</Say>"#,
//!         r#"<Record action="https://hooks.example.com/twilio/record-done?job=7f3c&amp;try=1" "#,
//!         r#"maxLength="300" method="POST" recordingStatusCallbackEvent="completed absent" />"#,
//!         r#"<Say>We did not catch that. Goodbye.</Say><Hangup /></Response>"#,
//!     )
//! );
//! ```
//!
//! # Serialization
//!
//! The output is byte-identical to twilio-python's `VoiceResponse.to_xml()` (twilio 9.13.0 on CPython
//! 3.11, whose serializer is `xml.etree.ElementTree`) for the same document; the tests compare against
//! strings that library produced. Concretely:
//!
//! - the document starts with `<?xml version="1.0" encoding="UTF-8"?>` and has no whitespace between
//!   elements;
//! - attributes are sorted by name (byte order), not kept in the order they were set;
//! - an element with neither text nor children is self-closed with a space: `<Hangup />`; so is a verb
//!   whose text is empty (`Say::new("")` gives `<Say />`);
//! - booleans are `true`/`false`, list attributes are space-separated, and an empty list is not written;
//! - text escapes `&`, `<` and `>`; attribute values escape `&`, `<`, `>`, `"`, and write newline, carriage
//!   return and tab as `&#10;`, `&#13;` and `&#09;` so they survive attribute-value normalization. `'` is
//!   never escaped. Non-ASCII text is written as UTF-8.
//!
//! The one deliberate difference: characters that XML 1.0 does not allow at all (the C0 controls other
//! than tab, newline and carriage return, and U+FFFE/U+FFFF) are **dropped** from text and attribute
//! values. twilio-python writes them through and produces a document no XML parser, Twilio's included,
//! accepts; Twilio could not speak or dial them anyway.

use std::fmt;

/// The `Content-Type` to serve TwiML with.
///
/// Twilio also accepts `application/xml`; `text/plain` would be read aloud instead of run.
pub const CONTENT_TYPE: &str = "text/xml";

const XML_DECLARATION: &str = r#"<?xml version="1.0" encoding="UTF-8"?>"#;

/// The HTTP method Twilio uses for a callback or action URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    /// `GET`: parameters go in the query string.
    Get,
    /// `POST`: parameters go in a form-encoded body. Twilio's default for every verb.
    Post,
}

impl Method {
    /// The attribute value as Twilio spells it: `"GET"` or `"POST"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Post => "POST",
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Declares an enum of attribute values Twilio may extend: the known values plus `Other(String)`,
/// `as_str`, `Display`, and `From<&str>` that maps a known spelling back to its variant.
macro_rules! attribute_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $( $(#[$variant_meta:meta])* $variant:ident => $wire:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        $vis enum $name {
            $( $(#[$variant_meta])* $variant, )+
            /// A value this crate does not know yet, written verbatim (escaped).
            Other(String),
        }

        impl $name {
            /// The attribute value as Twilio spells it.
            pub fn as_str(&self) -> &str {
                match self {
                    $( Self::$variant => $wire, )+
                    Self::Other(value) => value,
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl From<&str> for $name {
            /// Parses Twilio's spelling; anything unknown becomes `Other`.
            fn from(value: &str) -> Self {
                match value {
                    $( $wire => Self::$variant, )+
                    other => Self::Other(other.to_owned()),
                }
            }
        }
    };
}

attribute_enum! {
    /// Whether Twilio trims leading and trailing silence from a recording (`trim`).
    pub enum Trim {
        /// `trim-silence`, Twilio's default.
        TrimSilence => "trim-silence",
        /// `do-not-trim`.
        DoNotTrim => "do-not-trim",
    }
}

attribute_enum! {
    /// A recording status Twilio reports to `recordingStatusCallback` (`recordingStatusCallbackEvent`).
    pub enum RecordingCallbackEvent {
        /// `in-progress`: the recording has started.
        InProgress => "in-progress",
        /// `completed`: the media is ready to fetch. Twilio's default, and the one to start work from.
        Completed => "completed",
        /// `absent`: nothing was recorded (silence, or the caller hung up at once).
        Absent => "absent",
    }
}

attribute_enum! {
    /// Whether and how `<Dial>` records the bridged call (`record`).
    ///
    /// In the dual-channel variants channel 1 is the caller's leg and channel 2 the dialed leg.
    pub enum DialRecording {
        /// `do-not-record`, Twilio's default.
        DoNotRecord => "do-not-record",
        /// `record-from-answer`: mono, starting when the dialed party answers.
        RecordFromAnswer => "record-from-answer",
        /// `record-from-ringing`: mono, starting when the dialed party starts ringing.
        RecordFromRinging => "record-from-ringing",
        /// `record-from-answer-dual`: two channels, starting when the dialed party answers.
        RecordFromAnswerDual => "record-from-answer-dual",
        /// `record-from-ringing-dual`: two channels, starting when the dialed party starts ringing.
        RecordFromRingingDual => "record-from-ringing-dual",
    }
}

attribute_enum! {
    /// Which audio `<Dial record=…>` records (`recordingTrack`).
    pub enum RecordingTrack {
        /// `both`, Twilio's default.
        Both => "both",
        /// `inbound`: only the audio Twilio receives from the caller.
        Inbound => "inbound",
        /// `outbound`: only the audio Twilio sends to the caller.
        Outbound => "outbound",
    }
}

attribute_enum! {
    /// A call progress event of a dialed `<Number>` reported to its `statusCallback`
    /// (`statusCallbackEvent`).
    pub enum CallStatusEvent {
        /// `initiated`: Twilio started dialing.
        Initiated => "initiated",
        /// `ringing`: the number is ringing.
        Ringing => "ringing",
        /// `answered`: the number answered.
        Answered => "answered",
        /// `completed`: the dialed leg ended, whatever the outcome. Twilio's default.
        Completed => "completed",
    }
}

attribute_enum! {
    /// A kind of input `<Gather>` listens for (`input`).
    pub enum GatherInput {
        /// `dtmf`: keypad digits, Twilio's default.
        Dtmf => "dtmf",
        /// `speech`: speech recognition.
        Speech => "speech",
    }
}

attribute_enum! {
    /// Why `<Reject>` turns a call away (`reason`); it chooses the tone the caller hears.
    pub enum RejectReason {
        /// `rejected`, Twilio's default.
        Rejected => "rejected",
        /// `busy`: the caller hears a busy signal.
        Busy => "busy",
    }
}

/// How long `<Gather>` waits after the caller stops speaking (`speechTimeout`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SpeechTimeout {
    /// `auto`: Twilio decides when the caller has finished.
    Auto,
    /// A fixed number of seconds of silence.
    Seconds(u32),
}

impl fmt::Display for SpeechTimeout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Auto => f.write_str("auto"),
            Self::Seconds(seconds) => write!(f, "{seconds}"),
        }
    }
}

/// A whole TwiML voice document: `<Response>` and the verbs Twilio runs in order.
///
/// Built by value: every verb method consumes the response and returns it with the verb appended.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct VoiceResponse {
    /// The verbs, in the order Twilio runs them.
    pub verbs: Vec<Verb>,
}

impl VoiceResponse {
    /// An empty response (`<Response />`), which makes Twilio hang up.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends any verb.
    pub fn verb(mut self, verb: impl Into<Verb>) -> Self {
        self.verbs.push(verb.into());
        self
    }

    /// Appends `<Say>`; a plain string is spoken with Twilio's default voice.
    pub fn say(self, say: impl Into<Say>) -> Self {
        self.verb(say.into())
    }

    /// Appends `<Play>`; a plain string is the URL of the audio file.
    pub fn play(self, play: impl Into<Play>) -> Self {
        self.verb(play.into())
    }

    /// Appends `<Pause>`.
    pub fn pause(self, pause: Pause) -> Self {
        self.verb(pause)
    }

    /// Appends `<Record>`.
    pub fn record(self, record: Record) -> Self {
        self.verb(record)
    }

    /// Appends `<Dial>`; a plain string is a bare number to dial.
    pub fn dial(self, dial: impl Into<Dial>) -> Self {
        self.verb(dial.into())
    }

    /// Appends `<Gather>`.
    pub fn gather(self, gather: Gather) -> Self {
        self.verb(gather)
    }

    /// Appends `<Hangup />`.
    pub fn hangup(self) -> Self {
        self.verb(Verb::Hangup)
    }

    /// Appends `<Reject>`.
    pub fn reject(self, reject: impl Into<Reject>) -> Self {
        self.verb(reject.into())
    }

    /// Appends `<Redirect>`; a plain string is the URL, fetched with Twilio's default `POST`.
    pub fn redirect(self, redirect: impl Into<Redirect>) -> Self {
        self.verb(redirect.into())
    }

    /// The document, starting with the XML declaration. See the [module docs](self) for the exact rules.
    pub fn to_xml(&self) -> String {
        let mut out = String::with_capacity(256);
        out.push_str(XML_DECLARATION);
        element(&mut out, "Response", Attributes::default(), |out| {
            for verb in &self.verbs {
                verb.write(out);
            }
        });
        out
    }
}

impl fmt::Display for VoiceResponse {
    /// Writes the same string as [`VoiceResponse::to_xml`].
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_xml())
    }
}

/// One verb of a [`VoiceResponse`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Verb {
    /// `<Say>`: text to speech.
    Say(Say),
    /// `<Play>`: an audio file or DTMF tones.
    Play(Play),
    /// `<Pause>`: silence.
    Pause(Pause),
    /// `<Record>`: records the caller.
    Record(Record),
    /// `<Dial>`: connects the caller to another party.
    Dial(Dial),
    /// `<Gather>`: collects digits or speech.
    Gather(Gather),
    /// `<Hangup />`: ends the call.
    Hangup,
    /// `<Reject>`: declines an incoming call without answering it (no charge).
    Reject(Reject),
    /// `<Redirect>`: continues with the TwiML at another URL.
    Redirect(Redirect),
}

impl Verb {
    fn write(&self, out: &mut String) {
        match self {
            Self::Say(say) => say.write(out),
            Self::Play(play) => play.write(out),
            Self::Pause(pause) => pause.write(out),
            Self::Record(record) => record.write(out),
            Self::Dial(dial) => dial.write(out),
            Self::Gather(gather) => gather.write(out),
            Self::Hangup => element(out, "Hangup", Attributes::default(), |_| {}),
            Self::Reject(reject) => reject.write(out),
            Self::Redirect(redirect) => redirect.write(out),
        }
    }
}

macro_rules! verb_from {
    ($($verb:ident),+) => {
        $(
            impl From<$verb> for Verb {
                fn from(verb: $verb) -> Self {
                    Self::$verb(verb)
                }
            }
        )+
    };
}

verb_from!(Say, Play, Pause, Record, Dial, Gather, Reject, Redirect);

/// `<Say>`: speaks text with text to speech.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Say {
    /// What to say. Empty text gives `<Say />`, which says nothing.
    pub text: String,
    /// `voice`: `man`, `woman`, `alice`, or a `Polly.*`/`Google.*` voice name.
    pub voice: Option<String>,
    /// `language`, such as `en-US` or `fr-FR`; which languages work depends on the voice.
    pub language: Option<String>,
    /// `loop`: how many times to say the text (Twilio's default 1); 0 repeats until the call ends.
    pub loop_count: Option<u32>,
}

impl Say {
    /// Says `text` with Twilio's default voice.
    pub fn new(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            ..Self::default()
        }
    }

    /// Sets [`Say::voice`].
    pub fn with_voice(mut self, voice: impl Into<String>) -> Self {
        self.voice = Some(voice.into());
        self
    }

    /// Sets [`Say::language`].
    pub fn with_language(mut self, language: impl Into<String>) -> Self {
        self.language = Some(language.into());
        self
    }

    /// Sets [`Say::loop_count`].
    pub fn with_loop_count(mut self, loop_count: u32) -> Self {
        self.loop_count = Some(loop_count);
        self
    }

    fn write(&self, out: &mut String) {
        let mut attributes = Attributes::default();
        attributes.set("language", self.language.as_ref());
        attributes.set("loop", self.loop_count);
        attributes.set("voice", self.voice.as_ref());
        text_element(out, "Say", attributes, &self.text);
    }
}

impl From<&str> for Say {
    fn from(text: &str) -> Self {
        Self::new(text)
    }
}

impl From<String> for Say {
    fn from(text: String) -> Self {
        Self::new(text)
    }
}

/// `<Play>`: plays an audio file, or DTMF tones into the call.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Play {
    /// The URL of the audio file; empty when only [`Play::digits`] are played.
    pub url: String,
    /// `loop`: how many times to play (Twilio's default 1); 0 repeats until the call ends.
    pub loop_count: Option<u32>,
    /// `digits`: DTMF tones to play; `w` waits half a second.
    pub digits: Option<String>,
}

impl Play {
    /// Plays the audio file at `url`.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            ..Self::default()
        }
    }

    /// Plays DTMF tones instead of a file (`<Play digits="…" />`).
    pub fn dtmf(digits: impl Into<String>) -> Self {
        Self {
            digits: Some(digits.into()),
            ..Self::default()
        }
    }

    /// Sets [`Play::loop_count`].
    pub fn with_loop_count(mut self, loop_count: u32) -> Self {
        self.loop_count = Some(loop_count);
        self
    }

    /// Sets [`Play::digits`].
    pub fn with_digits(mut self, digits: impl Into<String>) -> Self {
        self.digits = Some(digits.into());
        self
    }

    fn write(&self, out: &mut String) {
        let mut attributes = Attributes::default();
        attributes.set("digits", self.digits.as_ref());
        attributes.set("loop", self.loop_count);
        text_element(out, "Play", attributes, &self.url);
    }
}

impl From<&str> for Play {
    fn from(url: &str) -> Self {
        Self::new(url)
    }
}

impl From<String> for Play {
    fn from(url: String) -> Self {
        Self::new(url)
    }
}

/// `<Pause>`: waits silently.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Pause {
    /// `length` in seconds (Twilio's default 1).
    pub length: Option<u32>,
}

impl Pause {
    /// A pause of Twilio's default length, one second.
    pub fn new() -> Self {
        Self::default()
    }

    /// A pause of `length` seconds.
    pub fn seconds(length: u32) -> Self {
        Self { length: Some(length) }
    }

    /// Sets [`Pause::length`].
    pub fn with_length(mut self, length: u32) -> Self {
        self.length = Some(length);
        self
    }

    fn write(&self, out: &mut String) {
        let mut attributes = Attributes::default();
        attributes.set("length", self.length);
        element(out, "Pause", attributes, |_| {});
    }
}

/// `<Record>`: records the caller, then requests [`Record::action`].
///
/// Verbs after `<Record>` run only when nothing was recorded. Always set [`Record::action`]: its default
/// is the current document, which records again in a loop.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Record {
    /// `action`: the URL Twilio requests when recording ends; its response is the next TwiML.
    pub action: Option<String>,
    /// `method` for [`Record::action`] (Twilio's default `POST`).
    pub method: Option<Method>,
    /// `timeout`: seconds of silence that end the recording (Twilio's default 5; 0 disables).
    pub timeout: Option<u32>,
    /// `finishOnKey`: keys (`0-9`, `#`, `*`) that end the recording (Twilio's default `1234567890*#`);
    /// an empty string disables them.
    pub finish_on_key: Option<String>,
    /// `maxLength`: the longest recording in seconds (Twilio's default 3600).
    pub max_length: Option<u32>,
    /// `playBeep`: beep before recording (Twilio's default `true`).
    pub play_beep: Option<bool>,
    /// `trim` silence at both ends (Twilio's default `trim-silence`).
    pub trim: Option<Trim>,
    /// `recordingStatusCallback`: the URL Twilio notifies asynchronously about the recording.
    pub recording_status_callback: Option<String>,
    /// `recordingStatusCallbackMethod` (Twilio's default `POST`).
    pub recording_status_callback_method: Option<Method>,
    /// `recordingStatusCallbackEvent`: which events to report (Twilio's default `completed`).
    /// Empty writes no attribute.
    pub recording_status_callback_event: Vec<RecordingCallbackEvent>,
    /// `transcribe`: Twilio's own paid transcription (Twilio's default `false`).
    pub transcribe: Option<bool>,
    /// `transcribeCallback`: where Twilio posts its transcription.
    pub transcribe_callback: Option<String>,
    /// `recordingConfigurationId`: a recording configuration of the account.
    pub recording_configuration_id: Option<String>,
}

impl Record {
    /// A `<Record />` with every attribute at Twilio's default.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets [`Record::action`].
    pub fn with_action(mut self, action: impl Into<String>) -> Self {
        self.action = Some(action.into());
        self
    }

    /// Sets [`Record::method`].
    pub fn with_method(mut self, method: Method) -> Self {
        self.method = Some(method);
        self
    }

    /// Sets [`Record::timeout`].
    pub fn with_timeout(mut self, seconds: u32) -> Self {
        self.timeout = Some(seconds);
        self
    }

    /// Sets [`Record::finish_on_key`].
    pub fn with_finish_on_key(mut self, keys: impl Into<String>) -> Self {
        self.finish_on_key = Some(keys.into());
        self
    }

    /// Sets [`Record::max_length`].
    pub fn with_max_length(mut self, seconds: u32) -> Self {
        self.max_length = Some(seconds);
        self
    }

    /// Sets [`Record::play_beep`].
    pub fn with_play_beep(mut self, play_beep: bool) -> Self {
        self.play_beep = Some(play_beep);
        self
    }

    /// Sets [`Record::trim`].
    pub fn with_trim(mut self, trim: Trim) -> Self {
        self.trim = Some(trim);
        self
    }

    /// Sets [`Record::recording_status_callback`].
    pub fn with_recording_status_callback(mut self, url: impl Into<String>) -> Self {
        self.recording_status_callback = Some(url.into());
        self
    }

    /// Sets [`Record::recording_status_callback_method`].
    pub fn with_recording_status_callback_method(mut self, method: Method) -> Self {
        self.recording_status_callback_method = Some(method);
        self
    }

    /// Sets [`Record::recording_status_callback_event`].
    pub fn with_recording_status_callback_event(
        mut self,
        events: impl IntoIterator<Item = RecordingCallbackEvent>,
    ) -> Self {
        self.recording_status_callback_event = events.into_iter().collect();
        self
    }

    /// Sets [`Record::transcribe`].
    pub fn with_transcribe(mut self, transcribe: bool) -> Self {
        self.transcribe = Some(transcribe);
        self
    }

    /// Sets [`Record::transcribe_callback`].
    pub fn with_transcribe_callback(mut self, url: impl Into<String>) -> Self {
        self.transcribe_callback = Some(url.into());
        self
    }

    /// Sets [`Record::recording_configuration_id`].
    pub fn with_recording_configuration_id(mut self, id: impl Into<String>) -> Self {
        self.recording_configuration_id = Some(id.into());
        self
    }

    fn write(&self, out: &mut String) {
        let mut attributes = Attributes::default();
        attributes.set("action", self.action.as_ref());
        attributes.set("method", self.method);
        attributes.set("timeout", self.timeout);
        attributes.set("finishOnKey", self.finish_on_key.as_ref());
        attributes.set("maxLength", self.max_length);
        attributes.set("playBeep", self.play_beep);
        attributes.set("trim", self.trim.as_ref());
        attributes.set("recordingStatusCallback", self.recording_status_callback.as_ref());
        attributes.set(
            "recordingStatusCallbackMethod",
            self.recording_status_callback_method,
        );
        attributes.set_list(
            "recordingStatusCallbackEvent",
            &self.recording_status_callback_event,
        );
        attributes.set("transcribe", self.transcribe);
        attributes.set("transcribeCallback", self.transcribe_callback.as_ref());
        attributes.set(
            "recordingConfigurationId",
            self.recording_configuration_id.as_ref(),
        );
        element(out, "Record", attributes, |_| {});
    }
}

/// Whom a [`Dial`] calls.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum DialTarget {
    /// Nothing yet: `<Dial />`.
    #[default]
    Empty,
    /// A bare number as the text of `<Dial>`: `<Dial>+15551234567</Dial>`.
    Bare(String),
    /// `<Number>` nouns, dialed at once (or in order with [`Dial::sequential`]); the first to answer wins.
    Numbers(Vec<Number>),
}

/// `<Dial>`: connects the caller to another party, optionally recording the bridged call.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Dial {
    /// Whom to call.
    pub target: DialTarget,
    /// `action`: the URL Twilio requests when the dialed call ends; its response is the next TwiML.
    /// Without it Twilio continues with the verbs after `<Dial>`.
    pub action: Option<String>,
    /// `method` for [`Dial::action`] (Twilio's default `POST`).
    pub method: Option<Method>,
    /// `timeout`: seconds to let the dialed party ring (Twilio's default 30).
    pub timeout: Option<u32>,
    /// `hangupOnStar`: the caller can leave the dialed call by pressing `*` (Twilio's default `false`).
    pub hangup_on_star: Option<bool>,
    /// `timeLimit`: the longest the bridged call may last, in seconds (Twilio's default 14400).
    pub time_limit: Option<u32>,
    /// `callerId`: the number the dialed party sees; must be a Twilio number or a verified one.
    pub caller_id: Option<String>,
    /// `record`: whether and how to record (Twilio's default `do-not-record`).
    pub record: Option<DialRecording>,
    /// `trim` silence at both ends of the recording (Twilio's default `trim-silence`).
    pub trim: Option<Trim>,
    /// `recordingStatusCallback`: the URL Twilio notifies asynchronously about the recording.
    pub recording_status_callback: Option<String>,
    /// `recordingStatusCallbackMethod` (Twilio's default `POST`).
    pub recording_status_callback_method: Option<Method>,
    /// `recordingStatusCallbackEvent`: which events to report (Twilio's default `completed`).
    /// Empty writes no attribute.
    pub recording_status_callback_event: Vec<RecordingCallbackEvent>,
    /// `recordingConfigurationId`: a recording configuration of the account.
    pub recording_configuration_id: Option<String>,
    /// `recordingTrack`: which audio to record (Twilio's default `both`).
    pub recording_track: Option<RecordingTrack>,
    /// `answerOnBridge`: keep the caller hearing ringing until the dialed party answers (Twilio's
    /// default `false`).
    pub answer_on_bridge: Option<bool>,
    /// `ringTone`: the country whose ringback tone the caller hears, such as `us` or `de`.
    pub ring_tone: Option<String>,
    /// `sequential`: dial the [`DialTarget::Numbers`] one after the other instead of all at once.
    pub sequential: Option<bool>,
    /// `referUrl`: the URL Twilio requests when the dialed party sends a SIP REFER.
    pub refer_url: Option<String>,
    /// `referMethod` for [`Dial::refer_url`] (Twilio's default `POST`).
    pub refer_method: Option<Method>,
}

impl Dial {
    /// A `<Dial>` with nothing to call yet; add [`Number`]s with [`Dial::number`].
    pub fn new() -> Self {
        Self::default()
    }

    /// Dials a bare number: `<Dial>+15551234567</Dial>`.
    pub fn to(number: impl Into<String>) -> Self {
        Self {
            target: DialTarget::Bare(number.into()),
            ..Self::default()
        }
    }

    /// Adds a `<Number>` noun.
    ///
    /// A bare number set with [`Dial::to`] first becomes a `<Number>` of its own, because Twilio does
    /// not accept a bare number mixed with nouns.
    pub fn number(mut self, number: impl Into<Number>) -> Self {
        let number = number.into();
        self.target = match std::mem::take(&mut self.target) {
            DialTarget::Empty => DialTarget::Numbers(vec![number]),
            DialTarget::Bare(bare) => DialTarget::Numbers(vec![Number::new(bare), number]),
            DialTarget::Numbers(mut numbers) => {
                numbers.push(number);
                DialTarget::Numbers(numbers)
            }
        };
        self
    }

    /// Sets [`Dial::action`].
    pub fn with_action(mut self, action: impl Into<String>) -> Self {
        self.action = Some(action.into());
        self
    }

    /// Sets [`Dial::method`].
    pub fn with_method(mut self, method: Method) -> Self {
        self.method = Some(method);
        self
    }

    /// Sets [`Dial::timeout`].
    pub fn with_timeout(mut self, seconds: u32) -> Self {
        self.timeout = Some(seconds);
        self
    }

    /// Sets [`Dial::hangup_on_star`].
    pub fn with_hangup_on_star(mut self, hangup_on_star: bool) -> Self {
        self.hangup_on_star = Some(hangup_on_star);
        self
    }

    /// Sets [`Dial::time_limit`].
    pub fn with_time_limit(mut self, seconds: u32) -> Self {
        self.time_limit = Some(seconds);
        self
    }

    /// Sets [`Dial::caller_id`].
    pub fn with_caller_id(mut self, caller_id: impl Into<String>) -> Self {
        self.caller_id = Some(caller_id.into());
        self
    }

    /// Sets [`Dial::record`].
    pub fn with_record(mut self, record: DialRecording) -> Self {
        self.record = Some(record);
        self
    }

    /// Sets [`Dial::trim`].
    pub fn with_trim(mut self, trim: Trim) -> Self {
        self.trim = Some(trim);
        self
    }

    /// Sets [`Dial::recording_status_callback`].
    pub fn with_recording_status_callback(mut self, url: impl Into<String>) -> Self {
        self.recording_status_callback = Some(url.into());
        self
    }

    /// Sets [`Dial::recording_status_callback_method`].
    pub fn with_recording_status_callback_method(mut self, method: Method) -> Self {
        self.recording_status_callback_method = Some(method);
        self
    }

    /// Sets [`Dial::recording_status_callback_event`].
    pub fn with_recording_status_callback_event(
        mut self,
        events: impl IntoIterator<Item = RecordingCallbackEvent>,
    ) -> Self {
        self.recording_status_callback_event = events.into_iter().collect();
        self
    }

    /// Sets [`Dial::recording_configuration_id`].
    pub fn with_recording_configuration_id(mut self, id: impl Into<String>) -> Self {
        self.recording_configuration_id = Some(id.into());
        self
    }

    /// Sets [`Dial::recording_track`].
    pub fn with_recording_track(mut self, track: RecordingTrack) -> Self {
        self.recording_track = Some(track);
        self
    }

    /// Sets [`Dial::answer_on_bridge`].
    pub fn with_answer_on_bridge(mut self, answer_on_bridge: bool) -> Self {
        self.answer_on_bridge = Some(answer_on_bridge);
        self
    }

    /// Sets [`Dial::ring_tone`].
    pub fn with_ring_tone(mut self, country: impl Into<String>) -> Self {
        self.ring_tone = Some(country.into());
        self
    }

    /// Sets [`Dial::sequential`].
    pub fn with_sequential(mut self, sequential: bool) -> Self {
        self.sequential = Some(sequential);
        self
    }

    /// Sets [`Dial::refer_url`].
    pub fn with_refer_url(mut self, url: impl Into<String>) -> Self {
        self.refer_url = Some(url.into());
        self
    }

    /// Sets [`Dial::refer_method`].
    pub fn with_refer_method(mut self, method: Method) -> Self {
        self.refer_method = Some(method);
        self
    }

    fn write(&self, out: &mut String) {
        let mut attributes = Attributes::default();
        attributes.set("action", self.action.as_ref());
        attributes.set("method", self.method);
        attributes.set("timeout", self.timeout);
        attributes.set("hangupOnStar", self.hangup_on_star);
        attributes.set("timeLimit", self.time_limit);
        attributes.set("callerId", self.caller_id.as_ref());
        attributes.set("record", self.record.as_ref());
        attributes.set("trim", self.trim.as_ref());
        attributes.set("recordingStatusCallback", self.recording_status_callback.as_ref());
        attributes.set(
            "recordingStatusCallbackMethod",
            self.recording_status_callback_method,
        );
        attributes.set_list(
            "recordingStatusCallbackEvent",
            &self.recording_status_callback_event,
        );
        attributes.set(
            "recordingConfigurationId",
            self.recording_configuration_id.as_ref(),
        );
        attributes.set("recordingTrack", self.recording_track.as_ref());
        attributes.set("answerOnBridge", self.answer_on_bridge);
        attributes.set("ringTone", self.ring_tone.as_ref());
        attributes.set("sequential", self.sequential);
        attributes.set("referUrl", self.refer_url.as_ref());
        attributes.set("referMethod", self.refer_method);
        element(out, "Dial", attributes, |out| match &self.target {
            DialTarget::Empty => {}
            DialTarget::Bare(number) => escape_text(out, number),
            DialTarget::Numbers(numbers) => {
                for number in numbers {
                    number.write(out);
                }
            }
        });
    }
}

impl From<&str> for Dial {
    fn from(number: &str) -> Self {
        Self::to(number)
    }
}

impl From<String> for Dial {
    fn from(number: String) -> Self {
        Self::to(number)
    }
}

/// `<Number>`: a phone number for [`Dial`] to call, with its own callbacks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Number {
    /// The number to call, in E.164 (`+15551234567`).
    pub phone_number: String,
    /// `sendDigits`: DTMF tones to play once the number answers; `w` waits half a second.
    pub send_digits: Option<String>,
    /// `url`: TwiML to run for the called party before the calls are bridged (a whisper).
    pub url: Option<String>,
    /// `method` for [`Number::url`] (Twilio's default `POST`).
    pub method: Option<Method>,
    /// `statusCallback`: the URL Twilio notifies about this leg's progress.
    pub status_callback: Option<String>,
    /// `statusCallbackEvent`: which events to report (Twilio's default `completed`).
    /// Empty writes no attribute.
    pub status_callback_event: Vec<CallStatusEvent>,
    /// `statusCallbackMethod` (Twilio's default `POST`).
    pub status_callback_method: Option<Method>,
}

impl Number {
    /// Calls `phone_number`.
    pub fn new(phone_number: impl Into<String>) -> Self {
        Self {
            phone_number: phone_number.into(),
            ..Self::default()
        }
    }

    /// Sets [`Number::send_digits`].
    pub fn with_send_digits(mut self, digits: impl Into<String>) -> Self {
        self.send_digits = Some(digits.into());
        self
    }

    /// Sets [`Number::url`].
    pub fn with_url(mut self, url: impl Into<String>) -> Self {
        self.url = Some(url.into());
        self
    }

    /// Sets [`Number::method`].
    pub fn with_method(mut self, method: Method) -> Self {
        self.method = Some(method);
        self
    }

    /// Sets [`Number::status_callback`].
    pub fn with_status_callback(mut self, url: impl Into<String>) -> Self {
        self.status_callback = Some(url.into());
        self
    }

    /// Sets [`Number::status_callback_event`].
    pub fn with_status_callback_event(mut self, events: impl IntoIterator<Item = CallStatusEvent>) -> Self {
        self.status_callback_event = events.into_iter().collect();
        self
    }

    /// Sets [`Number::status_callback_method`].
    pub fn with_status_callback_method(mut self, method: Method) -> Self {
        self.status_callback_method = Some(method);
        self
    }

    fn write(&self, out: &mut String) {
        let mut attributes = Attributes::default();
        attributes.set("sendDigits", self.send_digits.as_ref());
        attributes.set("url", self.url.as_ref());
        attributes.set("method", self.method);
        attributes.set_list("statusCallbackEvent", &self.status_callback_event);
        attributes.set("statusCallback", self.status_callback.as_ref());
        attributes.set("statusCallbackMethod", self.status_callback_method);
        text_element(out, "Number", attributes, &self.phone_number);
    }
}

impl From<&str> for Number {
    fn from(phone_number: &str) -> Self {
        Self::new(phone_number)
    }
}

impl From<String> for Number {
    fn from(phone_number: String) -> Self {
        Self::new(phone_number)
    }
}

/// A verb nested in [`Gather`], played while Twilio listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GatherPrompt {
    /// `<Say>`.
    Say(Say),
    /// `<Play>`.
    Play(Play),
    /// `<Pause>`.
    Pause(Pause),
}

impl From<Say> for GatherPrompt {
    fn from(say: Say) -> Self {
        Self::Say(say)
    }
}

impl From<Play> for GatherPrompt {
    fn from(play: Play) -> Self {
        Self::Play(play)
    }
}

impl From<Pause> for GatherPrompt {
    fn from(pause: Pause) -> Self {
        Self::Pause(pause)
    }
}

/// `<Gather>`: collects keypad digits or speech while playing its prompts, then requests
/// [`Gather::action`].
///
/// Without input Twilio falls through to the next verb, unless [`Gather::action_on_empty_result`] is set.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Gather {
    /// The nested `<Say>`, `<Play>` and `<Pause>`, in order.
    pub prompts: Vec<GatherPrompt>,
    /// `input`: what to listen for (Twilio's default `dtmf`). Empty writes no attribute.
    pub input: Vec<GatherInput>,
    /// `action`: the URL Twilio requests with the result; its response is the next TwiML.
    pub action: Option<String>,
    /// `method` for [`Gather::action`] (Twilio's default `POST`).
    pub method: Option<Method>,
    /// `timeout`: seconds to wait for the first or next digit (Twilio's default 5).
    pub timeout: Option<u32>,
    /// `speechTimeout`: when speech input counts as finished (defaults to [`Gather::timeout`]).
    pub speech_timeout: Option<SpeechTimeout>,
    /// `maxSpeechTime`: the longest speech input in seconds (Twilio's default 60).
    pub max_speech_time: Option<u32>,
    /// `profanityFilter`: mask profanities in the transcript (Twilio's default `true`).
    pub profanity_filter: Option<bool>,
    /// `finishOnKey`: the key that ends digit input (Twilio's default `#`); empty disables it.
    pub finish_on_key: Option<String>,
    /// `numDigits`: stop after this many digits.
    pub num_digits: Option<u32>,
    /// `partialResultCallback`: the URL Twilio sends interim speech results to.
    pub partial_result_callback: Option<String>,
    /// `partialResultCallbackMethod` (Twilio's default `POST`).
    pub partial_result_callback_method: Option<Method>,
    /// `language` of the speech, such as `en-US` (Twilio's default).
    pub language: Option<String>,
    /// `hints`: comma-separated words and phrases the speech is likely to contain.
    pub hints: Option<String>,
    /// `bargeIn`: input stops the prompts (Twilio's default `true`).
    pub barge_in: Option<bool>,
    /// `debug`: Twilio's debug mode for `<Gather>`.
    pub debug: Option<bool>,
    /// `actionOnEmptyResult`: request [`Gather::action`] even without input (Twilio's default `false`).
    pub action_on_empty_result: Option<bool>,
    /// `speechModel`, such as `phone_call` or `numbers_and_commands`.
    pub speech_model: Option<String>,
    /// `enhanced`: the premium `phone_call` model.
    pub enhanced: Option<bool>,
}

impl Gather {
    /// A `<Gather>` with every attribute at Twilio's default and no prompts.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a nested `<Say>`.
    pub fn say(mut self, say: impl Into<Say>) -> Self {
        self.prompts.push(GatherPrompt::Say(say.into()));
        self
    }

    /// Appends a nested `<Play>`.
    pub fn play(mut self, play: impl Into<Play>) -> Self {
        self.prompts.push(GatherPrompt::Play(play.into()));
        self
    }

    /// Appends a nested `<Pause>`.
    pub fn pause(mut self, pause: Pause) -> Self {
        self.prompts.push(GatherPrompt::Pause(pause));
        self
    }

    /// Sets [`Gather::input`].
    pub fn with_input(mut self, input: impl IntoIterator<Item = GatherInput>) -> Self {
        self.input = input.into_iter().collect();
        self
    }

    /// Sets [`Gather::action`].
    pub fn with_action(mut self, action: impl Into<String>) -> Self {
        self.action = Some(action.into());
        self
    }

    /// Sets [`Gather::method`].
    pub fn with_method(mut self, method: Method) -> Self {
        self.method = Some(method);
        self
    }

    /// Sets [`Gather::timeout`].
    pub fn with_timeout(mut self, seconds: u32) -> Self {
        self.timeout = Some(seconds);
        self
    }

    /// Sets [`Gather::speech_timeout`].
    pub fn with_speech_timeout(mut self, speech_timeout: SpeechTimeout) -> Self {
        self.speech_timeout = Some(speech_timeout);
        self
    }

    /// Sets [`Gather::max_speech_time`].
    pub fn with_max_speech_time(mut self, seconds: u32) -> Self {
        self.max_speech_time = Some(seconds);
        self
    }

    /// Sets [`Gather::profanity_filter`].
    pub fn with_profanity_filter(mut self, profanity_filter: bool) -> Self {
        self.profanity_filter = Some(profanity_filter);
        self
    }

    /// Sets [`Gather::finish_on_key`].
    pub fn with_finish_on_key(mut self, key: impl Into<String>) -> Self {
        self.finish_on_key = Some(key.into());
        self
    }

    /// Sets [`Gather::num_digits`].
    pub fn with_num_digits(mut self, num_digits: u32) -> Self {
        self.num_digits = Some(num_digits);
        self
    }

    /// Sets [`Gather::partial_result_callback`].
    pub fn with_partial_result_callback(mut self, url: impl Into<String>) -> Self {
        self.partial_result_callback = Some(url.into());
        self
    }

    /// Sets [`Gather::partial_result_callback_method`].
    pub fn with_partial_result_callback_method(mut self, method: Method) -> Self {
        self.partial_result_callback_method = Some(method);
        self
    }

    /// Sets [`Gather::language`].
    pub fn with_language(mut self, language: impl Into<String>) -> Self {
        self.language = Some(language.into());
        self
    }

    /// Sets [`Gather::hints`].
    pub fn with_hints(mut self, hints: impl Into<String>) -> Self {
        self.hints = Some(hints.into());
        self
    }

    /// Sets [`Gather::barge_in`].
    pub fn with_barge_in(mut self, barge_in: bool) -> Self {
        self.barge_in = Some(barge_in);
        self
    }

    /// Sets [`Gather::debug`].
    pub fn with_debug(mut self, debug: bool) -> Self {
        self.debug = Some(debug);
        self
    }

    /// Sets [`Gather::action_on_empty_result`].
    pub fn with_action_on_empty_result(mut self, action_on_empty_result: bool) -> Self {
        self.action_on_empty_result = Some(action_on_empty_result);
        self
    }

    /// Sets [`Gather::speech_model`].
    pub fn with_speech_model(mut self, speech_model: impl Into<String>) -> Self {
        self.speech_model = Some(speech_model.into());
        self
    }

    /// Sets [`Gather::enhanced`].
    pub fn with_enhanced(mut self, enhanced: bool) -> Self {
        self.enhanced = Some(enhanced);
        self
    }

    fn write(&self, out: &mut String) {
        let mut attributes = Attributes::default();
        attributes.set_list("input", &self.input);
        attributes.set("action", self.action.as_ref());
        attributes.set("method", self.method);
        attributes.set("timeout", self.timeout);
        attributes.set("speechTimeout", self.speech_timeout);
        attributes.set("maxSpeechTime", self.max_speech_time);
        attributes.set("profanityFilter", self.profanity_filter);
        attributes.set("finishOnKey", self.finish_on_key.as_ref());
        attributes.set("numDigits", self.num_digits);
        attributes.set("partialResultCallback", self.partial_result_callback.as_ref());
        attributes.set("partialResultCallbackMethod", self.partial_result_callback_method);
        attributes.set("language", self.language.as_ref());
        attributes.set("hints", self.hints.as_ref());
        attributes.set("bargeIn", self.barge_in);
        attributes.set("debug", self.debug);
        attributes.set("actionOnEmptyResult", self.action_on_empty_result);
        attributes.set("speechModel", self.speech_model.as_ref());
        attributes.set("enhanced", self.enhanced);
        element(out, "Gather", attributes, |out| {
            for prompt in &self.prompts {
                match prompt {
                    GatherPrompt::Say(say) => say.write(out),
                    GatherPrompt::Play(play) => play.write(out),
                    GatherPrompt::Pause(pause) => pause.write(out),
                }
            }
        });
    }
}

/// `<Reject>`: declines an incoming call without answering it, so it is not billed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Reject {
    /// `reason`: the tone the caller hears (Twilio's default `rejected`).
    pub reason: Option<RejectReason>,
}

impl Reject {
    /// A `<Reject />` with Twilio's default reason.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets [`Reject::reason`].
    pub fn with_reason(mut self, reason: RejectReason) -> Self {
        self.reason = Some(reason);
        self
    }

    fn write(&self, out: &mut String) {
        let mut attributes = Attributes::default();
        attributes.set("reason", self.reason.as_ref());
        element(out, "Reject", attributes, |_| {});
    }
}

impl From<RejectReason> for Reject {
    fn from(reason: RejectReason) -> Self {
        Self::new().with_reason(reason)
    }
}

/// `<Redirect>`: continues the call with the TwiML at another URL.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Redirect {
    /// The URL of the next TwiML document.
    pub url: String,
    /// `method` for [`Redirect::url`] (Twilio's default `POST`).
    pub method: Option<Method>,
}

impl Redirect {
    /// Redirects to `url`.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            method: None,
        }
    }

    /// Sets [`Redirect::method`].
    pub fn with_method(mut self, method: Method) -> Self {
        self.method = Some(method);
        self
    }

    fn write(&self, out: &mut String) {
        let mut attributes = Attributes::default();
        attributes.set("method", self.method);
        text_element(out, "Redirect", attributes, &self.url);
    }
}

impl From<&str> for Redirect {
    fn from(url: &str) -> Self {
        Self::new(url)
    }
}

impl From<String> for Redirect {
    fn from(url: String) -> Self {
        Self::new(url)
    }
}

/// The attributes of one element, collected in any order and written sorted by name, as
/// twilio-python does.
#[derive(Default)]
struct Attributes(Vec<(&'static str, String)>);

impl Attributes {
    fn set(&mut self, name: &'static str, value: Option<impl fmt::Display>) {
        if let Some(value) = value {
            self.0.push((name, value.to_string()));
        }
    }

    fn set_list<T: fmt::Display>(&mut self, name: &'static str, values: &[T]) {
        if values.is_empty() {
            return;
        }
        let joined = values.iter().map(T::to_string).collect::<Vec<_>>().join(" ");
        self.0.push((name, joined));
    }
}

/// Writes `<name attributes…>`, then whatever `content` writes, then `</name>`; when `content` writes
/// nothing the element is self-closed as `<name attributes… />`.
fn element(out: &mut String, name: &str, mut attributes: Attributes, content: impl FnOnce(&mut String)) {
    attributes.0.sort_unstable_by(|a, b| a.0.cmp(b.0));
    out.push('<');
    out.push_str(name);
    for (key, value) in &attributes.0 {
        out.push(' ');
        out.push_str(key);
        out.push_str("=\"");
        escape_attribute(out, value);
        out.push('"');
    }
    out.push('>');
    let content_start = out.len();
    content(out);
    if out.len() == content_start {
        out.pop();
        out.push_str(" />");
    } else {
        out.push_str("</");
        out.push_str(name);
        out.push('>');
    }
}

fn text_element(out: &mut String, name: &str, attributes: Attributes, text: &str) {
    element(out, name, attributes, |out| escape_text(out, text));
}

/// Whether XML 1.0 allows `c` anywhere in a document (the `Char` production).
fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// Escapes text content like ElementTree: `&`, `<` and `>` only.
fn escape_text(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c if is_xml_char(c) => out.push(c),
            _ => {}
        }
    }
}

/// Escapes an attribute value like ElementTree: also `"`, and the whitespace that attribute-value
/// normalization would turn into spaces, as character references.
fn escape_attribute(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            '\t' => out.push_str("&#09;"),
            c if is_xml_char(c) => out.push(c),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn illegal_xml_characters_are_dropped_from_text_and_attributes() {
        let twiml = VoiceResponse::new()
            .say(Say::new("a\u{0}b\u{8}c\u{b}d\u{1f}e\u{fffe}f\u{ffff}g\u{7f}h").with_voice("x\u{1}y"))
            .to_xml();
        assert!(
            twiml.ends_with("<Say voice=\"xy\">abcdefg\u{7f}h</Say></Response>"),
            "{twiml}"
        );
    }

    #[test]
    fn text_of_only_illegal_characters_self_closes() {
        let twiml = VoiceResponse::new().say("\u{1}\u{2}").to_xml();
        assert!(twiml.ends_with("<Response><Say /></Response>"), "{twiml}");
    }

    #[test]
    fn bare_number_becomes_a_noun_when_numbers_are_added() {
        let dial = Dial::to("+15551234567").number("+15557654321");
        assert_eq!(
            dial.target,
            DialTarget::Numbers(vec![Number::new("+15551234567"), Number::new("+15557654321")])
        );
    }

    #[test]
    fn attribute_enums_parse_their_own_spelling() {
        for trim in [
            Trim::TrimSilence,
            Trim::DoNotTrim,
            Trim::Other("trim-some".into()),
        ] {
            assert_eq!(Trim::from(trim.as_str()), trim);
        }
        assert_eq!(
            RecordingCallbackEvent::from("in-progress"),
            RecordingCallbackEvent::InProgress
        );
        assert_eq!(
            DialRecording::from("record-from-ringing-dual"),
            DialRecording::RecordFromRingingDual
        );
        assert_eq!(RejectReason::from("later"), RejectReason::Other("later".into()));
    }

    #[test]
    fn display_matches_to_xml() {
        let twiml = VoiceResponse::new().say("hi").hangup();
        assert_eq!(twiml.to_string(), twiml.to_xml());
    }
}
