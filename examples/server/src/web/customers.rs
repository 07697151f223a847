//! The customers pages of the dashboard (see [`crate::web`]): search as you type, and a customer's profile
//! with contact details, call and job history, merge suggestions (a side-by-side diff, "Merge" / "Dismiss")
//! and, once merged, "Undo".
//!
//! | route | what |
//! |---|---|
//! | `GET /app/customers?q=` | the search page (a plain GET form without JavaScript); recent callers when `q` is empty |
//! | `GET /app/customers/results?q=` | the results block alone, which `assets/customers.js` swaps in as you type |
//! | `GET /app/customers/{id}` | the profile |
//!
//! Merges, dismissals, undo, export and deletion go through the API (`/api/v1/customers/…`) from
//! `assets/customers.js`. The "Undo merge" box lists, from the server (`GET /api/v1/customers/{id}/merges`),
//! the merges into this customer that can still be undone (on a merged customer's profile: the merge that
//! merged it).

use std::collections::HashSet;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::routing::get;
use callbook_jobs::{
    Call, Customer, CustomerId, Job, MergeSuggestion, Page as StorePage, Role, SuggestionStatus, TenantId,
};
use maud::{Markup, html};
use serde::Deserialize;

use super::calls::{call_seconds, duration_text, state_badge};
use super::{Nav, Page, Viewer, WebResult, layout};
use crate::api::{ApiError, ApiState};

/// Results shown for a search.
pub const RESULT_LIMIT: u32 = 50;

/// The routes of this part of the dashboard.
pub(crate) fn routes() -> Router<ApiState> {
    Router::new()
        .route("/app/customers", get(search_page))
        .route("/app/customers/results", get(results_fragment))
        .route("/app/customers/{id}", get(profile_page))
}

#[derive(Debug, Deserialize)]
struct SearchQuery {
    q: Option<String>,
}

fn display_name(customer: &Customer) -> &str {
    let name = customer.name.trim();
    if name.is_empty() { "Unnamed customer" } else { name }
}

/// Customers who called most recently (survivors of merges), newest call first.
async fn recent_customers(state: &ApiState, tenant: TenantId, limit: usize) -> WebResult<Vec<Customer>> {
    let calls = state
        .store
        .list_calls(
            tenant,
            None,
            StorePage {
                offset: 0,
                limit: 200,
            },
        )
        .await?;
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for id in calls.iter().filter_map(|c| c.customer_id) {
        if out.len() >= limit || !seen.insert(id) {
            continue;
        }
        let Ok(mut customer) = state.store.get_customer(tenant, id).await else {
            continue;
        };
        // A merged customer's calls belong to the survivor (at most a few hops).
        for _ in 0..4 {
            match customer.merged_into {
                Some(survivor) => match state.store.get_customer(tenant, survivor).await {
                    Ok(c) => customer = c,
                    Err(_) => break,
                },
                None => break,
            }
        }
        if customer.merged_into.is_none() && (customer.id == id || seen.insert(customer.id)) {
            out.push(customer);
        }
    }
    Ok(out)
}

/// `text` with every (ASCII case-insensitive) occurrence of a search term in `<mark>`, as the store matches.
fn highlighted(text: &str, terms: &[String]) -> Markup {
    let lower = text.to_ascii_lowercase();
    let mut ranges: Vec<(usize, usize)> = Vec::new();
    for term in terms.iter().filter(|t| !t.is_empty()) {
        let mut from = 0;
        while let Some(at) = lower[from..].find(term.as_str()) {
            ranges.push((from + at, from + at + term.len()));
            from += at + term.len();
        }
    }
    ranges.sort_unstable();
    let mut merged: Vec<(usize, usize)> = Vec::new();
    for (start, end) in ranges {
        match merged.last_mut() {
            Some(last) if start <= last.1 => last.1 = last.1.max(end),
            _ => merged.push((start, end)),
        }
    }
    let mut pieces: Vec<(&str, bool)> = Vec::new();
    let mut at = 0;
    for (start, end) in merged {
        pieces.push((&text[at..start], false));
        pieces.push((&text[start..end], true));
        at = end;
    }
    pieces.push((&text[at..], false));
    html! {
        @for (piece, hit) in pieces {
            @if hit { mark { (piece) } } @else { (piece) }
        }
    }
}

