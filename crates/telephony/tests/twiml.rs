//! TwiML builder tests: byte-for-byte goldens from twilio-python, insta snapshots, and property tests
//! that parse the output back with quick-xml.
//!
//! The golden strings were printed by `tests/oracle/twiml_goldens.py` (twilio-python 9.13.0 on CPython
//! 3.11); each document below is built the same way as the function of the same name there.

use callbook_telephony::twiml::{
    CONTENT_TYPE, CallStatusEvent, Dial, DialRecording, Gather, GatherInput, Method, Number, Pause, Play,
    Record, RecordingCallbackEvent, RecordingTrack, Redirect, Reject, RejectReason, Say, SpeechTimeout, Trim,
    VoiceResponse,
};
use proptest::prelude::*;
use quick_xml::events::Event;
use quick_xml::reader::Reader;

const HOOKS: &str = "https://hooks.example.com/twilio";

#[track_caller]
fn assert_golden(document: &VoiceResponse, expected: &str) {
    assert_eq!(
        document.to_xml(),
        expected,
        "golden from twilio-python 9.13.0 VoiceResponse"
    );
}

// ---------------------------------------------------------------------------------------------------------
// The documents (mirroring tests/oracle/twiml_goldens.py)
// ---------------------------------------------------------------------------------------------------------

fn say_french() -> VoiceResponse {
    VoiceResponse::new().say(
        Say::new("nécessaire et d'autres")
            .with_voice("Polly.Celine")
            .with_language("fr-FR")
            .with_loop_count(2),
    )
}

fn say_special_chars() -> VoiceResponse {
    VoiceResponse::new().say("Tom & Jerry <3 \"quoted\" 'single' > all")
}

fn redirect_query() -> VoiceResponse {
    VoiceResponse::new().redirect(Redirect::new("example.com?id=34&action=hey").with_method(Method::Post))
}

fn dial_number_callbacks() -> VoiceResponse {
    VoiceResponse::new().dial(
        Dial::new()
            .with_action(format!("{HOOKS}/dial-done?job=7f3c&leg=1"))
            .with_method(Method::Post)
            .with_timeout(20)
            .number(
                Number::new("+15551234567")
                    .with_send_digits("wwww1928")
                    .with_url("https://example.com/whisper?lang=en&v=2")
                    .with_method(Method::Get)
                    .with_status_callback("https://example.com?action=getTwiml&param=dial")
                    .with_status_callback_event([
                        CallStatusEvent::Initiated,
                        CallStatusEvent::Ringing,
                        CallStatusEvent::Answered,
                        CallStatusEvent::Completed,
                    ])
                    .with_status_callback_method(Method::Post),
            )
            .number("+15557654321"),
    )
}

fn record_every_attribute() -> VoiceResponse {
    VoiceResponse::new().record(
        Record::new()
            .with_action(format!("{HOOKS}/record-done?job=7f3c&try=1"))
            .with_method(Method::Post)
            .with_timeout(5)
            .with_finish_on_key("#*")
            .with_max_length(300)
            .with_play_beep(true)
            .with_trim(Trim::DoNotTrim)
            .with_recording_status_callback(format!("{HOOKS}/recording?job=7f3c"))
            .with_recording_status_callback_method(Method::Get)
            .with_recording_status_callback_event([
                RecordingCallbackEvent::InProgress,
                RecordingCallbackEvent::Completed,
                RecordingCallbackEvent::Absent,
            ])
            .with_transcribe(false)
            .with_transcribe_callback(format!("{HOOKS}/transcript"))
            .with_recording_configuration_id("JYaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"),
    )
}

