//! The conformance suite over every backend: rules, the scripted fake, and both through `Arc<dyn Extractor>`.

use std::sync::Arc;

use callbook_extract::fake::ScriptedExtractor;
use callbook_extract::testing::{self, booking_call, reference_extraction};
use callbook_extract::{Error, Extractor, RulesExtractor};

#[tokio::test]
async fn rules_passes_the_suite() {
    let rules = RulesExtractor::new();
    testing::check_booking_call(&rules).await;
    testing::check_no_business_details(&rules).await;
    testing::check_json_contract(&rules).await;
    testing::check_all(Arc::new(RulesExtractor::new()), || {}).await;
}

#[tokio::test]
async fn scripted_fake_passes_the_suite() {
    let fake = Arc::new(ScriptedExtractor::new());
    let primed = fake.clone();
    let dyn_fake: Arc<dyn Extractor> = fake.clone();
    testing::check_all(dyn_fake, move || {
        primed.push(Ok(reference_extraction(primed.as_ref())))
    })
    .await;
    assert_eq!(fake.requests().len(), 3);
    assert_eq!(fake.remaining(), 0);
}

#[tokio::test]
async fn scripted_fake_fails_when_the_script_runs_out() {
    let fake = ScriptedExtractor::new().then_error(Error::Timeout);
    let (transcript, context) = booking_call();
    assert!(matches!(
        fake.extract(&transcript, &context).await,
        Err(Error::Timeout)
    ));
    assert!(matches!(
        fake.extract(&transcript, &context).await,
        Err(Error::ScriptExhausted)
    ));
}

#[tokio::test]
async fn scripted_hallucinations_are_dropped() {
    let fake = ScriptedExtractor::new();
    let mut invented = reference_extraction(&fake);
    let appointment = &mut invented.appointments[0];
    appointment.customer_phone.as_mut().unwrap().value = "+12125550199".to_owned(); // never said
    appointment.customer_name.as_mut().unwrap().value = "Zebulon Quist".to_owned(); // never said
    appointment.service_address.as_mut().unwrap().value.line1 = "900 Main Street".to_owned(); // the business's
    fake.push(Ok(invented));
    let (transcript, context) = booking_call();
    let out = fake.extract(&transcript, &context).await.unwrap();
    let a = &out.appointments[0];
    assert!(a.customer_phone.is_none());
    assert!(a.customer_name.is_none());
    assert!(a.service_address.is_none());
    assert!(a.when.is_some(), "supported fields stay");
}