/// The results block: a heading with the count and `ul#customer-results`.
async fn results(state: &ApiState, viewer: &Viewer, q: &str) -> WebResult {
    let tenant = viewer.principal.tenant;
    let q = q.trim();
    let (heading, customers) = if q.is_empty() {
        let recent = recent_customers(state, tenant, 20).await?;
        if recent.is_empty() {
            (
                "Customers",
                state.store.search_customers(tenant, "", RESULT_LIMIT).await?,
            )
        } else {
            ("Recent callers", recent)
        }
    } else {
        (
            "Results",
            state.store.search_customers(tenant, q, RESULT_LIMIT).await?,
        )
    };
    let count = customers.len();
    let terms: Vec<String> = q.split_whitespace().map(str::to_ascii_lowercase).collect();
    Ok(html! {
        div #customer-results-block data-query=(q) {
            h2 #results-title { (heading) }
            p.muted #results-status {
                @if q.is_empty() {
                    @if count == 0 { "No customers yet." }
                } @else if count == 0 {
                    "No customer matches “" (q) "”."
                } @else if count == 1 {
                    "1 customer matches."
                } @else if count as u32 >= RESULT_LIMIT {
                    "The first " (count) " matches; type more to narrow them."
                } @else {
                    (count) " customers match."
                }
            }
            ul.list #customer-results aria-labelledby="results-title" {
                @for c in &customers {
                    li data-customer-id=(c.id) {
                        div.row-main { a href={ "/app/customers/" (c.id) } { (highlighted(display_name(c), &terms)) } }
                        div.row-meta.muted.cluster {
                            @for phone in &c.phones { span { (highlighted(phone.as_str(), &terms)) } }
                            @let address = c.address.one_line();
                            @if !address.is_empty() { span { (highlighted(&address, &terms)) } }
                        }
                    }
                }
            }
        }
    })
}

async fn search_page(
    State(state): State<ApiState>,
    viewer: Viewer,
    Query(query): Query<SearchQuery>,
) -> WebResult {
    let q = query.q.unwrap_or_default();
    let block = results(&state, &viewer, &q).await?;
    let body = html! {
        div.page-header { h1 { "Customers" } }
        form.toolbar #customer-search role="search" method="get" action="/app/customers" {
            div.field {
                label for="customer-q" { "Search customers" }
                input #customer-q type="search" name="q" value=(q) autocomplete="off" spellcheck="false"
                    placeholder="Name, phone or address" aria-controls="customer-results"
                    aria-describedby="results-status";
            }
            button.button type="submit" { "Search" }
        }
        (block)
    };
    Ok(layout(
        &viewer,
        Page {
            title: "Customers",
            nav: Nav::Customers,
            scripts: &["customers.js"],
            styles: &["customers.css"],
        },
        body,
    ))
}

async fn results_fragment(
    State(state): State<ApiState>,
    viewer: Viewer,
    Query(query): Query<SearchQuery>,
) -> WebResult {
    results(&state, &viewer, query.q.as_deref().unwrap_or("")).await
}

// ------------------------------------------------------------------------------------------------ profile

fn stage_badge(job: &Job) -> Markup {
    let kind = match job.stage {
        callbook_jobs::Stage::Cancelled => "bad",
        callbook_jobs::Stage::Completed => "ok",
        _ => "info",
    };
    html! { span class={ "badge stage " (kind) } data-stage=(job.stage.as_str()) { (super::stage_label(job.stage)) } }
}