/// twilio.md §3.5, the recommended inbound flow.
fn inbound_flow() -> VoiceResponse {
    VoiceResponse::new()
        .say(
            Say::new(
                "Thanks for calling Acme Plumbing. After the beep, tell us your name, \
                 address and when you need us.",
            )
            .with_voice("Polly.Joanna"),
        )
        .record(
            Record::new()
                .with_action(format!("{HOOKS}/record-done?job=7f3c"))
                .with_method(Method::Post)
                .with_max_length(300)
                .with_timeout(5)
                .with_finish_on_key("#")
                .with_play_beep(true)
                .with_trim(Trim::TrimSilence)
                .with_recording_status_callback(format!("{HOOKS}/recording?job=7f3c"))
                .with_recording_status_callback_method(Method::Post)
                .with_recording_status_callback_event([
                    RecordingCallbackEvent::InProgress,
                    RecordingCallbackEvent::Completed,
                    RecordingCallbackEvent::Absent,
                ]),
        )
        .say("We did not catch that. Goodbye.")
        .hangup()
}

fn record_done() -> VoiceResponse {
    VoiceResponse::new()
        .say("Thanks, we'll text you a confirmation.")
        .hangup()
}

fn gather_nested() -> VoiceResponse {
    VoiceResponse::new()
        .gather(
            Gather::new()
                .with_input([GatherInput::Dtmf, GatherInput::Speech])
                .with_action(format!("{HOOKS}/gather?step=1&job=7f3c"))
                .with_method(Method::Post)
                .with_timeout(5)
                .with_speech_timeout(SpeechTimeout::Auto)
                .with_max_speech_time(45)
                .with_profanity_filter(true)
                .with_finish_on_key("#")
                .with_num_digits(1)
                .with_partial_result_callback(format!("{HOOKS}/partial"))
                .with_partial_result_callback_method(Method::Get)
                .with_language("en-US")
                .with_hints("plumber, boiler, leak")
                .with_barge_in(false)
                .with_debug(false)
                .with_action_on_empty_result(true)
                .with_speech_model("phone_call")
                .with_enhanced(true)
                .say(
                    Say::new("Press 1 or say emergency.")
                        .with_voice("alice")
                        .with_language("en-US"),
                )
                .pause(Pause::seconds(2))
                .play(Play::new("https://example.com/menu.mp3").with_loop_count(1)),
        )
        .say("We didn't receive any input. Goodbye!")
}

fn gather_speech_timeout_seconds() -> VoiceResponse {
    VoiceResponse::new().gather(
        Gather::new()
            .with_input([GatherInput::Speech])
            .with_speech_timeout(SpeechTimeout::Seconds(3)),
    )
}

fn pause() -> VoiceResponse {
    VoiceResponse::new().pause(Pause::seconds(3)).pause(Pause::new())
}

fn play() -> VoiceResponse {
    VoiceResponse::new()
        .play(Play::new("https://example.com/hold music.mp3?a=1&b=2").with_loop_count(0))
        .play(Play::dtmf("wwww3"))
}

fn dial_record_dual() -> VoiceResponse {
    VoiceResponse::new().dial(
        Dial::to("+15551234567")
            .with_action(format!("{HOOKS}/dial-done"))
            .with_method(Method::Post)
            .with_timeout(30)
            .with_hangup_on_star(true)
            .with_time_limit(3600)
            .with_caller_id("+15550001111")
            .with_record(DialRecording::RecordFromAnswerDual)
            .with_trim(Trim::TrimSilence)
            .with_recording_status_callback(format!("{HOOKS}/recording?job=7f3c&leg=dial"))
            .with_recording_configuration_id("JYbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb")
            .with_recording_status_callback_method(Method::Post)
            .with_recording_status_callback_event([
                RecordingCallbackEvent::InProgress,
                RecordingCallbackEvent::Completed,
                RecordingCallbackEvent::Absent,
            ])
            .with_answer_on_bridge(true)
            .with_ring_tone("us")
            .with_recording_track(RecordingTrack::Both)
            .with_sequential(false)
            .with_refer_url(format!("{HOOKS}/refer"))
            .with_refer_method(Method::Get),
    )
}

