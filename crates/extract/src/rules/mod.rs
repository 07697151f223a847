//! The offline rules extractor: deterministic, no network, no model.
//!
//! It reads the transcript turn by turn, keeping the caller's words apart from the agent's:
//! * **call kind** from the shape of the call (no agent turn → voicemail) and from spam, wrong-number and silence
//!   cues;
//! * **whether a visit was booked or asked for** from the agent's booking confirmations and failures, the caller's
//!   request, decline, cancellation, call-back and price-enquiry cues — the last booking event wins;
//! * **when** by folding the date/time mentions of every turn up to the booking ([`crate::datetime`]), skipping
//!   distractors ("last Tuesday", "we had you out on the 14th", "you'll hear from us by Friday");
//! * **name, phone, address** only from the caller's turns (answers to the agent's questions count most), never
//!   the business's own details;
//! * **price, urgency, job description and notes** from keyword rules.
//!
//! Every value carries the transcript text it came from, and the result is passed through
//! [`crate::validate::sanitize`].

mod address;
mod lexicon;
mod name;
pub(crate) mod numbers;
pub mod phone;
mod price;

use async_trait::async_trait;
use chrono::Datelike;

use crate::datetime::{self, Mention, MentionKind, Phrase, Reference, TimeExpr, Token};
use crate::error::Result;
use crate::extractor::Extractor;
use crate::types::{
    Appointment, CallContext, CallKind, Extraction, ExtractorInfo, Field, Speaker, Transcript, Urgency,
    WhenField,
};
use crate::validate;

/// The offline rules extractor. Cheap to clone; holds no state between calls.
#[derive(Debug, Clone, Default)]
pub struct RulesExtractor {
    _private: (),
}

impl RulesExtractor {
    /// A rules extractor.
    pub fn new() -> Self {
        Self::default()
    }

    /// Extracts synchronously (the rules extractor never waits on anything). The output is sanitised.
    pub fn extract_sync(&self, transcript: &Transcript, context: &CallContext) -> Extraction {
        let call = Call::new(transcript, context);
        let extraction = call.extract(self.info());
        validate::sanitize(extraction, transcript, context)
    }
}

#[async_trait]
impl Extractor for RulesExtractor {
    fn info(&self) -> ExtractorInfo {
        ExtractorInfo::builtin("rules", None)
    }

    async fn extract(&self, transcript: &Transcript, context: &CallContext) -> Result<Extraction> {
        Ok(self.extract_sync(transcript, context))
    }
}

/// One turn, prepared.
#[derive(Debug)]
pub(crate) struct Utterance {
    pub(crate) speaker: Speaker,
    pub(crate) text: String,
    pub(crate) tokens: Vec<Token>,
    /// Lower case, punctuation turned into spaces, padded with a space at both ends: `" see you thursday "`.
    pub(crate) norm: String,
    /// Date/time mentions in the turn (scanned once).
    pub(crate) mentions: Vec<Mention>,
}

impl Utterance {
    fn new(speaker: Speaker, text: String) -> Self {
        let tokens = datetime::tokenize(&text);
        let mut norm = String::with_capacity(text.len() + 2);
        norm.push(' ');
        for token in &tokens {
            norm.push_str(&token.text);
            norm.push(' ');
        }
        let mentions = datetime::scan_tokens(&tokens);
        Self {
            speaker,
            text,
            tokens,
            norm,
            mentions,
        }
    }

    /// Caller words (an unlabelled turn counts as the caller's).
    pub(crate) fn is_caller(&self) -> bool {
        self.speaker != Speaker::Agent
    }

    pub(crate) fn has(&self, patterns: &[&str]) -> bool {
        patterns.iter().any(|p| self.norm.contains(p))
    }

    /// The text of a token range.
    pub(crate) fn slice(&self, from: usize, to: usize) -> &str {
        if from >= to || to > self.tokens.len() {
            return "";
        }
        &self.text[self.tokens[from].span.start..self.tokens[to - 1].span.end]
    }
}

/// The call being read.
pub(crate) struct Call<'a> {
    pub(crate) turns: Vec<Utterance>,
    pub(crate) ctx: &'a CallContext,
    /// Whole-call normalised text.
    all: String,
}

const BOOKED: &[&str] = &[
    " has been booked",
    " is booked",
    " you're booked",
    " you are booked",
    " i've booked",
    " i have booked",
    " booked you",
    " been scheduled",
    " is scheduled",
    " you're scheduled",
    " i've scheduled",
    " scheduled you",
    " is confirmed",
    " has been confirmed",
    " been reserved",
    " is reserved",
    " successfully",
    " all set",
    " see you ",
    " i'll see you",
    " we'll see you",
    " put you down",
    " put you in",
    " got you down",
    " have you down",
    " i've got you",
    " pencil you in",
    " penciled you",
    " you're on the schedule",
    " on the books",
    " be there ",
    " will be there",
    " on the way",
    " on his way",
    " on her way",
    " on their way",
    " booked for you",
    " booked in",
    " reservation is",
    " is all booked",
    " made the appointment",
    " your appointment is",
    " your appointment has",
    " appointment is set",
    " we'll have someone",
    " i'll have someone",
    " i'll have a ",
    " i'll send ",
    " we'll send ",
    " sending someone",
    " i'll put you",
    " i'll book",
    " booking you",
    " i'll get you in",
    " we'll get you in",
    " have a tech ",
    " have a technician ",
    " successful",
    " was able to book",
    " booked your",
    " i booked",
    " booked it",
    " booked the",
    " booked that",
    " able to schedule",
    " has been scheduled",
    " have been scheduled",
    " been made",
    " is made",
    " been set up",
    " is set up",
    " set up for you",
    " confirmed your",
    " reserved your",
    " reserved the",
    " reserved it",
    " is complete",
    " been completed",
    " is done",
    " all done",
    " went through",
    " is in place",
    " scheduled your",
    " confirmed the",
    " is fixed",
    " been fixed",
    " been booked",
    " have scheduled",
    " has been set",
    " is set for",
    " set up your",
    " made your",
    " booked.",
    " booked!",
    " reserved.",
    " is now booked",
    " is now scheduled",
    " is now confirmed",
    " was booked",
    " was made",
    " was confirmed",
    " was scheduled",
    " was reserved",
    " were booked",
    " you are confirmed",
    " you're confirmed",
    " it's booked",
    " it's confirmed",
    " it's scheduled",
    " booking confirmed",
    " appointment confirmed",
    " you have an appointment",
    " you got an appointment",
    " you've got an appointment",
    " completed your",
    " completed the booking",
    " was a success",
    " managed to book",
    " managed to schedule",
    " it's done",
];

const FAILED: &[&str] = &[
    " couldn't book",
    " could not book",
    " could not be booked",
    " couldn't be booked",
    " unable to book",
    " wasn't able to book",
    " was not able to book",
    " booking failed",
    " was unsuccessful",
    " could not make",
    " couldn't make the",
    " could not schedule",
    " couldn't schedule",
    " not able to make the",
    " failed",
    " no appointment available",
    " no appointments available",
    " no available appointments",
    " fully booked",
    " is not available",
    " isn't available",
    " not available at",
    " could not be made",
    " couldn't reserve",
    " could not reserve",
    " no availability",
    " unable to make",
    " cannot book",
    " can't book",
    " can not book",
    " all booked for",
    " booked up",
    " no longer available",
    " already taken",
    " is taken",
    " not possible",
    " problem booking",
    " problem making",
    " impossible to",
];

