//! Notifications, `GET /app/notifications[?unread=true&page=N]`: the signed-in user's in-app inbox (the rows
//! `GET /api/v1/notifications` lists), newest first, each saying what happened with a link to the job or call,
//! and "Mark read" / "Mark all read" (through the API). `assets/notifications.js` marks a row read when its
//! link is followed and refreshes the list when live events arrive.

use std::collections::HashMap;

use axum::Router;
use axum::extract::{Query, State};
use axum::routing::get;
use callbook_jobs::{CallId, CallState, JobId, Notification, Stage, TenantId};
use maud::{Markup, html};
use serde::Deserialize;

use super::{Nav, Page, Viewer, WebResult, call_state_label, layout, stage_label};
use crate::api::ApiState;

/// The routes of this part of the dashboard.
pub(crate) fn routes() -> Router<ApiState> {
    Router::new().route("/app/notifications", get(page))
}

/// Notifications per page.
const PER_PAGE: usize = 30;

#[derive(Debug, Deserialize)]
struct NotificationsQuery {
    unread: Option<bool>,
    page: Option<usize>,
}

/// What a row says and where it links.
struct Line {
    text: String,
    href: Option<String>,
    tone: &'static str,
}

/// Caches the job titles and call names a page of notifications needs.
struct Names<'a> {
    state: &'a ApiState,
    tenant: TenantId,
    jobs: HashMap<JobId, Option<(String, Stage)>>,
    calls: HashMap<CallId, Option<(String, CallState)>>,
}

impl Names<'_> {
    async fn job(&mut self, id: JobId) -> Option<(String, Stage)> {
        if !self.jobs.contains_key(&id) {
            let job = self.state.store.get_job(self.tenant, id).await.ok();
            self.jobs.insert(id, job.map(|j| (j.title, j.stage)));
        }
        self.jobs.get(&id).cloned().flatten()
    }

    async fn call(&mut self, id: CallId) -> Option<(String, CallState)> {
        if !self.calls.contains_key(&id) {
            let entry = match self.state.store.get_call(self.tenant, id).await {
                Ok(call) => {
                    let name = match call.customer_id {
                        Some(c) => self
                            .state
                            .store
                            .get_customer(self.tenant, c)
                            .await
                            .ok()
                            .map(|c| c.name)
                            .filter(|n| !n.trim().is_empty()),
                        None => None,
                    };
                    let name = name
                        .or_else(|| call.from.as_ref().map(ToString::to_string))
                        .unwrap_or_else(|| "an unknown caller".to_owned());
                    Some((name, call.processing.state))
                }
                Err(_) => None,
            };
            self.calls.insert(id, entry);
        }
        self.calls.get(&id).cloned().flatten()
    }

    async fn line(&mut self, n: &Notification) -> Line {
        let id_of = |key: &str| n.payload.get(key).and_then(|v| v.as_str()).map(str::to_owned);
        let job_id: Option<JobId> = id_of("job_id").and_then(|s| s.parse().ok());
        let call_id: Option<CallId> = id_of("call_id").and_then(|s| s.parse().ok());
        let job = match job_id {
            Some(id) => self.job(id).await.map(|j| (id, j)),
            None => None,
        };
        let call = match call_id {
            Some(id) => self.call(id).await.map(|c| (id, c)),
            None => None,
        };
        let job_href = job.as_ref().map(|(id, _)| format!("/app/jobs/{id}"));
        let call_href = call.as_ref().map(|(id, _)| format!("/app/calls/{id}"));
        let data_stage = n
            .payload
            .get("data")
            .and_then(|d| d.get("stage"))
            .and_then(|s| s.as_str())
            .and_then(|s| s.parse::<Stage>().ok());
        match n.kind.as_str() {
            "job.created" => Line {
                text: match &job {
                    Some((_, (title, _))) => format!("New job: {title}"),
                    None => "New job (since deleted)".to_owned(),
                },
                href: job_href,
                tone: "ok",
            },
            "job.moved" => Line {
                text: match (&job, data_stage) {
                    (Some((_, (title, _))), Some(stage)) => {
                        format!("{title} moved to {}", stage_label(stage))
                    }
                    (Some((_, (title, stage))), None) => format!("{title} is now {}", stage_label(*stage)),
                    (None, _) => "A job moved (since deleted)".to_owned(),
                },
                href: job_href,
                tone: "info",
            },
            "job.updated" => Line {
                text: match &job {
                    Some((_, (title, _))) => format!("{title} was updated"),
                    None => "A job was updated (since deleted)".to_owned(),
                },
                href: job_href,
                tone: "info",
            },
            "call.needs_review" => Line {
                text: match &call {
                    Some((_, (name, _))) => format!("Call from {name} needs review"),
                    None => "A call needed review (since deleted)".to_owned(),
                },
                href: call_href,
                tone: "warn",
            },
            "call.dead" => Line {
                text: match &call {
                    Some((_, (name, _))) => format!("Call from {name} could not be processed"),
                    None => "A call could not be processed (since deleted)".to_owned(),
                },
                href: call_href,
                tone: "bad",
            },
            "call.finished" => Line {
                text: match &call {
                    Some((_, (name, state))) => {
                        format!("Call from {name} processed: {}", call_state_label(*state))
                    }
                    None => "A call was processed (since deleted)".to_owned(),
                },
                href: call_href,
                tone: "info",
            },
            "call.received" => Line {
                text: match &call {
                    Some((_, (name, _))) => format!("New call from {name}"),
                    None => "New call (since deleted)".to_owned(),
                },
                href: call_href,
                tone: "info",
            },
            other => Line {
                text: other.replace(['.', '_'], " "),
                href: job_href.or(call_href),
                tone: "info",
            },
        }
    }
}