fn attribute_whitespace() -> VoiceResponse {
    VoiceResponse::new()
        .redirect(Redirect::new("https://example.com/next\tstep").with_method(Method::Get))
        .record(
            Record::new()
                .with_action("https://example.com/a?x=\"1\"&y='2'<3>\nline2\ttab\rcr")
                .with_finish_on_key(""),
        )
        .say(Say::new("line one\nline two\ttabbed\rcarriage return").with_voice("Polly.\"Odd\"\nVoice"))
}

fn empty_texts() -> VoiceResponse {
    VoiceResponse::new()
        .say("")
        .play("")
        .redirect("")
        .gather(Gather::new())
        .dial(Dial::new())
}

// ---------------------------------------------------------------------------------------------------------
// 1. Goldens
// ---------------------------------------------------------------------------------------------------------

#[test]
fn golden_empty() {
    assert_golden(
        &VoiceResponse::new(),
        r##"<?xml version="1.0" encoding="UTF-8"?><Response />"##,
    );
}

#[test]
fn golden_say_french() {
    assert_golden(
        &say_french(),
        r##"<?xml version="1.0" encoding="UTF-8"?><Response><Say language="fr-FR" loop="2" voice="Polly.Celine">nécessaire et d'autres</Say></Response>"##,
    );
}

#[test]
fn golden_say_special_chars() {
    assert_golden(
        &say_special_chars(),
        r##"<?xml version="1.0" encoding="UTF-8"?><Response><Say>Tom &amp; Jerry &lt;3 "quoted" 'single' &gt; all</Say></Response>"##,
    );
}

#[test]
fn golden_redirect_query() {
    assert_golden(
        &redirect_query(),
        r##"<?xml version="1.0" encoding="UTF-8"?><Response><Redirect method="POST">example.com?id=34&amp;action=hey</Redirect></Response>"##,
    );
}

#[test]
fn golden_dial_number_callbacks() {
    assert_golden(
        &dial_number_callbacks(),
        r##"<?xml version="1.0" encoding="UTF-8"?><Response><Dial action="https://hooks.example.com/twilio/dial-done?job=7f3c&amp;leg=1" method="POST" timeout="20"><Number method="GET" sendDigits="wwww1928" statusCallback="https://example.com?action=getTwiml&amp;param=dial" statusCallbackEvent="initiated ringing answered completed" statusCallbackMethod="POST" url="https://example.com/whisper?lang=en&amp;v=2">+15551234567</Number><Number>+15557654321</Number></Dial></Response>"##,
    );
}

#[test]
fn golden_record_every_attribute() {
    assert_golden(
        &record_every_attribute(),
        r##"<?xml version="1.0" encoding="UTF-8"?><Response><Record action="https://hooks.example.com/twilio/record-done?job=7f3c&amp;try=1" finishOnKey="#*" maxLength="300" method="POST" playBeep="true" recordingConfigurationId="JYaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" recordingStatusCallback="https://hooks.example.com/twilio/recording?job=7f3c" recordingStatusCallbackEvent="in-progress completed absent" recordingStatusCallbackMethod="GET" timeout="5" transcribe="false" transcribeCallback="https://hooks.example.com/twilio/transcript" trim="do-not-trim" /></Response>"##,
    );
}

#[test]
fn golden_inbound_flow() {
    assert_golden(
        &inbound_flow(),
        r##"<?xml version="1.0" encoding="UTF-8"?><Response><Say voice="Polly.Joanna">Thanks for calling Acme Plumbing. After the beep, tell us your name, address and when you need us.</Say><Record action="https://hooks.example.com/twilio/record-done?job=7f3c" finishOnKey="#" maxLength="300" method="POST" playBeep="true" recordingStatusCallback="https://hooks.example.com/twilio/recording?job=7f3c" recordingStatusCallbackEvent="in-progress completed absent" recordingStatusCallbackMethod="POST" timeout="5" trim="trim-silence" /><Say>We did not catch that. Goodbye.</Say><Hangup /></Response>"##,
    );
}