const DECLINED: &[&str] = &[
    " not right now",
    " not now",
    " no thanks",
    " no thank you",
    " not at this time",
    " maybe later",
    " don't book",
    " do not book",
    " never mind",
    " nevermind",
    " not yet",
    " i'll think about it",
    " let me think",
    " i'll call back",
    " i'll call you back",
    " call you back",
    " give you a call back",
    " get back to you",
    " i'll get back",
    " i'll let you know",
    " i'll be in touch",
    " talk it over",
    " run it by",
    " not interested",
    " no need",
    " don't need it",
    " we don't need",
    " i'll pass",
    " shop around",
    " i'll check",
    " let me check",
    " call back later",
    " i'll call next",
    " we'll call you",
    " no i don't want",
    " not going to book",
    " don't want to book",
    " i'll try a different",
    " try another",
    " no that's all",
    " i'll hold off",
    " hold off",
];

const CANCELLED: &[&str] = &[
    " cancel",
    " cancelled",
    " canceled",
    " cancelling",
    " canceling",
    " take me off",
    " skip it",
    " stop the service",
    " call it off",
];

const REQUEST: &[&str] = &[
    " come out",
    " come by",
    " come over",
    " come and ",
    " come take",
    " come look",
    " come have a look",
    " send someone",
    " send somebody",
    " send a ",
    " somebody out",
    " someone out",
    " need someone",
    " need somebody",
    " get someone",
    " get somebody",
    " have someone",
    " have somebody",
    " book ",
    " booking",
    " schedule",
    " appointment",
    " set up",
    " make an appointment",
    " visit",
    " come in",
    " can you come",
    " could you come",
    " could someone",
    " can someone",
    " when can you",
    " when could you",
    " come to ",
    " like to get",
    " i'd like",
    " we'd like",
    " need a ",
    " need an ",
    " need to get",
    " we need",
    " i need",
    " fit me in",
    " fit us in",
    " squeeze",
    " get me in",
    " get us in",
    " someone to ",
    " somebody to ",
    " reschedule",
    " move my",
    " move the",
    " move it",
    " view the",
    " viewing",
    " see the ",
    " reserve",
    " estimate",
    " quote",
    " inspection",
    " consultation",
    " service",
    " come ",
    " i want",
    " we want",
    " looking to",
    " needs ",
    " need it",
    " need them",
    " can you do",
    " could you do",
    " do you have anything",
    " available",
    " is good for me",
    " works for me",
    " please come",
];

const ENQUIRY: &[&str] = &[
    " how much",
    " what do you charge",
    " what you charge",
    " what does that cost",
    " what would it cost",
    " what's the cost",
    " price on",
    " a price",
    " ballpark",
    " rough idea",
    " roughly what",
    " what it costs",
    " what it would cost",
    " what's your rate",
    " what are your rates",
];

const NON_JOB: &[&str] = &[
    " warranty",
    " invoice",
    " billing",
    " my bill",
    " charged twice",
    " refund",
    " receipt",
    " paperwork",
];

/// Words that name the appointment itself (not another task).
const APPOINTMENT: &[&str] = &[
    " appointment",
    " visit",
    " dentist",
    " doctor",
    " dr ",
    " salon",
    " stylist",
    " barber",
    " viewing",
    " property",
    " apartment",
    " house",
    " consultation",
    " service",
    " technician",
    " tech ",
    " plumber",
    " electrician",
    " inspection",
    " estimate",
    " clinic",
    " haircut",
    " cleaning",
    " come out",
    " come by",
];

const OTHER_DOMAIN: &[&str] = &[
    " cab ",
    " cab.",
    " taxi",
    " ride ",
    " shared ride",
    " pool ride",
    " table ",
    " table.",
    " restaurant",
    " movie",
    " flight",
    " bus ",
    " train ",
    " tickets",
    " ticket ",
    " car rental",
    " rental car",
    " song",
    " music",
    " playing ",
    " alarm ",
    " event ",
    " transfer ",
    " payment ",
    " money ",
    " showing",
    " theatre",
    " theater",
    " concert",
    " hotel room",
    " weather",
    " calendar",
    " to your calendar",
    " dinner",
    " lunch reservation",
    " car ",
    " car.",
    " cars ",
    " rental",
    " rent a",
    " pick up",
    " pickup",
    " drop off",
    " return it",
    " the car",
];

const OUT_OF_AREA: &[&str] = &[
    " we only cover",
    " we don't cover",
    " don't service",
    " outside our",
    " out of our area",
    " don't go out",
    " we don't do that",
    " we don't work",
    " don't come out",
    " only serve",
    " only service",
];

const SPAM: &[&str] = &[
    " press one",
    " press 1 ",
    " press two",
    " press 2 ",
    " press nine",
    " final notice",
    " extended warranty",
    " google listing",
    " google business",
    " business listing",
    " credit card processing",
    " merchant services",
    " lower your rates",
    " pre approved",
    " preapproved",
    " business loan",
    " funding",
    " this is an automated",
    " social security",
    " gift card",
    " limited time",
    " opt out",
    " to be removed",
    " unsubscribe",
    " seo ",
    " search engine",
    " first page of google",
    " your vehicle's warranty",
    " car's warranty",
    " verify your account",
    " suspended",
    " irs ",
    " arrest warrant",
    " you've won",
    " you have won",
    " congratulations you",
    " free cruise",
    " marketing services",
    " more customers",
    " more leads",
    " qualify for",
    " energy rates",
    " solar ",
    " do not hang up",
    " don't hang up",
    " this call is regarding",
    " per minute",
    " robot",
    " recorded message",
    " lead generation",
    " leads for your",
    " website design",
    " we help businesses",
    " this message is for the owner",
    " business owner",
    " calling on behalf of",
];

const WRONG_NUMBER: &[&str] = &[
    " wrong number",
    " the wrong ",
    " dialed wrong",
    " dialled wrong",
    " misdialed",
    " misdialled",
    " not the right number",
    " must have dialed",
    " must have dialled",
    " sorry wrong",
];

impl<'a> Call<'a> {
    pub(crate) fn new(transcript: &Transcript, ctx: &'a CallContext) -> Self {
        let turns: Vec<Utterance> = transcript
            .turns()
            .into_iter()
            .map(|t| Utterance::new(t.speaker, t.text))
            .collect();
        let mut all = String::from(" ");
        for turn in &turns {
            all.push_str(turn.norm.trim_start());
        }
        Self { turns, ctx, all }
    }

    fn has(&self, patterns: &[&str]) -> bool {
        patterns.iter().any(|p| self.all.contains(p))
    }

    fn caller_turns(&self) -> impl Iterator<Item = (usize, &Utterance)> {
        self.turns.iter().enumerate().filter(|(_, t)| t.is_caller())
    }

    /// The agent turn just before turn `i`, if the previous turn is the agent's.
    pub(crate) fn prompt_before(&self, i: usize) -> Option<&Utterance> {
        i.checked_sub(1)
            .and_then(|p| self.turns.get(p))
            .filter(|t| t.speaker == Speaker::Agent)
    }

