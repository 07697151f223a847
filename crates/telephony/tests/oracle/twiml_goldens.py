#!/usr/bin/env python3
"""Golden TwiML documents for `callbook_telephony::twiml`, built with twilio-python.

The Rust tests in `tests/twiml.rs` compare our builder's output byte for byte with
the strings this script prints. Regenerate them with the pinned versions:

    pip install twilio==9.13.0      # CPython 3.11 (ElementTree's escaping is what we copy)
    python3 crates/telephony/tests/oracle/twiml_goldens.py

Each document is printed as one JSON object per line: {"name": ..., "xml": ...}.
List-valued attributes are passed as space-separated strings, because
twilio-python would otherwise render a Python list as "['a', 'b']".
"""

import json
import sys

import twilio
from twilio.twiml.voice_response import Dial, Gather, VoiceResponse

EXPECTED_TWILIO = "9.13.0"

HOOKS = "https://hooks.example.com/twilio"


def empty():
    return VoiceResponse()


def say_french():
    r = VoiceResponse()
    r.say("nécessaire et d'autres", voice="Polly.Celine", language="fr-FR", loop=2)
    return r


def say_special_chars():
    r = VoiceResponse()
    r.say("Tom & Jerry <3 \"quoted\" 'single' > all")
    return r


def redirect_query():
    r = VoiceResponse()
    r.redirect("example.com?id=34&action=hey", method="POST")
    return r


def dial_number_callbacks():
    r = VoiceResponse()
    d = Dial(action=HOOKS + "/dial-done?job=7f3c&leg=1", method="POST", timeout=20)
    d.number(
        "+15551234567",
        send_digits="wwww1928",
        url="https://example.com/whisper?lang=en&v=2",
        method="GET",
        status_callback="https://example.com?action=getTwiml&param=dial",
        status_callback_event="initiated ringing answered completed",
        status_callback_method="POST",
    )
    d.number("+15557654321")
    r.append(d)
    return r