async fn page(
    State(state): State<ApiState>,
    viewer: Viewer,
    Query(query): Query<NotificationsQuery>,
) -> WebResult {
    let unread_only = query.unread.unwrap_or(false);
    let page_no = query.page.unwrap_or(1).max(1);
    let all = state
        .store
        .list_notifications(viewer.principal.tenant, viewer.principal.user, unread_only)
        .await?;
    let total = all.len();
    let shown: Vec<&Notification> = all.iter().skip((page_no - 1) * PER_PAGE).take(PER_PAGE).collect();
    let mut names = Names {
        state: &state,
        tenant: viewer.principal.tenant,
        jobs: HashMap::new(),
        calls: HashMap::new(),
    };
    let mut rows: Vec<(&Notification, Line)> = Vec::with_capacity(shown.len());
    for n in shown {
        let line = names.line(n).await;
        rows.push((n, line));
    }
    let link = |unread: bool, page: usize| -> String {
        let mut q = Vec::new();
        if unread {
            q.push("unread=true".to_owned());
        }
        if page > 1 {
            q.push(format!("page={page}"));
        }
        if q.is_empty() {
            "/app/notifications".to_owned()
        } else {
            format!("/app/notifications?{}", q.join("&"))
        }
    };
    let body = html! {
        div.page-header {
            h1 { "Notifications" }
            div.actions {
                @if viewer.unread > 0 {
                    button.button.small #mark-all-read type="button" data-api="POST /api/v1/notifications/read-all"
                        data-then="refresh" data-success="All notifications marked read" { "Mark all read" }
                }
                a.button.small href="/app/settings#notifications" { "Preferences" }
            }
        }
        nav.tabs aria-label="Filter notifications" {
            a href=(link(false, 1)) aria-current=[(!unread_only).then_some("page")] { "All" }
            a href=(link(true, 1)) aria-current=[unread_only.then_some("page")] {
                "Unread" @if viewer.unread > 0 { " (" (viewer.unread) ")" }
            }
        }
        @if rows.is_empty() {
            p.empty #notification-empty {
                @if unread_only { "No unread notifications." }
                @else { "No notifications yet. New jobs, calls that need review and failed calls show up here." }
            }
        }
        ul.list #notification-list {
            @for (n, line) in &rows {
                (row(&viewer, n, line))
            }
        }
        @if page_no > 1 || page_no * PER_PAGE < total {
            nav.cluster.pager aria-label="Pages" {
                @if page_no > 1 {
                    a.button.small href=(link(unread_only, page_no - 1)) rel="prev" { "Newer" }
                }
                @if page_no * PER_PAGE < total {
                    a.button.small href=(link(unread_only, page_no + 1)) rel="next" { "Older" }
                }
            }
        }
    };
    Ok(layout(
        &viewer,
        Page {
            title: "Notifications",
            nav: Nav::Notifications,
            scripts: &["notifications.js"],
            styles: &["notifications.css"],
        },
        body,
    ))
}

fn row(viewer: &Viewer, n: &Notification, line: &Line) -> Markup {
    let unread = n.read_at.is_none();
    html! {
        li.notification.unread[unread] data-notification-id=(n.id) data-kind=(n.kind) {
            span class={ "dot " (line.tone) } aria-hidden="true" {}
            span.row-main {
                @if unread { span.visually-hidden { "Unread: " } }
                @match &line.href {
                    Some(href) => a.notification-link href=(href) { (line.text) },
                    None => span { (line.text) },
                }
            }
            span.row-meta {
                time datetime=(n.created_at.to_rfc3339()) { (viewer.short_time(n.created_at)) }
                @if unread {
                    button.button.small type="button" aria-label={ "Mark read: " (line.text) }
                        data-api={ "POST /api/v1/notifications/" (n.id) "/read" } data-then="refresh" {
                        "Mark read"
                    }
                }
            }
        }
    }
}