    fn kind(&self) -> (CallKind, f64) {
        let content_words = self
            .turns
            .iter()
            .flat_map(|t| t.tokens.iter())
            .filter(|t| {
                !matches!(
                    t.text.as_str(),
                    "uh" | "um"
                        | "hello"
                        | "hi"
                        | "hey"
                        | "hm"
                        | "hmm"
                        | "mm"
                        | "anyone"
                        | "there"
                        | "is"
                        | "anybody"
                        | "yes"
                        | "yeah"
                        | "oh"
                        | "ah"
                        | "er"
                )
            })
            .count();
        let caller_words: usize = self.caller_turns().map(|(_, t)| t.tokens.len()).sum();
        if content_words < 4
            || caller_words == 0
            || (caller_words <= 2 && self.turns.iter().all(|t| t.tokens.len() <= 8))
        {
            return (CallKind::Empty, 0.9);
        }
        let spam_hits = SPAM.iter().filter(|p| self.all.contains(*p)).count();
        if spam_hits >= 2
            || (spam_hits == 1 && !self.has(&[" my name is", " address", " come out", " appointment"]))
        {
            return (CallKind::Spam, if spam_hits >= 2 { 0.9 } else { 0.7 });
        }
        if self.has(WRONG_NUMBER) || self.wrong_number_exchange() {
            return (CallKind::WrongNumber, 0.8);
        }
        if self.turns.iter().all(|t| t.speaker != Speaker::Agent) {
            return (CallKind::Voicemail, 0.85);
        }
        (CallKind::Live, 0.9)
    }

    /// "Is this the pharmacy?" — "No, this is an appliance repair company."
    fn wrong_number_exchange(&self) -> bool {
        self.turns.windows(2).any(|pair| {
            pair[0].is_caller()
                && pair[0].has(&[" is this ", " is that ", " am i speaking to", " have i reached"])
                && pair[1].speaker == Speaker::Agent
                && pair[1].norm.starts_with(" no ")
                && !pair[1].has(&[" but we", " we can", " we do", " we also"])
        })
    }

    /// Booking events over the call: (turn, event). The agent books or fails; the caller declines or cancels.
    fn booking_events(&self) -> Vec<(usize, Event)> {
        let mut events = Vec::new();
        for (i, turn) in self.turns.iter().enumerate() {
            if turn.speaker == Speaker::Agent || turn.speaker == Speaker::Unknown {
                let failed = turn.has(FAILED) || failed_booking(turn);
                // A confirmation in a statement, not in a question ("Your appointment has been confirmed. Is there
                // anything else?" counts; "Shall I book it?" does not).
                let booked = !failed
                    && turn.has(BOOKED)
                    && turn
                        .text
                        .replace(".", ". ")
                        .split_inclusive(['.', '!', '?'])
                        .any(|sentence| {
                            let sentence = sentence.trim();
                            !sentence.ends_with('?') && {
                                let norm = format!(
                                    " {} ",
                                    datetime::tokenize(sentence)
                                        .iter()
                                        .map(|t| t.text.as_str())
                                        .collect::<Vec<_>>()
                                        .join(" ")
                                )
                                // "I see you" (the customer's record was found) is not "see you then".
                                .replace(" i see you ", " ");
                                BOOKED.iter().any(|p| {
                                    norm.contains(p)
                                        || (p.ends_with('.') || p.ends_with('!'))
                                            && norm.contains(p.trim_end_matches(['.', '!']))
                                })
                            }
                        });
                if failed || booked {
                    // After a confirmed booking, a reservation (a table, a restaurant) is a second task.
                    let later_task =
                        events.iter().any(|(_, e)| *e == Event::Booked) && self.reservation_talk(i);
                    let event = if later_task || self.other_domain(i) {
                        Event::Elsewhere
                    } else if failed {
                        Event::Failed
                    } else {
                        Event::Booked
                    };
                    events.push((i, event));
                }
            }
            if turn.is_caller() {
                let prompt = self.prompt_before(i);
                // "Anything else?" — "No, not now." is a goodbye; "Want the tickets?" — "Not now." is about another
                // task.
                let goodbye = prompt.is_some_and(|p| {
                    p.has(&[
                        " anything else",
                        " something else",
                        " more help",
                        " further",
                        " need anything",
                        " else i can",
                        " help with anything",
                        " else you need",
                        " anything more",
                        " other help",
                    ])
                });
                let elsewhere = prompt.is_some_and(|p| p.has(OTHER_DOMAIN));
                if turn.has(CANCELLED)
                    && !turn.has(&[
                        " reschedule",
                        " move ",
                        " instead",
                        " different day",
                        " another day",
                        " push it",
                    ])
                {
                    events.push((i, Event::Cancelled));
                } else if turn.has(DECLINED) && !goodbye && !elsewhere
                    || !elsewhere
                        && (turn.norm.starts_with(" no ")
                            || turn.norm.starts_with(" nope ")
                            || turn.norm.starts_with(" not "))
                        && prompt.is_some_and(|p| {
                            p.text.trim_end().ends_with('?')
                                && p.has(&[
                                    " book",
                                    " schedule",
                                    " appointment",
                                    " visit",
                                    " reserve",
                                    " set up",
                                    " make one",
                                    " pencil",
                                ])
                                && !p.has(&[" correct", " right?", " is that", " confirm"])
                        })
                {
                    events.push((i, Event::Declined));
                }
            }
        }
        events
    }

    /// Whether the booking talk at turn `i` is about another task (a cab, a table, tickets): the nearest turn at or
    /// before `i` that names a task decides.
    fn other_domain(&self, i: usize) -> bool {
        // "Your reservation was successful" in a dialog that never spoke of an appointment: a table or a room.
        let no_appointment_yet = !self.turns[..=i].iter().any(|t| t.has(APPOINTMENT));
        for k in (i.saturating_sub(3)..=i).rev() {
            let turn = &self.turns[k];
            let other = turn.has(OTHER_DOMAIN) || no_appointment_yet && turn.has(&[" reservation"]);
            let ours = turn.has(APPOINTMENT);
            if other && !ours {
                return true;
            }
            if ours {
                return false;
            }
        }
        false
    }