fn call_item(call: &Call, viewer: &Viewer) -> Markup {
    html! {
        li data-call-id=(call.id) {
            div.row-main {
                a href={ "/app/calls/" (call.id) } {
                    time datetime=(call.started_at.to_rfc3339()) { (viewer.local_time(call.started_at)) }
                }
            }
            div.row-meta.cluster {
                @if let Some(s) = call_seconds(call) { span { span.visually-hidden { "Duration " } (duration_text(s)) } }
                (state_badge(call))
            }
        }
    }
}

fn job_item(job: &Job, viewer: &Viewer) -> Markup {
    html! {
        li data-job-id=(job.id) {
            div.row-main { a href={ "/app/jobs/" (job.id) } { (job.title) } }
            div.row-meta.cluster {
                (stage_badge(job))
                @match &job.schedule {
                    Some(s) => time datetime=(s.start.to_rfc3339()) { (viewer.local_time(s.start)) },
                    None => span.muted { "Not scheduled" },
                }
                @if let Some(price) = &job.price { span { (super::format_money(price)) } }
            }
        }
    }
}

/// One row of the merge diff: label, both values, and whether they differ.
fn diff_row(label: &str, left: &str, right: &str) -> Markup {
    let differs = left.trim().to_lowercase() != right.trim().to_lowercase();
    html! {
        tr class=[differs.then_some("differs")] {
            th scope="row" {
                (label)
                @if differs { span.visually-hidden { " (differs)" } }
            }
            td { @if left.is_empty() { span.muted { "—" } } @else { (left) } }
            td { @if right.is_empty() { span.muted { "—" } } @else { (right) } }
        }
    }
}

fn phones_text(c: &Customer) -> String {
    c.phones.iter().map(|p| p.as_str()).collect::<Vec<_>>().join(", ")
}

/// A suggestion, from the profile's point of view: the other customer side by side with this one.
fn suggestion_card(
    s: &MergeSuggestion,
    this: &Customer,
    other: &Customer,
    counts: ((usize, usize), (usize, usize)),
    viewer: &Viewer,
) -> Markup {
    // The suggestion's newer customer is merged into the existing one it resembles.
    let (survivor, merged) = if s.candidate_id == this.id {
        (this, other)
    } else {
        (other, this)
    };
    let ((this_calls, this_jobs), (other_calls, other_jobs)) = counts;
    let score = (s.score.clamp(0.0, 1.0) * 100.0).round();
    html! {
        article.card.suggestion data-suggestion-id=(s.id) data-survivor-id=(survivor.id)
            data-merged-id=(merged.id) data-merged-name=(display_name(merged)) {
            h3 {
                "Same customer as "
                a href={ "/app/customers/" (other.id) } { (display_name(other)) } "?"
            }
            p.muted { (score) "% alike: " (s.reason) " · suggested " (viewer.local_time(s.created_at)) }
            div.table-wrap {
                table.diff {
                    caption.visually-hidden { "This customer and " (display_name(other)) " side by side; differences are highlighted" }
                    thead { tr { th scope="col" { span.visually-hidden { "Field" } } th scope="col" { "This customer" } th scope="col" { (display_name(other)) } } }
                    tbody {
                        (diff_row("Name", &this.name, &other.name))
                        (diff_row("Phones", &phones_text(this), &phones_text(other)))
                        (diff_row("Address", &this.address.one_line(), &other.address.one_line()))
                        (diff_row("Calls", &this_calls.to_string(), &other_calls.to_string()))
                        (diff_row("Jobs", &this_jobs.to_string(), &other_jobs.to_string()))
                        (diff_row("Since", &viewer.local_time(this.created_at), &viewer.local_time(other.created_at)))
                    }
                }
            }
            p.hint {
                "Merging keeps " strong { (display_name(survivor)) } " and moves the calls and jobs of "
                strong { (display_name(merged)) } " to them. You can undo it."
            }
            div.cluster {
                button.button.primary type="button" data-action="merge" { "Merge" }
                button.button type="button" data-action="dismiss" { "Dismiss" }
            }
        }
    }
}