#[test]
fn golden_record_done() {
    assert_golden(
        &record_done(),
        r##"<?xml version="1.0" encoding="UTF-8"?><Response><Say>Thanks, we'll text you a confirmation.</Say><Hangup /></Response>"##,
    );
}

#[test]
fn golden_gather_nested() {
    assert_golden(
        &gather_nested(),
        r##"<?xml version="1.0" encoding="UTF-8"?><Response><Gather action="https://hooks.example.com/twilio/gather?step=1&amp;job=7f3c" actionOnEmptyResult="true" bargeIn="false" debug="false" enhanced="true" finishOnKey="#" hints="plumber, boiler, leak" input="dtmf speech" language="en-US" maxSpeechTime="45" method="POST" numDigits="1" partialResultCallback="https://hooks.example.com/twilio/partial" partialResultCallbackMethod="GET" profanityFilter="true" speechModel="phone_call" speechTimeout="auto" timeout="5"><Say language="en-US" voice="alice">Press 1 or say emergency.</Say><Pause length="2" /><Play loop="1">https://example.com/menu.mp3</Play></Gather><Say>We didn't receive any input. Goodbye!</Say></Response>"##,
    );
}

#[test]
fn golden_gather_speech_timeout_seconds() {
    assert_golden(
        &gather_speech_timeout_seconds(),
        r##"<?xml version="1.0" encoding="UTF-8"?><Response><Gather input="speech" speechTimeout="3" /></Response>"##,
    );
}

#[test]
fn golden_reject_busy() {
    assert_golden(
        &VoiceResponse::new().reject(RejectReason::Busy),
        r##"<?xml version="1.0" encoding="UTF-8"?><Response><Reject reason="busy" /></Response>"##,
    );
}

#[test]
fn golden_reject_default() {
    assert_golden(
        &VoiceResponse::new().reject(Reject::new()),
        r##"<?xml version="1.0" encoding="UTF-8"?><Response><Reject /></Response>"##,
    );
}

#[test]
fn golden_hangup() {
    assert_golden(
        &VoiceResponse::new().hangup(),
        r##"<?xml version="1.0" encoding="UTF-8"?><Response><Hangup /></Response>"##,
    );
}

#[test]
fn golden_pause() {
    assert_golden(
        &pause(),
        r##"<?xml version="1.0" encoding="UTF-8"?><Response><Pause length="3" /><Pause /></Response>"##,
    );
}

#[test]
fn golden_play() {
    assert_golden(
        &play(),
        r##"<?xml version="1.0" encoding="UTF-8"?><Response><Play loop="0">https://example.com/hold music.mp3?a=1&amp;b=2</Play><Play digits="wwww3" /></Response>"##,
    );
}

#[test]
fn golden_dial_record_dual() {
    assert_golden(
        &dial_record_dual(),
        r##"<?xml version="1.0" encoding="UTF-8"?><Response><Dial action="https://hooks.example.com/twilio/dial-done" answerOnBridge="true" callerId="+15550001111" hangupOnStar="true" method="POST" record="record-from-answer-dual" recordingConfigurationId="JYbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb" recordingStatusCallback="https://hooks.example.com/twilio/recording?job=7f3c&amp;leg=dial" recordingStatusCallbackEvent="in-progress completed absent" recordingStatusCallbackMethod="POST" recordingTrack="both" referMethod="GET" referUrl="https://hooks.example.com/twilio/refer" ringTone="us" sequential="false" timeLimit="3600" timeout="30" trim="trim-silence">+15551234567</Dial></Response>"##,
    );
}

#[test]
fn golden_attribute_whitespace() {
    assert_golden(
        &attribute_whitespace(),
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Redirect method=\"GET\">https://example.com/next\tstep</Redirect><Record action=\"https://example.com/a?x=&quot;1&quot;&amp;y='2'&lt;3&gt;&#10;line2&#09;tab&#13;cr\" finishOnKey=\"\" /><Say voice=\"Polly.&quot;Odd&quot;&#10;Voice\">line one\nline two\ttabbed\rcarriage return</Say></Response>",
    );
}