    fn extract(&self, info: ExtractorInfo) -> Extraction {
        let (kind, kind_confidence) = self.kind();
        if matches!(kind, CallKind::Empty | CallKind::Spam | CallKind::WrongNumber) {
            return Extraction::empty(kind, kind_confidence, info);
        }
        let events = self.booking_events();
        let elsewhere = events.iter().any(|(_, e)| *e == Event::Elsewhere);
        let events: Vec<(usize, Event)> = events
            .into_iter()
            .filter(|(_, e)| *e != Event::Elsewhere)
            .collect();
        let last_booked = events
            .iter()
            .rev()
            .find(|(_, e)| *e == Event::Booked)
            .map(|(i, _)| *i);
        let last = events.last().map(|(_, e)| *e);
        let requested = self.caller_turns().any(|(_, t)| t.has(REQUEST));
        let enquiry = self.caller_turns().any(|(_, t)| t.has(ENQUIRY));
        let non_job = self.caller_turns().any(|(_, t)| t.has(NON_JOB))
            || self
                .turns
                .iter()
                .any(|t| t.speaker == Speaker::Agent && t.has(OUT_OF_AREA));
        let accepted = self.accepted_slot();
        let details = self.caller_gave_details();
        let found_address = address::find(self);
        let address_given = found_address.is_some();
        let has_time = self.turns.iter().any(|t| t.is_caller() && !t.mentions.is_empty());
        let (booked, confidence) = match last {
            Some(Event::Booked) => (true, 0.9),
            Some(Event::Failed) => (false, 0.8),
            Some(Event::Cancelled | Event::Elsewhere) => (false, 0.75),
            Some(Event::Declined) => {
                // "No thanks, that's all" after a booking is a goodbye, not a decline.
                let declined_at = events.last().map_or(0, |(i, _)| *i);
                // The last outcome before the decline decides: a failed attempt followed by "no thanks" to another
                // offer books nothing, whatever slot the caller accepted before it.
                let outcome = events
                    .iter()
                    .rev()
                    .find(|(i, e)| *i < declined_at && matches!(e, Event::Booked | Event::Failed))
                    .map(|(_, e)| *e);
                let booked_before =
                    match outcome {
                        Some(Event::Booked) => true,
                        Some(_) => false,
                        None => accepted,
                    } && self.turns[declined_at].has(&[
                        " that's all",
                        " that is all",
                        " nothing else",
                        " no thanks",
                        " no thank you",
                    ]) && !self.turns[declined_at].has(&[" call back", " get back", " think about"]);
                if booked_before { (true, 0.75) } else { (false, 0.7) }
            }
            None if non_job && !accepted => (false, 0.6),
            // The dialog stops on an agent's unanswered question ("Would you like me to book it?", "What day?"):
            // nothing was booked yet.
            None if self.ends_on_agent_question() => (false, 0.6),
            // The agent confirmed other tasks but never this one.
            None if elsewhere => (false, 0.6),
            None if kind == CallKind::Voicemail => {
                let wants = requested && (!enquiry || has_time) || address_given && !enquiry;
                (wants, 0.7)
            }
            None => {
                let wants = accepted
                    || details && !enquiry
                    || details && has_time
                    || requested && !enquiry && (has_time || address_given);
                (wants, if wants { 0.7 } else { 0.6 })
            }
        };
        if !booked {
            return Extraction::empty(kind, confidence, info);
        }
        let limit = match (last, last_booked) {
            (Some(Event::Booked), Some(b)) => b,
            _ => self.turns.len().saturating_sub(1),
        };
        let (when, history) = self.when_history(limit);
        let mut appointment = Appointment {
            when,
            customer_phone: self.phone(),
            customer_name: name::find(self),
            service_address: found_address,
            price: price::find(self),
            job_description: self.description(),
            notes: self.notes(),
            urgency: None,
        };
        appointment.urgency = Some(self.urgency(&appointment));
        let filled = [
            appointment.customer_name.is_some(),
            appointment.customer_phone.is_some(),
            appointment.service_address.is_some(),
            appointment.when.is_some(),
        ]
        .iter()
        .filter(|b| **b)
        .count();
        let overall = (confidence * 0.7 + 0.3 * (filled as f64 / 4.0)).clamp(0.0, 1.0);
        let appointments = if events.iter().any(|(_, e)| *e == Event::Failed) {
            vec![appointment]
        } else {
            self.split_visits(appointment, &history)
        };
        Extraction {
            call_kind: kind,
            appointments,
            confidence: overall,
            extractor: info,
            usage: None,
        }
    }

    /// Two visits in one call ("two projects", "the second building", "mine Friday at ten and hers at one"): two
    /// different slots, each stated at least twice (asked and confirmed), and words that announce a second job.
    /// The second visit shares the contact details; it gets the second address when the caller gave two.
    fn split_visits(&self, first: Appointment, history: &[(WhenField, usize)]) -> Vec<Appointment> {
        const SECOND_JOB: &[&str] = &[
            " two projects",
            " two jobs",
            " two things",
            " two issues",
            " two services",
            " two of our",
            " two buildings",
            " two properties",
            " two units",
            " two places",
            " two houses",
            " two visits",
            " both",
            " the second",
            " a follow up",
            " follow-up",
            " hers ",
            " next door",
            " two rentals",
            " two apartments",
            " two sites",
        ];
        let confirmed: Vec<&WhenField> = history
            .iter()
            .filter(|(_, count)| *count >= 2)
            .map(|(f, _)| f)
            .collect();
        let caller_says = self.turns.iter().any(|t| t.has(SECOND_JOB));
        if confirmed.len() < 2 || !caller_says {
            return vec![first];
        }
        let (a, b) = (confirmed[0].clone(), confirmed[confirmed.len() - 1].clone());
        let addresses = address::find_all(self);
        let mut one = first.clone();
        one.when = Some(a);
        let mut two = Appointment {
            when: Some(b),
            price: None,
            notes: None,
            ..first
        };
        if addresses.len() >= 2 {
            one.service_address = Some(addresses[0].clone());
            two.service_address = addresses.last().cloned();
        }
        vec![one, two]
    }

    /// The caller accepted a slot: a caller turn with a date/time and an acceptance word, or a plain "yes" to an
    /// agent turn that offered one.
    fn accepted_slot(&self) -> bool {
        const ACCEPT: &[&str] = &[
            " works",
            " work for",
            " fine",
            " good",
            " perfect",
            " great",
            " suits",
            " sounds",
            " okay",
            " ok ",
            " yes",
            " yeah",
            " sure",
            " that's",
            " let's do",
            " book it",
            " do it",
            " lovely",
            " brilliant",
            " please",
            " yep",
            " deal",
        ];
        self.turns.iter().enumerate().any(|(i, turn)| {
            if !turn.is_caller() || !turn.has(ACCEPT) || turn.has(DECLINED) || turn.has(CANCELLED) {
                return false;
            }
            let own = !turn.mentions.iter().all(|m| m.kind == MentionKind::Or);
            let offered = self.prompt_before(i).is_some_and(|p| {
                p.has(&[
                    " can ",
                    " could ",
                    " how about",
                    " would ",
                    " is open",
                    " i have ",
                    " we have ",
                    " i've got",
                    " available",
                    " works",
                    "?",
                ]) && p.mentions.iter().any(|m| m.kind != MentionKind::Or)
            }) || self.prompt_before(i).is_some_and(|p| {
                p.text.trim_end().ends_with('?') && p.mentions.iter().any(|m| m.kind != MentionKind::Or)
            });
            offered && (own || turn.tokens.len() <= 6)
        })
    }

    /// Whether the nearest turn (up to six back) that names a task talks about a reservation or a table rather than
    /// the appointment.
    fn reservation_talk(&self, i: usize) -> bool {
        for k in (i.saturating_sub(6)..=i).rev() {
            let turn = &self.turns[k];
            let ours = turn.has(APPOINTMENT);
            let other = turn.has(OTHER_DOMAIN) || turn.has(&[" reservation", " reserve", " table"]);
            if other && !ours {
                return true;
            }
            if ours {
                return false;
            }
        }
        false
    }

    /// The last spoken turn is the agent's and ends with a question.
    fn ends_on_agent_question(&self) -> bool {
        self.turns
            .iter()
            .rev()
            .find(|t| !t.text.trim().is_empty())
            .is_some_and(|t| t.speaker == Speaker::Agent && t.text.trim_end().ends_with('?'))
    }

    /// The caller gave contact details (a sign of booking intent in a call without explicit confirmation).
    fn caller_gave_details(&self) -> bool {
        self.turns.iter().enumerate().any(|(i, t)| {
            let question = t.text.trim_end().ends_with('?') || t.tokens.len() <= 4;
            t.speaker == Speaker::Agent
                && question
                && t.has(&[
                    " your name",
                    " name ",
                    " name?",
                    " address",
                    " your phone",
                    " phone number",
                    " best number",
                    " number to reach",
                    " callback number",
                    " your number",
                    " cell",
                ])
                && !t.has(&[
                    " their ",
                    " the salon",
                    " the doctor",
                    " the dentist",
                    " the office",
                ])
                && self.turns.get(i + 1).is_some_and(|answer| {
                    answer.is_caller()
                        && !answer.text.trim_end().ends_with('?')
                        && !answer.has(&[" no ", " why "])
                })
        })
    }

