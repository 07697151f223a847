//! Any byte string is a form body: parsing never panics, re-encoding round-trips, and every typed webhook
//! parser either yields an event or names the field that is wrong.
#![no_main]

use callbook_telephony::events::{
    CallStatusEvent, DialActionEvent, IncomingCall, RecordActionEvent, RecordingStatusEvent,
};
use callbook_telephony::form::FormParams;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|body: &[u8]| {
    let params = FormParams::parse(body);
    assert_eq!(FormParams::parse(params.encode().as_bytes()), params, "encode/parse round trip");
    for result in [
        IncomingCall::from_params(&params).err(),
        CallStatusEvent::from_params(&params).err(),
        RecordingStatusEvent::from_params(&params).err(),
        RecordActionEvent::from_params(&params).err(),
        DialActionEvent::from_params(&params).err(),
    ]
    .into_iter()
    .flatten()
    {
        assert!(!result.field.is_empty());
    }
});
