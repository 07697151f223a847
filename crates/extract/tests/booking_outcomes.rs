//! Booking outcomes in dialogs: which attempt decides whether a visit was booked.

use callbook_extract::{CallContext, RulesExtractor, Transcript};

#[allow(clippy::unwrap_used)]
fn extract(text: &str) -> callbook_extract::Extraction {
    let started = chrono::DateTime::parse_from_rfc3339("2026-05-01T09:00:00-04:00")
        .unwrap()
        .to_utc();
    RulesExtractor::new().extract_sync(
        &Transcript::new(text),
        &CallContext::new(started, chrono_tz::America::New_York),
    )
}

#[test]
fn a_failed_attempt_then_no_thanks_to_another_offer_books_nothing() {
    let out = extract(
        "Customer: I'd like a haircut at the salon on Tuesday.\n\
         Agent: What time would you like?\n\
         Customer: Two in the afternoon.\n\
         Agent: Please confirm: an appointment at the salon on Tuesday at 2 pm?\n\
         Customer: Yes, that works.\n\
         Agent: Sorry, I could not book that. Would 3 pm on Tuesday work instead?\n\
         Customer: No thanks, that's all.\n\
         Agent: Have a good day.",
    );
    assert!(!out.has_appointment());
}

#[test]
fn a_booking_then_no_thanks_to_anything_else_stays_booked() {
    let out = extract(
        "Customer: I'd like a haircut at the salon on Tuesday at 2 pm.\n\
         Agent: Please confirm: an appointment at the salon on Tuesday at 2 pm?\n\
         Customer: Yes, that works.\n\
         Agent: Your appointment has been booked. Would you like me to book another visit?\n\
         Customer: No thanks, that's all.\n\
         Agent: Have a good day.",
    );
    assert!(out.has_appointment());
}

#[test]
fn a_failed_restaurant_reservation_after_a_booking_does_not_undo_it() {
    let out = extract(
        "Customer: Please book me a dentist appointment on Monday at 10 am.\n\
         Agent: Your appointment is confirmed for Monday at 10 am.\n\
         Customer: Thanks. Can you also get me a reservation for 2 at Luigi's at 7 pm?\n\
         Agent: Please confirm a reservation for 2 at Luigi's on Monday at 7 pm.\n\
         Customer: Yes.\n\
         Agent: Sorry, your reservation could not be made. Would 8 pm work instead?\n\
         Customer: No thanks, that's all.\n\
         Agent: Have a great day.",
    );
    assert!(out.has_appointment());
}

#[test]
fn a_dialog_that_stops_on_the_agents_offer_books_nothing() {
    let out = extract(
        "Customer: I want to view an apartment on Thursday at 6 pm.\n\
         Agent: Could you give me your name, please?\n\
         Customer: Dana\n\
         Agent: Great, there is still a viewing available at that time. Would you like me to book it for you?",
    );
    assert!(!out.has_appointment());
}

#[test]
fn no_viewing_available_is_a_failed_attempt() {
    let out = extract(
        "Customer: I'd like to see the apartment on Wednesday at 8 pm. My name is Dana.\n\
         Agent: I am sorry, but there is no viewing available at your preferred time.\n\
         Customer: That's okay, thank you.\n\
         Agent: Thank you and goodbye.",
    );
    assert!(!out.has_appointment());
}

#[test]
fn a_table_booked_after_the_appointment_does_not_move_its_time() {
    let out = extract(
        "Customer: I'd like a haircut at the salon on Friday at 4 pm.\n\
         Agent: Please confirm an appointment at the salon on Friday at 4 pm.\n\
         Customer: Yes.\n\
         Agent: Your appointment has been booked.\n\
         Customer: Can you also get me a table for two nearby?\n\
         Agent: What time?\n\
         Customer: 7 pm.\n\
         Agent: Please confirm a table for 2 on Friday at 7 pm.\n\
         Customer: Yes.\n\
         Agent: That has been booked for you.",
    );
    let time = out.appointments[0]
        .when
        .as_ref()
        .and_then(|w| w.value.time)
        .map(|t| t.format("%H:%M").to_string());
    assert_eq!(time.as_deref(), Some("16:00"));
}

#[test]
fn a_negation_in_an_earlier_sentence_is_not_a_failed_attempt() {
    let out = extract(
        "Customer: I want an appointment at the salon for 1 pm today.\n\
         Agent: You would like an appointment at the salon for 1 pm today?\n\
         Customer: Yes. Is it a unisex salon?\n\
         Agent: No it is not. I have scheduled the appointment for you.\n\
         Customer: Thanks a lot.\n\
         Agent: Enjoy your day.",
    );
    assert!(out.has_appointment());
}

#[test]
fn a_reservation_in_a_dialog_without_an_appointment_is_another_task() {
    let out = extract(
        "Customer: Can you find me a place to eat in Oakland?\n\
         Agent: Lin Jia Kitchen is a good one.\n\
         Customer: Book it for 4 people at 6 pm on Friday.\n\
         Agent: So a reservation for 4 at Lin Jia Kitchen on Friday at 6 pm?\n\
         Customer: Yes.\n\
         Agent: Your reservation was successful.",
    );
    assert!(!out.has_appointment());
}