    /// Whether a mention is a distractor: a past or cancelled slot, a call-back time, another party's date.
    fn is_distractor(turn: &Utterance, mention: &Mention) -> bool {
        let first = turn
            .tokens
            .iter()
            .position(|t| t.span.start >= mention.span.start)
            .unwrap_or(0);
        let last = turn
            .tokens
            .iter()
            .rposition(|t| t.span.end <= mention.span.end)
            .unwrap_or(first);
        let before: Vec<&str> = turn.tokens[first.saturating_sub(4)..first]
            .iter()
            .map(|t| t.text.as_str())
            .collect();
        let after = turn.tokens.get(last + 1).map(|t| t.text.as_str());
        if matches!(after, Some("ago")) {
            return true;
        }
        if before.last().is_some_and(|w| {
            matches!(
                *w,
                "last" | "since" | "from" | "instead" | "past" | "until" | "by"
            )
        }) {
            return matches!(mention.kind, MentionKind::Date(_)) || before.last() != Some(&"by");
        }
        if before.iter().any(|w| {
            matches!(
                *w,
                "ago"
                    | "originally"
                    | "previous"
                    | "old"
                    | "installed"
                    | "serviced"
                    | "was"
                    | "were"
                    | "had"
                    | "cancel"
                    | "instead"
            )
        }) {
            return true;
        }
        // The words around the mention, within its clause (unpunctuated speech has one long clause).
        let clause_start = turn.tokens[..first]
            .iter()
            .rposition(|t| t.breaks)
            .map_or(0, |p| p + 1)
            .max(first.saturating_sub(6));
        let clause_end = turn.tokens[last..]
            .iter()
            .position(|t| t.breaks)
            .map_or(turn.tokens.len(), |p| last + p + 1)
            .min(last + 7);
        let clause: Vec<&str> = turn.tokens[clause_start..clause_end]
            .iter()
            .map(|t| t.text.as_str())
            .collect();
        let joined = format!(" {} ", clause.join(" "));
        // "He has a spot open at 10": an opening offered, not business hours.
        let offered_opening = [
            " spot ",
            " spots ",
            " slot",
            " opening",
            " appointment",
            " available",
            " time open",
        ]
        .iter()
        .any(|p| joined.contains(p));
        // "I could not book it for 5:45": the slot that failed.
        let failed_slot = [
            " could not book",
            " couldn't book",
            " unable to book",
            " not able to book",
            " could not get",
            " couldn't get",
            " unable to get",
            " didn't go through",
            " did not go through",
        ]
        .iter()
        .any(|p| joined.contains(p));
        if failed_slot {
            return true;
        }
        if joined.contains(" open ") && offered_opening && !joined.contains(" closed ") {
            return false;
        }
        [
            " call you ",
            " call me ",
            " hear from",
            " get back to",
            " call back",
            " text you",
            " email you",
            " call next",
            " give you a call",
            " ring you",
            " confirm by",
            " let you know",
            " out of town",
            " we're away",
            " i'm away",
            " open ",
            " closed ",
            " hours are",
            " we're open",
            " holiday",
        ]
        .iter()
        .any(|p| joined.contains(p))
    }

    /// The slot: the date/time mentions of every turn up to `limit`, later ones correcting earlier ones.
    /// The final slot, and every complete slot (day and time) the call settled on along the way with how many
    /// turns stated it.
    fn when_history(&self, limit: usize) -> (Option<WhenField>, Vec<(WhenField, usize)>) {
        let mut history: Vec<(WhenField, usize)> = Vec::new();
        let mut phrase = Phrase::default();
        let mut evidence: Option<(usize, usize, usize)> = None; // turn, span start, span end
        let mut strength = 0.0f64;
        for (i, turn) in self.turns.iter().enumerate().take(limit + 1) {
            // An answer to "When do you expect the meeting to wrap up?" is an end time, not a new start.
            let end_asked = self.prompt_before(i).is_some_and(|p| {
                p.has(&[
                    " wrap up",
                    " end ",
                    " finish",
                    " how long",
                    " until when",
                    " end time",
                    " be over",
                    " ends",
                ])
            });
            let mentions: Vec<Mention> = turn
                .mentions
                .iter()
                .filter(|m| !Self::is_distractor(turn, m))
                .filter(|m| !(end_asked && matches!(m.kind, MentionKind::Time(_))))
                .cloned()
                .collect();
            if mentions.iter().all(|m| m.kind == MentionKind::Or) {
                continue;
            }
            let turn_phrase = datetime::fold(&mentions);
            if turn_phrase.is_empty() {
                continue;
            }
            if let Some(date) = turn_phrase.date {
                if phrase.date != Some(date)
                    && turn_phrase.time.is_none()
                    && phrase.time.is_some_and(|t| matches!(t, TimeExpr::Part { .. }))
                    && !turn_phrase.alternatives
                {
                    // A new day without a time keeps a clock time ("Tuesday at 3?" "Wednesday then") but not a
                    // part of day that belonged to the old day's offer.
                }
                phrase.date = Some(date);
                phrase.alternatives = turn_phrase.alternatives;
            } else if turn_phrase.alternatives {
                phrase.alternatives = true;
            }
            // "Right away this morning": an ETA, not a window.
            let turn_time = match turn_phrase.time {
                Some(TimeExpr::Part { .. }) if turn_phrase.asap => None,
                // "See you in the morning" after "first thing tomorrow like seven" keeps the clock time.
                Some(TimeExpr::Part { part })
                    if turn_phrase.date.is_none()
                        && matches!(phrase.time, Some(TimeExpr::At { .. } | TimeExpr::Window { .. })) =>
                {
                    phrase.part_hint.get_or_insert(part);
                    None
                }
                other => other,
            };
            if let Some(time) = turn_time {
                // A restatement without its part of day ("see you at eight thirty" after "tonight at eight thirty")
                // keeps the earlier hint.
                if turn_phrase.part_hint.is_some() || turn_phrase.date.is_some() {
                    phrase.part_hint = turn_phrase.part_hint;
                }
                phrase.time = Some(time);
                if turn_phrase.date.is_none() && !turn_phrase.alternatives && phrase.date.is_some() {
                    phrase.alternatives = false;
                }
            } else if turn_phrase.part_hint.is_some() {
                phrase.part_hint = turn_phrase.part_hint;
            }
            phrase.flexible |= turn_phrase.flexible;
            phrase.asap |= turn_phrase.asap;
            let start = mentions.iter().map(|m| m.span.start).min().unwrap_or(0);
            let end = mentions.iter().map(|m| m.span.end).max().unwrap_or(0);
            // A restatement that carries less ("see you tomorrow" after "tomorrow between 3 and 5") keeps the
            // fuller evidence.
            if turn_phrase.time.is_some() || phrase.time.is_none() || evidence.is_none() {
                evidence = Some((i, start, end));
            }
            strength = if turn.is_caller() { 0.85 } else { 0.8 };
            if phrase.date.is_some()
                && phrase.time.is_some()
                && !phrase.alternatives
                && let Some(field) = self.when_field(phrase.clone(), i, start, end, strength, limit)
            {
                match history
                    .iter_mut()
                    .find(|(f, _)| f.value.start == field.value.start)
                {
                    Some((_, count)) => *count += 1,
                    None => history.push((field, 1)),
                }
            }
        }
        let Some((turn, start, end)) = evidence else {
            return (None, history);
        };
        (
            self.when_field(phrase, turn, start, end, strength, limit),
            history,
        )
    }

