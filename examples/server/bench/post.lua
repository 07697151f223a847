-- wrk calibration of the ceiling (run.sh): one fixed voice-webhook form body, POSTed over keep-alive.
wrk.method = "POST"
wrk.path = "/webhooks/twilio/voice"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.body = "AccountSid=AC00000000000000000000000000000001&ApiVersion=2010-04-01&CallSid=CA00000000000000000000000000000001&CallStatus=ringing&Called=%2B14155550100&Caller=%2B19145552177&Direction=inbound&From=%2B19145552177&FromCountry=US&To=%2B14155550100&ToCountry=US"