#[test]
fn golden_empty_texts() {
    assert_golden(
        &empty_texts(),
        r##"<?xml version="1.0" encoding="UTF-8"?><Response><Say /><Play /><Redirect /><Gather /><Dial /></Response>"##,
    );
}

/// twilio-python tests/unit/twiml/test_voice_response.py, `test_redirect_method_params` (twilio.md §3.1).
#[test]
fn golden_py_redirect_method_params() {
    assert_golden(
        &VoiceResponse::new()
            .redirect(Redirect::new("example.com?id=34&action=hey").with_method(Method::Post)),
        r##"<?xml version="1.0" encoding="UTF-8"?><Response><Redirect method="POST">example.com?id=34&amp;action=hey</Redirect></Response>"##,
    );
}

/// twilio-python tests/unit/twiml/test_voice_response.py, `test_add_number_status_callback_event`
/// (twilio.md §3.1).
#[test]
fn golden_py_add_number_status_callback_event() {
    let document = VoiceResponse::new().dial(
        Dial::new().number(
            Number::new("1231231234")
                .with_status_callback("http://example.com")
                .with_status_callback_event([CallStatusEvent::Initiated, CallStatusEvent::Completed]),
        ),
    );
    assert_golden(
        &document,
        r##"<?xml version="1.0" encoding="UTF-8"?><Response><Dial><Number statusCallback="http://example.com" statusCallbackEvent="initiated completed">1231231234</Number></Dial></Response>"##,
    );
}

/// twilio-node spec/unit/twiml/VoiceResponse.spec.js, "should escape special characters" (twilio.md §3.1);
/// twilio-python prints the same string.
#[test]
fn golden_node_escape_special_characters() {
    let document = VoiceResponse::new().dial(Dial::new().number(
        Number::new("+11234567890").with_status_callback("https://example.com?action=getTwiml&param=dial"),
    ));
    assert_golden(
        &document,
        r##"<?xml version="1.0" encoding="UTF-8"?><Response><Dial><Number statusCallback="https://example.com?action=getTwiml&amp;param=dial">+11234567890</Number></Dial></Response>"##,
    );
}

#[test]
fn display_and_content_type() {
    let document = inbound_flow();
    assert_eq!(document.to_string(), document.to_xml());
    assert_eq!(CONTENT_TYPE, "text/xml");
}

#[test]
fn unknown_attribute_values_are_written_escaped() {
    let document = VoiceResponse::new()
        .record(Record::new().with_trim(Trim::Other("trim-\"both\"".into())))
        .reject(RejectReason::Other("a&b".into()));
    assert_eq!(
        document.to_xml(),
        r##"<?xml version="1.0" encoding="UTF-8"?><Response><Record trim="trim-&quot;both&quot;" /><Reject reason="a&amp;b" /></Response>"##
    );
}

#[test]
fn empty_lists_write_no_attribute() {
    let document = VoiceResponse::new()
        .record(Record::new().with_recording_status_callback_event([]))
        .gather(Gather::new().with_input([]));
    assert_eq!(
        document.to_xml(),
        r##"<?xml version="1.0" encoding="UTF-8"?><Response><Record /><Gather /></Response>"##
    );
}

/// A bare number mixed with nouns is not valid TwiML, so the bare number becomes a `<Number>` too.
#[test]
fn bare_number_then_noun_gives_two_numbers() {
    let document = VoiceResponse::new().dial(Dial::to("+15550000001").number("+15550000002"));
    assert_eq!(
        document.to_xml(),
        r##"<?xml version="1.0" encoding="UTF-8"?><Response><Dial><Number>+15550000001</Number><Number>+15550000002</Number></Dial></Response>"##
    );
}

// ---------------------------------------------------------------------------------------------------------
// 2. Snapshots
// ---------------------------------------------------------------------------------------------------------