    /// Resolves a folded phrase whose evidence is `turn[start..end]`.
    fn when_field(
        &self,
        mut phrase: Phrase,
        turn: usize,
        start: usize,
        end: usize,
        strength: f64,
        limit: usize,
    ) -> Option<WhenField> {
        if phrase.date.is_some() {
            phrase.flexible = false;
        }
        let reference =
            Reference::new(self.ctx.started_at, self.ctx.timezone).with_policy(self.ctx.weekday_policy);
        // A dispatcher's arrival time with no day ("I can be there by eleven fifteen") is the next such clock time.
        let eta = phrase.date.is_none()
            && self.turns[turn..=limit.min(self.turns.len() - 1)]
                .iter()
                .chain(self.turns.get(turn.saturating_sub(1)))
                .any(|t| {
                    t.has(&[
                        " be there",
                        " there by",
                        " there around",
                        " on the way",
                        " on my way",
                        " have someone there",
                        " out there",
                        " get there",
                        " arrive",
                    ])
                });
        if eta
            && let Some(TimeExpr::At { clock }) = phrase.time
            && clock.meridiem.is_none()
            && clock.hour <= 12
            && let Some((date, hour)) =
                next_occurrence(&reference, clock.hour, clock.minute, phrase.part_hint)
        {
            phrase.date = Some(datetime::DateExpr::MonthDay {
                month: date.month(),
                day: date.day(),
                year: Some(date.year()),
            });
            let meridiem = Some(if hour < 12 {
                datetime::Meridiem::Am
            } else {
                datetime::Meridiem::Pm
            });
            phrase.time = Some(TimeExpr::At {
                clock: datetime::Clock {
                    hour,
                    minute: clock.minute,
                    meridiem,
                },
            });
        }
        let mut resolution = datetime::resolve(&phrase, &reference);
        // A time already past when the call started ("it's one forty in the morning", "the alarm went off this
        // morning") describes the call, not the visit: keep the day only.
        // A slot the agent offers or confirms is a slot even when the clock says it has passed.
        let agent_slot = self.turns.get(turn).is_some_and(|t| {
            t.speaker == Speaker::Agent
                && t.has(&[
                    " available",
                    " book",
                    " schedule",
                    " confirm",
                    " appointment",
                    " success",
                    " submitted",
                ])
        });
        if !agent_slot
            && resolution.when.start.is_some_and(|start| start <= reference.now)
            && (phrase.date.is_some_and(|d| d == datetime::DateExpr::Today) || phrase.asap)
        {
            phrase.time = None;
            resolution = datetime::resolve(&phrase, &reference);
        }
        let when = resolution.when;
        if when.date.is_none() && when.time.is_none() && !when.flexible {
            return None;
        }
        let mut confidence = strength;
        if when.ambiguous {
            confidence -= 0.25;
        }
        if when.date.is_none() || when.time.is_none() {
            confidence -= 0.1;
        }
        let utterance = &self.turns[turn];
        Some(WhenField {
            value: when,
            phrase: utterance.text[start..end].to_owned(),
            confidence: confidence.clamp(0.05, 1.0),
            evidence: utterance.text.clone(),
        })
    }

    /// The caller's phone number: the last one the caller said (corrections win), in E.164.
    fn phone(&self) -> Option<Field<String>> {
        let region = self.ctx.effective_phone_region();
        let mut found: Option<Field<String>> = None;
        for (i, turn) in self.caller_turns() {
            let asked = self.prompt_before(i).is_some_and(|p| {
                p.has(&[
                    " number",
                    " phone",
                    " reach you",
                    " call you",
                    " cell",
                    " contact",
                ])
            });
            for (digits, start, used) in numbers::digit_runs(&turn.tokens) {
                let candidates = phone_candidates(&digits);
                for candidate in candidates {
                    if let Some(e164) = phone::to_e164(&candidate, &region) {
                        if self
                            .ctx
                            .business
                            .phone_numbers
                            .iter()
                            .any(|b| phone::same_number(b, &e164))
                        {
                            continue;
                        }
                        let cue = turn.has(&[
                            " number",
                            " phone",
                            " cell",
                            " mobile",
                            " reach me",
                            " call me",
                            " call back",
                            " my direct",
                            " area code",
                        ]);
                        let confidence = if asked || cue { 0.92 } else { 0.7 };
                        found = Some(Field::new(e164, confidence, turn.slice(start, start + used)));
                        break;
                    }
                }
            }
            // The agent reads the number back and the caller confirms it: "eight three two five five five …" — "sí".
            let asked_before = self.turns[..i].iter().any(|t| {
                t.speaker == Speaker::Agent
                    && t.has(&[" phone", " number", " cell", " mobile"])
                    && (t.text.trim_end().ends_with('?') || t.tokens.len() <= 4)
                    && !t.has(&[" their", " his ", " her ", " its "])
            });
            if found.is_none()
                && asked_before
                && let Some(readback) = i.checked_sub(1).map(|p| &self.turns[p]).filter(|p| {
                    let digits = p
                        .tokens
                        .iter()
                        .filter(|t| {
                            numbers::phone_digit_word(&t.text).is_some()
                                || t.text.bytes().all(|b| b.is_ascii_digit())
                        })
                        .count();
                    p.speaker == Speaker::Agent
                        && digits * 10 >= p.tokens.len() * 6
                        && !p.has(&[" their", " our ", " us at", " them", " located", " address"])
                })
                && turn.tokens.len() <= 4
                && turn.has(&[
                    " yes",
                    " yeah",
                    " yep",
                    " si ",
                    " sí ",
                    " correct",
                    " right",
                    " that's it",
                ])
            {
                for (digits, start, used) in numbers::digit_runs(&readback.tokens) {
                    if let Some(e164) = phone_candidates(&digits)
                        .iter()
                        .find_map(|c| phone::to_e164(c, &region))
                        && !self
                            .ctx
                            .business
                            .phone_numbers
                            .iter()
                            .any(|b| phone::same_number(b, &e164))
                    {
                        found = Some(Field::new(e164, 0.8, readback.slice(start, start + used)));
                    }
                }
            }
            if found.is_none()
                && turn.has(&[
                    " this number",
                    " number i'm calling from",
                    " the number i'm on",
                    " number you have",
                    " calling from",
                ])
                && let Some(caller_id) = &self.ctx.caller_id
                && let Some(e164) = phone::to_e164(caller_id, &region)
            {
                found = Some(Field::new(e164, 0.6, turn.text.clone()));
            }
        }
        found
    }

