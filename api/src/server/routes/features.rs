//! Player features (`GET /v1/players/{id}/features`), now or as of a moment.

use std::time::Duration;

use axum::{
    Json,
    extract::{Path, Query, State, rejection::QueryRejection},
    http::HeaderMap,
    response::{IntoResponse, Response},
};
use chrono::{DateTime, Utc};
use domain::{Features, PlayerFeatures, PlayerId};
use projections::{CachedRow, Reached};
use serde::{Deserialize, Serialize};
use store::StoreError;

use super::params;
use crate::{server::AppState, server::problem::ApiError};

/// How long a read-your-writes request waits for the projection.
const READ_YOUR_WRITES: Duration = Duration::from_secs(2);

/// How long a read forwarded to the instance folding the player may take:
/// its own wait (none without `min_position`), and room for the way there and back.
const FORWARD_MARGIN: Duration = Duration::from_secs(1);

/// Events read per page when replaying a stream for `at`.
const REPLAY_PAGE: usize = 1_000;

/// Query of a features read.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FeaturesQuery {
    /// Wait until the read model includes this global position.
    #[serde(default, deserialize_with = "params::int64")]
    min_position: Option<u64>,
    /// The features as of this moment, replayed from the stream.
    #[serde(default, deserialize_with = "params::timestamp")]
    at: Option<DateTime<Utc>>,
}

/// A player's features and the last event they include.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PlayerFeaturesView {
    /// Whose.
    pub player_id: String,
    /// Stream revision of the last event folded in.
    pub revision: u64,
    /// Global position of the last event folded in.
    pub position: u64,
    /// The features.
    pub features: Features,
}

/// Answers a player's features from the read model, or replayed up to `at`.
///
/// An instance that does not fold the player asks the one that does, from
/// its memory (see README, "Running several instances").
#[utoipa::path(
    get,
    path = "/v1/players/{player_id}/features",
    operation_id = "getPlayerFeatures",
    tag = "players",
    params(params::PlayerPath, FeaturesQuery),
    responses(
        (status = 200, description = "The player's features", body = PlayerFeaturesView),
        (status = 404, description = "No event of the player's is projected (or none before `at`)"),
        (status = 409, description = "The read model has not reached `min_position` within 2 seconds"),
    ),
)]
#[tracing::instrument(name = "read_features", skip(state, headers, query))]
pub async fn read(
    State(state): State<AppState>,
    Path(params::PlayerPath { player_id }): Path<params::PlayerPath>,
    headers: HeaderMap,
    query: Result<Query<FeaturesQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let player = params::player_id(&player_id)?;
    let query = params::query(query)?;
    if let Some(at) = query.at {
        return replay(&state, &player, at).await.map(|view| Json(view).into_response());
    }
    let patience = query.min_position.map_or(FORWARD_MARGIN, |_| READ_YOUR_WRITES + FORWARD_MARGIN);
    let forwarded =
        state.owner_reads.features(&state.projection, player.as_str(), query.min_position, &headers, patience);
    if let Some(answer) = forwarded.await {
        return Ok(answer);
    }
    if let Some(wanted) = query.min_position {
        match state.projection.wait_for_player(player.as_str(), wanted, READ_YOUR_WRITES).await {
            Reached::InMemory(row) => return Ok(Json(view(&player, &row)).into_response()),
            Reached::Stored => {}
            Reached::Not(checkpoint) => return Err(ApiError::NotProjectedYet { wanted, checkpoint }),
        }
    }
    let row = state.projection.features(player.as_str()).await?.ok_or_else(|| unknown(&player))?;
    Ok(Json(view(&player, &row)).into_response())
}

fn view(player: &PlayerId, row: &CachedRow) -> PlayerFeaturesView {
    PlayerFeaturesView {
        player_id: player.to_string(),
        revision: row.revision,
        position: row.position,
        features: row.features.clone(),
    }
}

fn unknown(player: &PlayerId) -> ApiError {
    ApiError::NotFound(format!("no features for player {player}: no event of theirs has been projected"))
}

/// Folds the player's stream, in order, over the events that happened at or before `at`.
async fn replay(state: &AppState, player: &PlayerId, at: DateTime<Utc>) -> Result<PlayerFeaturesView, ApiError> {
    let mut fold = PlayerFeatures::default();
    let mut last = None;
    each_event(state, player, |recorded, event| {
        if event.time <= at {
            fold.apply(event);
            last = Some((recorded.revision, recorded.position));
        }
    })
    .await?;
    let (revision, position) =
        last.ok_or_else(|| ApiError::NotFound(format!("player {player} has no event at or before {at}")))?;
    Ok(PlayerFeaturesView { player_id: player.to_string(), revision, position, features: fold.features() })
}

/// Hands each event of the player's stream to `visit`, in stream order, a page at a time.
pub(super) async fn each_event(
    state: &AppState,
    player: &PlayerId,
    mut visit: impl FnMut(&store::RecordedEvent, &domain::PlayerEvent),
) -> Result<(), ApiError> {
    let stream = player.stream_name();
    let mut from = 0;
    loop {
        let page = match state.store.read_stream(&stream, from, REPLAY_PAGE).await {
            Err(StoreError::StreamNotFound(_)) => return Err(unknown(player)),
            page => page?,
        };
        for recorded in &page {
            // Skipped like the projection skips it: see `RecordedEvent::decode`.
            if let Some(event) = recorded.decode() {
                visit(recorded, &event);
            }
        }
        match page.last() {
            Some(event) if page.len() == REPLAY_PAGE => from = event.revision + 1,
            _ => return Ok(()),
        }
    }
}