#[test]
fn snapshot_inbound_flow() {
    insta::assert_snapshot!("inbound_flow", inbound_flow().to_xml());
}

#[test]
fn snapshot_record_done() {
    insta::assert_snapshot!("record_done", record_done().to_xml());
}

#[test]
fn snapshot_record_every_attribute() {
    insta::assert_snapshot!("record_every_attribute", record_every_attribute().to_xml());
}

#[test]
fn snapshot_dial_record_dual() {
    insta::assert_snapshot!("dial_record_dual", dial_record_dual().to_xml());
}

#[test]
fn snapshot_dial_number_callbacks() {
    insta::assert_snapshot!("dial_number_callbacks", dial_number_callbacks().to_xml());
}

#[test]
fn snapshot_gather_nested() {
    insta::assert_snapshot!("gather_nested", gather_nested().to_xml());
}

#[test]
fn snapshot_say_special_chars() {
    insta::assert_snapshot!("say_special_chars", say_special_chars().to_xml());
}

#[test]
fn snapshot_say_french() {
    insta::assert_snapshot!("say_french", say_french().to_xml());
}

#[test]
fn snapshot_redirect_play_pause() {
    let document = VoiceResponse::new()
        .play(Play::new("https://example.com/hold.mp3").with_loop_count(2))
        .pause(Pause::seconds(1))
        .verb(redirect_query().verbs[0].clone());
    insta::assert_snapshot!("redirect_play_pause", document.to_xml());
}

// ---------------------------------------------------------------------------------------------------------
// 3. Parsing the output back
// ---------------------------------------------------------------------------------------------------------

/// One element of a parsed document, flattened in document order.
#[derive(Debug, PartialEq)]
struct Parsed {
    depth: usize,
    name: String,
    attributes: Vec<(String, String)>,
    text: String,
}

/// Parses a TwiML document with quick-xml, resolving entity and character references, and checks it
/// starts with the XML declaration and has exactly one root element.
fn parse(xml: &str) -> Result<Vec<Parsed>, String> {
    // quick-xml does not enforce XML 1.0's "Legal Character" constraint, so check it here.
    if let Some(illegal) = xml.chars().find(|&c| !is_xml_char(c)) {
        return Err(format!("character {illegal:?} is not allowed in XML 1.0"));
    }
    let mut reader = Reader::from_str(xml);
    let mut elements: Vec<Parsed> = Vec::new();
    let mut open: Vec<usize> = Vec::new();
    let mut roots = 0;
    let mut first = true;
    loop {
        let event = reader.read_event().map_err(|e| e.to_string())?;
        if first {
            if !matches!(event, Event::Decl(_)) {
                return Err(format!("first event is not the XML declaration: {event:?}"));
            }
            first = false;
            continue;
        }
        match event {
            Event::Start(ref start) | Event::Empty(ref start) => {
                if open.is_empty() {
                    roots += 1;
                }
                let mut attributes = Vec::new();
                for attribute in start.attributes() {
                    let attribute = attribute.map_err(|e| e.to_string())?;
                    let key =
                        String::from_utf8(attribute.key.as_ref().to_vec()).map_err(|e| e.to_string())?;
                    let value = attribute
                        .unescape_value()
                        .map_err(|e| e.to_string())?
                        .into_owned();
                    attributes.push((key, value));
                }
                let name = String::from_utf8(start.name().as_ref().to_vec()).map_err(|e| e.to_string())?;
                elements.push(Parsed {
                    depth: open.len(),
                    name,
                    attributes,
                    text: String::new(),
                });
                if matches!(event, Event::Start(_)) {
                    open.push(elements.len() - 1);
                }
            }
            Event::End(_) => {
                open.pop();
            }
            Event::Text(text) => {
                let text = text.xml10_content().map_err(|e| e.to_string())?;
                match open.last() {
                    Some(&index) => elements[index].text.push_str(&text),
                    None => return Err(format!("text outside the root: {text:?}")),
                }
            }
            Event::GeneralRef(reference) => {
                let resolved = match reference.resolve_char_ref().map_err(|e| e.to_string())? {
                    Some(c) => c.to_string(),
                    None => {
                        let name = reference.decode().map_err(|e| e.to_string())?;
                        quick_xml::escape::resolve_predefined_entity(&name)
                            .ok_or_else(|| format!("unknown entity &{name};"))?
                            .to_owned()
                    }
                };
                match open.last() {
                    Some(&index) => elements[index].text.push_str(&resolved),
                    None => return Err("reference outside the root".into()),
                }
            }
            Event::Eof => break,
            other => return Err(format!("unexpected event {other:?}")),
        }
    }
    if roots != 1 || elements.first().map(|root| root.name.as_str()) != Some("Response") {
        return Err(format!("expected exactly one root <Response>, got {roots} roots"));
    }
    Ok(elements)
}