    fn urgency(&self, appointment: &Appointment) -> Field<Urgency> {
        const EMERGENCY: &[&str] = &[
            " burst",
            " flooding",
            " flooded",
            " water everywhere",
            " gas smell",
            " smell gas",
            " smells like gas",
            " smell of gas",
            " gas leak",
            " carbon monoxide",
            " co alarm",
            " co detector",
            " monoxide",
            " sparking",
            " sparks",
            " burning smell",
            " smells like burning",
            " smell burning",
            " smoke",
            " sewage",
            " sewer backup",
            " sewer up",
            " sewer backed",
            " backed the sewer",
            " backing up",
            " backed up into",
            " hole in the roof",
            " tree fell",
            " tree came down",
            " fire ",
            " electrical fire",
            " locked in the car",
            " locked in my car",
            " baby is locked",
            " emergency",
            " pouring",
            " gushing",
            " spraying",
            " live wire",
            " exposed wire",
            " ceiling collapsed",
            " taking on water",
            " water coming through",
            " coming through the ceiling",
            " bubbling up",
            " soaked",
            " dirty water",
            " wires down",
            " power line",
        ];
        const NO_HEAT: &[&str] = &[
            " no heat",
            " heat's out",
            " heat is out",
            " furnace quit",
            " furnace stopped",
            " boiler quit",
            " boiler stopped",
            " stone cold",
            " heater died",
            " furnace died",
            " furnace is out",
            " no heating",
            " heating's out",
            " heating is out",
            " heating stopped",
            " heating's gone",
            " isn't firing",
            " not firing",
            " radiators are all cold",
            " radiators are cold",
            " won't light",
            " pilot went out",
        ];
        const COLD: &[&str] = &[
            " freezing",
            " below zero",
            " minus ",
            " degrees below",
            " below freezing",
            " snow",
            " frozen",
            " single digits",
            " zero outside",
            " cold snap",
            " below outside",
            " degrees outside",
        ];
        const NO_COOLING: &[&str] = &[
            " ac just died",
            " ac died",
            " ac is out",
            " ac's out",
            " no ac",
            " no a c",
            " air conditioning stopped",
            " air conditioner stopped",
            " not cooling",
            " isn't cooling",
            " central air isn't",
            " ac isn't",
            " ac quit",
        ];
        const VULNERABLE: &[&str] = &[
            " baby",
            " newborn",
            " elderly",
            " month old",
            " oxygen",
            " medical",
            " dialysis",
            " pregnant",
        ];
        const URGENT: &[&str] = &[
            " no hot water",
            " urgent",
            " asap",
            " as soon as possible",
            " right away",
            " today",
            " tonight",
            " no power",
            " lost power",
            " power out",
            " power is out",
            " half the power",
            " power's out",
            " not freezing",
            " isn't freezing",
            " thaw",
            " stopped making",
            " locked out",
            " can't lock",
            " won't lock",
            " jammed",
            " freezing up",
            " ice on",
            " turning on and off",
            " shattered",
            " board it up",
            " before it gets dark",
            " before the next storm",
            " in this heat",
            " heat wave",
            " overflowing",
            " backed up",
            " no water",
            " not turning on",
            " isn't turning on",
            " won't turn on",
            " wasps",
            " hornets",
            " stung",
            " snake",
            " water coming",
            " leaking through",
            " die in",
            " before the weekend",
            " as soon as you can",
        ];
        const FLEXIBLE: &[&str] = &[
            " no rush",
            " no hurry",
            " not urgent",
            " whenever",
            " flexible",
            " any time next",
            " anytime next",
            " any day next",
            " sometime next",
            " some time next",
            " sometime this",
            " not in a hurry",
            " in no hurry",
            " next month",
            " whenever works",
            " any time is fine",
            " anytime is fine",
            " not a rush",
            " isn't urgent",
            " sometime in the",
            " no particular",
            " totally flexible",
            " in the next few",
        ];
        let caller: String = self.caller_turns().map(|(_, t)| t.norm.as_str()).collect();
        let hit = |patterns: &[&str]| {
            patterns
                .iter()
                .find(|p| caller.contains(*p))
                .map(|p| p.trim().to_owned())
        };
        let negated_emergency = caller.contains(" not an emergency")
            || caller.contains(" not urgent")
            || caller.contains(" no emergency");
        let winter = matches!(self.local_month(), 12 | 1 | 2)
            && !self.ctx.timezone.name().starts_with("Australia/")
            || matches!(self.local_month(), 6..=8) && self.ctx.timezone.name().starts_with("Australia/");
        if !negated_emergency && let Some(cue) = hit(EMERGENCY) {
            // Water that has been shut off and stopped is contained.
            let contained = [
                " shut off",
                " shut the",
                " turned off the water",
                " turned the water off",
                " shut it off",
                " valve",
            ]
            .iter()
            .any(|p| caller.contains(p))
                && !caller.contains(" still ")
                && [" water", " leak", " ceiling"]
                    .iter()
                    .any(|p| cue.contains(p.trim()) || caller.contains(p));
            let danger = [
                " gas",
                " monoxide",
                " co alarm",
                " sparking",
                " sparks",
                " smoke",
                " fire",
                " burning",
                " sewage",
                " sewer",
                " live wire",
                " power line",
                " wires down",
            ]
            .iter()
            .any(|p| caller.contains(p));
            if !contained || danger {
                return Field::new(Urgency::Emergency, 0.8, cue);
            }
            return Field::new(Urgency::Urgent, 0.65, cue);
        }
        if let Some(cue) = hit(NO_HEAT) {
            let cold = hit(COLD).is_some() || winter || hit(VULNERABLE).is_some();
            return Field::new(if cold { Urgency::Emergency } else { Urgency::Urgent }, 0.7, cue);
        }
        if let Some(cue) = hit(NO_COOLING) {
            let vulnerable = hit(VULNERABLE).is_some();
            return Field::new(
                if vulnerable {
                    Urgency::Emergency
                } else {
                    Urgency::Urgent
                },
                0.65,
                cue,
            );
        }
        if let Some(cue) = hit(FLEXIBLE) {
            return Field::new(Urgency::Flexible, 0.75, cue);
        }
        if appointment.when.as_ref().is_some_and(|w| w.value.flexible) {
            return Field::new(
                Urgency::Flexible,
                0.65,
                appointment
                    .when
                    .as_ref()
                    .map(|w| w.phrase.clone())
                    .unwrap_or_default(),
            );
        }
        if !negated_emergency && let Some(cue) = hit(URGENT) {
            return Field::new(Urgency::Urgent, 0.6, cue);
        }
        Field::new(Urgency::Normal, 0.6, String::new())
    }

    fn local_month(&self) -> u32 {
        use chrono::Datelike;
        self.ctx.started_at.with_timezone(&self.ctx.timezone).month()
    }

    /// The job in the caller's words: the first caller sentence that describes a problem or asks for work.
    fn description(&self) -> Option<Field<String>> {
        const CUES: &[&str] = &[
            " leak",
            " broken",
            " broke",
            " not working",
            " stopped",
            " won't",
            " need",
            " needs",
            " want",
            " would like",
            " i'd like",
            " we'd like",
            " looking for",
            " install",
            " replace",
            " repair",
            " fix",
            " clean",
            " noise",
            " quit",
            " dead",
            " clog",
            " problem",
            " issue",
            " burst",
            " cracked",
            " making a",
            " appointment",
            " service",
            " check",
            " inspect",
            " estimate",
            " quote",
            " cooling",
            " heat",
            " water",
            " drain",
            " toilet",
            " sink",
            " roof",
            " door",
            " lock",
            " pest",
            " ants",
            " mice",
            " spiders",
            " wasps",
            " tree",
            " lawn",
            " gutter",
            " window",
            " furnace",
            " boiler",
            " ac ",
            " outlet",
            " breaker",
            " power",
            " panel",
        ];
        for (_, turn) in self.caller_turns() {
            for sentence in sentences(&turn.text) {
                let norm = format!(
                    " {} ",
                    datetime::tokenize(sentence)
                        .iter()
                        .map(|t| t.text.as_str())
                        .collect::<Vec<_>>()
                        .join(" ")
                );
                if norm.trim().split(' ').count() < 3 {
                    continue;
                }
                if CUES.iter().any(|c| norm.contains(c))
                    && !norm.contains(" my name")
                    && !norm.starts_with(" this is ")
                    && !norm.contains(" my number")
                    && !norm.contains(" address is")
                {
                    let text = strip_greeting(sentence);
                    if text.len() >= 8 {
                        return Some(Field::new(text.to_owned(), 0.6, sentence.to_owned()));
                    }
                }
            }
        }
        None
    }