async fn profile_page(State(state): State<ApiState>, viewer: Viewer, Path(id): Path<String>) -> WebResult {
    let tenant = viewer.principal.tenant;
    let id: CustomerId = id
        .parse()
        .map_err(|_| super::WebError::Api(ApiError::not_found("customer")))?;
    let customer = state.store.get_customer(tenant, id).await?;
    let history = state.store.customer_history(tenant, id).await?;
    let survivor = match customer.merged_into {
        Some(s) => state.store.get_customer(tenant, s).await.ok(),
        None => None,
    };
    let suggestions: Vec<MergeSuggestion> = state
        .store
        .list_merge_suggestions(tenant, Some(SuggestionStatus::Open))
        .await?
        .into_iter()
        .filter(|s| s.customer_id == id || s.candidate_id == id)
        .collect();
    let mut cards = Vec::new();
    if customer.merged_into.is_none() {
        for s in &suggestions {
            let other_id = if s.customer_id == id {
                s.candidate_id
            } else {
                s.customer_id
            };
            let Ok(other) = state.store.get_customer(tenant, other_id).await else {
                continue;
            };
            if other.merged_into.is_some() {
                continue;
            }
            let other_history = state.store.customer_history(tenant, other_id).await?;
            let counts = (
                (history.calls.len(), history.jobs.len()),
                (other_history.calls.len(), other_history.jobs.len()),
            );
            cards.push(suggestion_card(s, &customer, &other, counts, &viewer));
        }
    }
    // ---- issue 9 review: undoable merges come from the API (one source of truth).
    let merges = match customer.merged_into {
        None => {
            let axum::Json(merges) = crate::api::customers::list_merges(
                State(state.clone()),
                viewer.principal.clone(),
                Path(id.to_string()),
            )
            .await?;
            merges
        }
        Some(s) => match crate::api::customers::list_merges(
            State(state.clone()),
            viewer.principal.clone(),
            Path(s.to_string()),
        )
        .await
        {
            Ok(axum::Json(merges)) => merges.into_iter().filter(|m| m.merged_id == id).collect(),
            Err(_) => Vec::new(),
        },
    };
    let undo_box = merge_undo_box(&merges, id, &viewer);
    // ---- end issue 9 review
    let admin = viewer.principal.require(Role::Admin).is_ok();
    let name = display_name(&customer).to_owned();
    let address = customer.address.one_line();
    let body = html! {
        div.page-header {
            h1 { (name) }
            div.actions.cluster {
                @if admin {
                    a.button href={ "/api/v1/customers/" (id) "/export" } download { "Export data" }
                    button.button.danger type="button" #delete-open aria-haspopup="dialog" { "Delete" }
                }
            }
        }
        @if let Some(s) = &survivor {
            p.card.notice #merged-notice {
                "This customer was merged into "
                a href={ "/app/customers/" (s.id) } { (display_name(s)) } "."
            }
        }
        (undo_box)
        section #contact.card aria-labelledby="contact-title" data-customer-id=(id) {
            h2 #contact-title { "Contact" }
            dl.facts {
                div { dt { "Name" } dd { (name) } }
                div { dt { "Phone" } dd {
                    @if customer.phones.is_empty() { span.muted { "No number" } }
                    ul.phones { @for p in &customer.phones { li { a href={ "tel:" (p.as_str()) } { (p.as_str()) } } } }
                } }
                div { dt { "Address" } dd { @if address.is_empty() { span.muted { "No address" } } @else { (address) } } }
                div { dt { "Customer since" } dd { (viewer.local_time(customer.created_at)) } }
            }
        }
        @if !cards.is_empty() || customer.merged_into.is_none() {
            section #merge-suggestions.card aria-labelledby="suggestions-title" data-customer-id=(id) {
                h2 #suggestions-title { "Possible duplicates" }
                @if cards.is_empty() {
                    p.empty { "No suggested duplicates." }
                }
                div.stack { @for card in &cards { (card) } }
            }
        }
        div.grid-2 {
            section #customer-calls.card aria-labelledby="calls-title" {
                h2 #calls-title { "Calls (" (history.calls.len()) ")" }
                @if history.calls.is_empty() { p.empty { "No calls." } }
                ul.list { @for call in &history.calls { (call_item(call, &viewer)) } }
            }
            section #customer-jobs.card aria-labelledby="jobs-title" {
                h2 #jobs-title { "Jobs (" (history.jobs.len()) ")" }
                @if history.jobs.is_empty() { p.empty { "No jobs." } }
                ul.list { @for job in &history.jobs { (job_item(job, &viewer)) } }
            }
        }
        @if admin {
            dialog.dialog #delete-dialog aria-labelledby="delete-title" {
                form #delete-form.stack method="dialog" data-customer-id=(id) data-confirm-text=(name) {
                    h2 #delete-title { "Delete " (name) "?" }
                    p { "This erases the customer, their calls, recordings, transcripts and jobs for good. It cannot be undone." }
                    div.field {
                        label for="delete-confirm" { "Type the customer's name to confirm" }
                        input #delete-confirm type="text" name="confirm" autocomplete="off"
                            aria-describedby="delete-hint delete-error";
                        p.hint #delete-hint { "Type: " strong { (name) } }
                        p.error #delete-error data-error-for="confirm" role="alert" {}
                    }
                    div.cluster.dialog-actions {
                        button.button.danger type="submit" value="delete" { "Delete for good" }
                        button.button type="button" data-action="close" { "Cancel" }
                    }
                }
            }
        }
    };
    Ok(layout(
        &viewer,
        Page {
            title: &name,
            nav: Nav::Customers,
            scripts: &["customers.js"],
            styles: &["customers.css"],
        },
        body,
    ))
}

