//! The calendar page(s) of the dashboard (see [`crate::web`]).

use axum::Router;

use crate::api::ApiState;

/// The routes of this part of the dashboard.
pub(crate) fn routes() -> Router<ApiState> {
    Router::new()
}