    /// Access and site facts: codes, pets, parking, who lets the tech in, landmarks, extensions, company names.
    fn notes(&self) -> Option<Field<String>> {
        const CUES: &[&str] = &[
            " gate code",
            " gate",
            " lockbox",
            " lock box",
            " door code",
            " key under",
            " key is",
            " code is",
            " dog",
            " dogs",
            " cat ",
            " cats",
            " pet",
            " parking",
            " park in",
            " park on",
            " driveway",
            " let you in",
            " let them in",
            " let him in",
            " let her in",
            " will be home",
            " won't be home",
            " the super",
            " building manager",
            " concierge",
            " buzz",
            " buzzer",
            " intercom",
            " side door",
            " back door",
            " side gate",
            " back gate",
            " extension",
            " ext ",
            " the house with",
            " end of the",
            " corner of",
            " behind the",
            " next to the",
            " po box",
            " p o box",
            " tenant",
            " landlord",
            " property manager",
            " on behalf of",
            " management",
            " hoa",
        ];
        let mut notes: Vec<String> = Vec::new();
        let mut evidence: Vec<String> = Vec::new();
        for (_, turn) in self.caller_turns() {
            for sentence in sentences(&turn.text) {
                let norm = format!(
                    " {} ",
                    datetime::tokenize(sentence)
                        .iter()
                        .map(|t| t.text.as_str())
                        .collect::<Vec<_>>()
                        .join(" ")
                );
                if CUES.iter().any(|c| norm.contains(c)) && !notes.iter().any(|n| n == sentence) {
                    notes.push(strip_greeting(sentence).to_owned());
                    evidence.push(sentence.to_owned());
                }
            }
        }
        if notes.is_empty() {
            return None;
        }
        Some(Field::new(notes.join("; "), 0.5, evidence.join(" … ")))
    }
}

/// The first instant after the call at `hour:minute` read as am or pm (a part-of-day hint picks one).
fn next_occurrence(
    reference: &Reference,
    hour: u32,
    minute: u32,
    hint: Option<datetime::PartOfDay>,
) -> Option<(chrono::NaiveDate, u32)> {
    use datetime::PartOfDay;
    let local = reference.now.with_timezone(&reference.tz).naive_local();
    let hours: Vec<u32> = match hint {
        Some(PartOfDay::Tonight | PartOfDay::Evening | PartOfDay::Afternoon | PartOfDay::AfterLunch) => {
            vec![hour % 12 + 12]
        }
        Some(PartOfDay::Morning | PartOfDay::FirstThing) => vec![hour % 12],
        _ => vec![hour % 12, hour % 12 + 12],
    };
    let today = local.date();
    [today, today.succ_opt()?]
        .into_iter()
        .flat_map(|d| hours.iter().map(move |h| (d, *h)))
        .filter_map(|(d, h)| Some((d, h, d.and_hms_opt(h, minute, 0)?)))
        .filter(|(_, _, at)| *at > local)
        .min_by_key(|(_, _, at)| *at)
        .map(|(d, h, _)| (d, h))
}

/// "I was not able to book", "I fail to book your appointment", "couldn't secure that timeslot": a negation
/// followed closely by a booking verb.
fn failed_booking(turn: &Utterance) -> bool {
    let words: Vec<&str> = turn.tokens.iter().map(|t| t.text.as_str()).collect();
    words.iter().enumerate().any(|(i, w)| {
        // "there is no viewing available", "no slots available at that time".
        if *w == "no" && words[i + 1..(i + 4).min(words.len())].contains(&"available") {
            return true;
        }
        let negation = matches!(
            *w,
            "fail" | "failed" | "unable" | "couldn't" | "cannot" | "can't" | "wasn't" | "weren't"
        ) || (*w == "not"
            && i > 0
            && matches!(words[i - 1], "was" | "could" | "were" | "am" | "is" | "did"));
        // The verb must follow in the same clause: "No, it is not. I have scheduled it." is no failure.
        let clause_end = turn.tokens[i..]
            .iter()
            .position(|t| t.breaks)
            .map_or(words.len(), |p| i + p + 1);
        negation
            && words[(i + 1).min(clause_end)..(i + 6).min(clause_end)]
                .iter()
                .any(|v| {
                    matches!(
                        *v,
                        "book"
                            | "make"
                            | "schedule"
                            | "secure"
                            | "reserve"
                            | "complete"
                            | "confirm"
                            | "get"
                            | "set"
                            | "booked"
                            | "made"
                            | "scheduled"
                            | "reserved"
                            | "process"
                            | "processed"
                    )
                })
    })
}

/// Candidate phone digit strings inside a run (a run may also hold a ZIP code or a house number before the phone).
fn phone_candidates(digits: &str) -> Vec<String> {
    let mut out = vec![digits.to_owned()];
    let bare = digits.trim_start_matches('+');
    if !digits.starts_with('+') {
        // The number is usually said first and a house number or postcode after it; try prefixes first.
        for len in [11, 10] {
            if bare.len() > len {
                out.push(bare[..len].to_owned());
            }
        }
        for len in [11, 10] {
            if bare.len() > len {
                out.push(bare[bare.len() - len..].to_owned());
            }
        }
    }
    out
}

/// Splits text into sentences (on `.`, `?`, `!` followed by a space, and on line breaks).
pub(crate) fn sentences(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let bytes = text.as_bytes();
    for (i, b) in bytes.iter().enumerate() {
        let end_mark = matches!(b, b'.' | b'?' | b'!')
            && bytes.get(i + 1).is_none_or(|n| n.is_ascii_whitespace())
            && !(i >= 2 && matches!(text.get(i - 2..i), Some("Mr" | "Ms" | "Dr" | "St")))
            || *b == b'\n';
        if end_mark {
            let s = text[start..=i].trim();
            if !s.is_empty() {
                out.push(s);
            }
            start = i + 1;
        }
    }
    let rest = text[start..].trim();
    if !rest.is_empty() {
        out.push(rest);
    }
    out
}

/// Drops a leading greeting or filler ("Hi, ", "yeah um ", "Hello there, ").
fn strip_greeting(sentence: &str) -> &str {
    let mut s = sentence.trim();
    loop {
        let lower = s.to_ascii_lowercase();
        let skip = [
            "hi there",
            "hello there",
            "hey there",
            "good morning",
            "good afternoon",
            "good evening",
            "hi",
            "hello",
            "hey",
            "yeah",
            "yes",
            "um",
            "uh",
            "so",
            "okay",
            "ok",
            "well",
            "oh",
        ]
        .iter()
        .find(|w| lower.starts_with(*w) && lower[w.len()..].starts_with([' ', ',', '.', '!']));
        match skip {
            Some(w) => s = s[w.len()..].trim_start_matches([' ', ',', '.', '!']).trim_start(),
            None => return s,
        }
    }
}

/// A booking event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Event {
    Booked,
    /// A booking or failure about another task (a cab, a table): not ours, but a sign the call is a task dialog.
    Elsewhere,
    Failed,
    Declined,
    Cancelled,
}