// ---- issue 9 review
/// The "Undo merge" box: one row per merge that can still be undone (`merges` from
/// [`crate::api::customers::list_merges`]); absent when there is none.
fn merge_undo_box(merges: &[crate::api::customers::MergeView], id: CustomerId, viewer: &Viewer) -> Markup {
    html! {
        @if !merges.is_empty() {
            section #merge-undo.card aria-labelledby="merge-undo-title" data-customer-id=(id) {
                h2 #merge-undo-title { "Merged customers" }
                ul.list {
                    @for m in merges {
                        li.cluster data-merge-id=(m.id) {
                            div.row-main {
                                @if m.merged_id == id {
                                    "This customer was merged into another one"
                                } @else {
                                    a href={ "/app/customers/" (m.merged_id) } {
                                        @if m.merged_name.trim().is_empty() { "Unnamed customer" }
                                        @else { (m.merged_name.trim()) }
                                    }
                                    " was merged into this customer"
                                }
                                " on " time datetime=(m.created_at.to_rfc3339()) { (viewer.local_time(m.created_at)) }
                                @if let Some(login) = &m.actor_login { " by " (login) }
                                "."
                            }
                            button.button.small type="button" data-action="undo-merge" data-merge-id=(m.id) {
                                "Undo merge"
                            }
                        }
                    }
                }
            }
        }
    }
}
// ---- end issue 9 review

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_terms_are_marked_case_insensitively() {
        let terms = vec!["zel".to_owned(), "quartz".to_owned(), "el".to_owned()];
        assert_eq!(
            highlighted("Zelda QUARTZ <b>", &terms).into_string(),
            "<mark>Zel</mark>da <mark>QUARTZ</mark> &lt;b&gt;"
        );
        assert_eq!(
            highlighted("Ünïcode", &["nï".to_owned()]).into_string(),
            "Ü<mark>nï</mark>code"
        );
        assert_eq!(highlighted("plain", &[]).into_string(), "plain");
    }
}