def record_every_attribute():
    r = VoiceResponse()
    r.record(
        action=HOOKS + "/record-done?job=7f3c&try=1",
        method="POST",
        timeout=5,
        finish_on_key="#*",
        max_length=300,
        play_beep=True,
        trim="do-not-trim",
        recording_status_callback=HOOKS + "/recording?job=7f3c",
        recording_status_callback_method="GET",
        recording_status_callback_event="in-progress completed absent",
        transcribe=False,
        transcribe_callback=HOOKS + "/transcript",
        recording_configuration_id="JYaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    )
    return r


def inbound_flow():
    """twilio.md §3.5, the recommended inbound flow."""
    r = VoiceResponse()
    r.say(
        "Thanks for calling Acme Plumbing. After the beep, tell us your name, "
        "address and when you need us.",
        voice="Polly.Joanna",
    )
    r.record(
        action=HOOKS + "/record-done?job=7f3c",
        method="POST",
        max_length=300,
        timeout=5,
        finish_on_key="#",
        play_beep=True,
        trim="trim-silence",
        recording_status_callback=HOOKS + "/recording?job=7f3c",
        recording_status_callback_method="POST",
        recording_status_callback_event="in-progress completed absent",
    )
    r.say("We did not catch that. Goodbye.")
    r.hangup()
    return r


def record_done():
    r = VoiceResponse()
    r.say("Thanks, we'll text you a confirmation.")
    r.hangup()
    return r


def gather_nested():
    r = VoiceResponse()
    g = Gather(
        input="dtmf speech",
        action=HOOKS + "/gather?step=1&job=7f3c",
        method="POST",
        timeout=5,
        speech_timeout="auto",
        max_speech_time=45,
        profanity_filter=True,
        finish_on_key="#",
        num_digits=1,
        partial_result_callback=HOOKS + "/partial",
        partial_result_callback_method="GET",
        language="en-US",
        hints="plumber, boiler, leak",
        barge_in=False,
        debug=False,
        action_on_empty_result=True,
        speech_model="phone_call",
        enhanced=True,
    )
    g.say("Press 1 or say emergency.", voice="alice", language="en-US")
    g.pause(length=2)
    g.play("https://example.com/menu.mp3", loop=1)
    r.append(g)
    r.say("We didn't receive any input. Goodbye!")
    return r


def gather_speech_timeout_seconds():
    r = VoiceResponse()
    r.gather(input="speech", speech_timeout=3)
    return r


def reject_busy():
    r = VoiceResponse()
    r.reject(reason="busy")
    return r


def reject_default():
    r = VoiceResponse()
    r.reject()
    return r


def hangup():
    r = VoiceResponse()
    r.hangup()
    return r


def pause():
    r = VoiceResponse()
    r.pause(length=3)
    r.pause()
    return r


def play():
    r = VoiceResponse()
    r.play("https://example.com/hold music.mp3?a=1&b=2", loop=0)
    r.play(digits="wwww3")
    return r


def dial_record_dual():
    r = VoiceResponse()
    r.dial(
        "+15551234567",
        action=HOOKS + "/dial-done",
        method="POST",
        timeout=30,
        hangup_on_star=True,
        time_limit=3600,
        caller_id="+15550001111",
        record="record-from-answer-dual",
        trim="trim-silence",
        recording_status_callback=HOOKS + "/recording?job=7f3c&leg=dial",
        recording_configuration_id="JYbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
        recording_status_callback_method="POST",
        recording_status_callback_event="in-progress completed absent",
        answer_on_bridge=True,
        ring_tone="us",
        recording_track="both",
        sequential=False,
        refer_url=HOOKS + "/refer",
        refer_method="GET",
    )
    return r


def attribute_whitespace():
    r = VoiceResponse()
    r.redirect("https://example.com/next\tstep", method="GET")
    r.record(
        action="https://example.com/a?x=\"1\"&y='2'<3>\nline2\ttab\rcr",
        finish_on_key="",
    )
    r.say("line one\nline two\ttabbed\rcarriage return", voice='Polly."Odd"\nVoice')
    return r


def empty_texts():
    r = VoiceResponse()
    r.say("")
    r.play("")
    r.redirect("")
    r.gather()
    r.dial()
    return r


def py_redirect_method_params():
    """twilio-python tests/unit/twiml/test_voice_response.py, test_redirect_method_params."""
    r = VoiceResponse()
    r.redirect("example.com?id=34&action=hey", method="POST")
    return r


def py_add_number_status_callback_event():
    """twilio-python tests/unit/twiml/test_voice_response.py, test_add_number_status_callback_event."""
    d = Dial()
    d.number("1231231234", status_callback="http://example.com", status_callback_event="initiated completed")
    r = VoiceResponse()
    r.append(d)
    return r


def node_escape_special_characters():
    """twilio-node spec/unit/twiml/VoiceResponse.spec.js, 'should escape special characters'."""
    r = VoiceResponse()
    r.dial().number("+11234567890", status_callback="https://example.com?action=getTwiml&param=dial")
    return r


DOCUMENTS = [
    empty,
    say_french,
    say_special_chars,
    redirect_query,
    dial_number_callbacks,
    record_every_attribute,
    inbound_flow,
    record_done,
    gather_nested,
    gather_speech_timeout_seconds,
    reject_busy,
    reject_default,
    hangup,
    pause,
    play,
    dial_record_dual,
    attribute_whitespace,
    empty_texts,
    py_redirect_method_params,
    py_add_number_status_callback_event,
    node_escape_special_characters,
]


def main():
    if twilio.__version__ != EXPECTED_TWILIO:
        print(f"warning: twilio {twilio.__version__}, goldens were made with {EXPECTED_TWILIO}", file=sys.stderr)
    for build in DOCUMENTS:
        print(json.dumps({"name": build.__name__, "xml": build().to_xml()}, ensure_ascii=False))


if __name__ == "__main__":
    main()