fn attribute<'a>(element: &'a Parsed, name: &str) -> Option<&'a str> {
    element
        .attributes
        .iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.as_str())
}

/// twilio.md §7: the §3.5 document parsed back with quick-xml.
#[test]
fn inbound_flow_parses_back() {
    let elements = parse(&inbound_flow().to_xml()).unwrap();
    let names: Vec<_> = elements.iter().map(|e| (e.depth, e.name.as_str())).collect();
    assert_eq!(
        names,
        [
            (0, "Response"),
            (1, "Say"),
            (1, "Record"),
            (1, "Say"),
            (1, "Hangup")
        ]
    );
    let record = &elements[2];
    assert_eq!(
        attribute(record, "action"),
        Some("https://hooks.example.com/twilio/record-done?job=7f3c")
    );
    assert_eq!(
        attribute(record, "recordingStatusCallbackEvent"),
        Some("in-progress completed absent")
    );
    assert_eq!(attribute(record, "playBeep"), Some("true"));
    assert_eq!(elements[3].text, "We did not catch that. Goodbye.");
}

#[test]
fn tricky_values_parse_back() {
    let elements = parse(&attribute_whitespace().to_xml()).unwrap();
    assert_eq!(elements[1].text, "https://example.com/next\tstep");
    assert_eq!(
        attribute(&elements[2], "action"),
        Some("https://example.com/a?x=\"1\"&y='2'<3>\nline2\ttab\rcr")
    );
    assert_eq!(attribute(&elements[2], "finishOnKey"), Some(""));
    assert_eq!(attribute(&elements[3], "voice"), Some("Polly.\"Odd\"\nVoice"));
    // A parser normalizes a raw carriage return in text to a newline (XML 1.0 §2.11).
    assert_eq!(elements[3].text, "line one\nline two\ttabbed\ncarriage return");
}

/// XML 1.0's `Char` production.
fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// What the builder promises for a string: characters XML 1.0 forbids are dropped, everything else is
/// kept.
fn legal_xml(input: &str) -> String {
    input.chars().filter(|&c| is_xml_char(c)).collect()
}

/// Text content as an XML 1.0 parser reports it: `\r\n` and `\r` normalized to `\n` (XML 1.0 §2.11;
/// U+0085 and U+2028 stay, they are line ends only in XML 1.1).
fn normalized_line_ends(input: &str) -> String {
    input.replace("\r\n", "\n").replace('\r', "\n")
}

/// Any Unicode text, biased towards the characters the escaping and filtering care about.
fn tricky_text() -> impl Strategy<Value = String> {
    let tricky = prop::sample::select(vec![
        '&', '<', '>', '"', '\'', '\n', '\r', '\t', ' ', '#', ';', '\u{0}', '\u{1}', '\u{8}', '\u{b}',
        '\u{c}', '\u{1f}', '\u{7f}', '\u{85}', '\u{2028}', '\u{d7ff}', '\u{e000}', '\u{fffd}', '\u{fffe}',
        '\u{ffff}', 'é', '中', '😀',
    ]);
    prop::collection::vec(prop_oneof![any::<char>(), tricky], 0..48)
        .prop_map(|chars| chars.into_iter().collect())
}

