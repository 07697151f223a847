"""Twilio's Python quickstart shape: Flask + the official SDK's RequestValidator + VoiceResponse, no database.

Baseline of the webhook benchmark (run.sh); served by gunicorn with 2 sync workers.
"""

import os

from flask import Flask, Response, abort, request
from twilio.request_validator import RequestValidator
from twilio.twiml.voice_response import VoiceResponse

app = Flask(__name__)
validator = RequestValidator(os.environ["TWILIO_AUTH_TOKEN"])


@app.route("/webhooks/twilio/voice", methods=["POST"])
def voice():
    signature = request.headers.get("X-Twilio-Signature", "")
    if not validator.validate(request.url, request.form, signature):
        abort(403)
    response = VoiceResponse()
    response.say(
        "Thanks for calling Rivera and Sons Plumbing. This call is recorded. An automated assistant "
        "transcribes your message so we can book your visit. After the beep, please tell us your name, "
        "your address, what you need and when.",
        voice="Polly.Joanna",
        language="en-US",
    )
    response.record(
        max_length=300,
        play_beep=True,
        recording_status_callback=request.url_root + "webhooks/twilio/recording",
        recording_status_callback_event="completed absent",
    )
    response.say("Thank you. We will get back to you shortly. Goodbye.")
    return Response(str(response), mimetype="text/xml")