#[derive(Debug, Clone)]
enum AnyVerb {
    Say(String),
    Play(String),
    Pause(u32),
    Record(String),
    DialBare(String),
    DialNumber(String, String),
    Gather(String, String),
    Hangup,
    Reject(String),
    Redirect(String),
}

fn any_verb() -> impl Strategy<Value = AnyVerb> {
    prop_oneof![
        tricky_text().prop_map(AnyVerb::Say),
        tricky_text().prop_map(AnyVerb::Play),
        any::<u32>().prop_map(AnyVerb::Pause),
        tricky_text().prop_map(AnyVerb::Record),
        tricky_text().prop_map(AnyVerb::DialBare),
        (tricky_text(), tricky_text()).prop_map(|(n, u)| AnyVerb::DialNumber(n, u)),
        (tricky_text(), tricky_text()).prop_map(|(a, s)| AnyVerb::Gather(a, s)),
        Just(AnyVerb::Hangup),
        tricky_text().prop_map(AnyVerb::Reject),
        tricky_text().prop_map(AnyVerb::Redirect),
    ]
}

fn build(verbs: &[AnyVerb]) -> VoiceResponse {
    verbs
        .iter()
        .cloned()
        .fold(VoiceResponse::new(), |document, verb| match verb {
            AnyVerb::Say(text) => document.say(Say::new(text.clone()).with_voice(text)),
            AnyVerb::Play(url) => document.play(url),
            AnyVerb::Pause(length) => document.pause(Pause::seconds(length)),
            AnyVerb::Record(action) => document.record(Record::new().with_action(action)),
            AnyVerb::DialBare(number) => document.dial(number),
            AnyVerb::DialNumber(number, url) => document.dial(
                Dial::new()
                    .with_caller_id(number.clone())
                    .number(Number::new(number).with_url(url)),
            ),
            AnyVerb::Gather(action, say) => {
                document.gather(Gather::new().with_action(action).say(say).pause(Pause::new()))
            }
            AnyVerb::Hangup => document.hangup(),
            AnyVerb::Reject(reason) => document.reject(RejectReason::from(reason.as_str())),
            AnyVerb::Redirect(url) => document.redirect(url),
        })
}

proptest! {
    #[test]
    fn say_text_parses_back(text in tricky_text()) {
        let xml = VoiceResponse::new().say(text.as_str()).to_xml();
        let elements = parse(&xml).map_err(TestCaseError::fail)?;
        prop_assert_eq!(elements.len(), 2);
        prop_assert_eq!(&elements[1].name, "Say");
        prop_assert_eq!(&elements[1].text, &normalized_line_ends(&legal_xml(&text)));
    }

    #[test]
    fn action_url_parses_back(url in tricky_text()) {
        let xml = VoiceResponse::new()
            .record(Record::new().with_action(url.as_str()))
            .gather(Gather::new().with_action(url.as_str()))
            .to_xml();
        let elements = parse(&xml).map_err(TestCaseError::fail)?;
        prop_assert_eq!(elements.len(), 3);
        let expected = legal_xml(&url);
        prop_assert_eq!(attribute(&elements[1], "action"), Some(expected.as_str()));
        prop_assert_eq!(attribute(&elements[2], "action"), Some(expected.as_str()));
    }

    #[test]
    fn any_document_is_well_formed_with_one_response_root(verbs in prop::collection::vec(any_verb(), 0..8)) {
        let xml = build(&verbs).to_xml();
        prop_assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response"));
        let elements = parse(&xml).map_err(TestCaseError::fail)?;
        let verbs_parsed = elements.iter().filter(|element| element.depth == 1).count();
        prop_assert_eq!(verbs_parsed, verbs.len());
    }
}
