//! Model versions: list, read, train (a background job) and activate.

use axum::{
    Json,
    body::Bytes,
    extract::{Path, Query, State, rejection::QueryRejection},
    http::{StatusCode, header},
    response::IntoResponse,
};
use chrono::{DateTime, Utc};
use ml::{GroupFigures, MlError, ModelArtifact, ModelEntry, TargetModel, TrainConfig, TrainingSummary};
use serde::{Deserialize, Serialize};

use super::{body, params};
use crate::{server::AppState, server::problem::ApiError, services::models::Job};

/// Every version, and what decides now.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ModelList {
    /// The active version; none when no model is active.
    pub active: Option<String>,
    /// `model_and_hard_rules`, or `hard_rules_only` when no model is active.
    pub decisions: &'static str,
    /// A page of versions, the latest trained first.
    pub models: Vec<ModelSummary>,
    /// The `after` of the next page; `null` when this one is the last.
    pub next: Option<String>,
}

/// Query of the model list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ModelPage {
    /// Only versions listed after this one (the `next` of the page before).
    after: Option<String>,
    /// At most this many (default 100).
    #[serde(default, deserialize_with = "params::count")]
    #[param(minimum = 1)]
    limit: Option<usize>,
}

/// A version at a glance.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ModelSummary {
    /// The version (a content hash of its artifact).
    pub version: String,
    /// When it was trained.
    pub trained_at: DateTime<Utc>,
    /// Whether it scores now.
    pub active: bool,
    /// When it was last activated.
    pub activated_at: Option<DateTime<Utc>>,
    /// The harm model on the test points.
    pub harm: TargetSummary,
    /// The churn model on the test points.
    pub churn: TargetSummary,
    /// What it was trained on.
    pub training: TrainingSummary,
}

/// The chosen model of one target, on the test points.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TargetSummary {
    /// `logistic`, `tree` or `forest`.
    pub family: &'static str,
    /// Scores at or over it are positive.
    pub threshold: f64,
    /// Area under the ROC curve.
    pub roc_auc: f64,
    /// Area under the precision-recall curve.
    pub pr_auc: f64,
    /// Precision at the threshold.
    pub precision: f64,
    /// Recall at the threshold.
    pub recall: f64,
    /// Harm only, and only when training was given the simulator's ground truth
    /// (`nudge train --truth`): per pathway of harm, the players warned before
    /// they excluded themselves and the median lead; per archetype not at risk,
    /// the players warned (false alarms); on the test points. Absent otherwise.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<GroupFigures>,
}

/// A version with its whole artifact.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ModelDetail {
    /// The summary.
    #[serde(flatten)]
    pub summary: ModelSummary,
    /// The artifact: inputs, scaler, parameters, thresholds, metrics.
    #[schema(value_type = Object)]
    pub artifact: ModelArtifact,
}

/// Options of a training job; all optional.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"churn_precision": 0.7, "activate": true}))]
pub struct TrainRequest {
    /// Choose the harm threshold for this precision on the validation points;
    /// without it, the threshold is chosen on the validation players (the most
    /// warned before they excluded themselves, less 3 times the share of the
    /// others warned).
    #[schema(exclusive_minimum = 0.0, exclusive_maximum = 1.0)]
    pub harm_precision: Option<f64>,
    /// Precision the churn threshold is chosen for over the validation players, each offered counting once (default 0.7).
    #[schema(exclusive_minimum = 0.0, exclusive_maximum = 1.0)]
    pub churn_precision: Option<f64>,
    /// Activate the version once trained (default false).
    #[serde(default)]
    pub activate: bool,
}

fn target(model: &TargetModel) -> TargetSummary {
    let chosen = model.metrics.iter().find(|m| m.chosen);
    let test = chosen.map(|m| &m.test);
    TargetSummary {
        family: model.model.family().as_str(),
        threshold: model.threshold,
        roc_auc: test.map_or(0.0, |t| t.roc_auc),
        pr_auc: test.map_or(0.0, |t| t.pr_auc),
        precision: test.map_or(0.0, |t| t.precision),
        recall: test.map_or(0.0, |t| t.recall),
        groups: model.groups.clone(),
    }
}

fn summary(entry: &ModelEntry) -> ModelSummary {
    ModelSummary {
        version: entry.artifact.version.clone(),
        trained_at: entry.trained_at,
        active: entry.active,
        activated_at: entry.activated_at,
        harm: target(&entry.artifact.harm),
        churn: target(&entry.artifact.churn),
        training: entry.artifact.training.clone(),
    }
}

impl From<MlError> for ApiError {
    fn from(error: MlError) -> Self {
        match error {
            MlError::Store(e) => e.into(),
            MlError::Database(e) => Self::Unavailable(e.into()),
            e => Self::Internal(e.into()),
        }
    }
}

/// Lists the versions, latest trained first, a page at a time, and says what decides now.
#[utoipa::path(
    get,
    path = "/v1/models",
    operation_id = "listModels",
    tag = "models",
    params(ModelPage),
    responses(
        (status = 200, description = "A page of versions, and what decides now", body = ModelList),
        (status = 404, description = "No model version is `after`"),
    ),
)]
#[tracing::instrument(name = "list_models", skip_all)]
pub async fn list(
    State(state): State<AppState>,
    query: Result<Query<ModelPage>, QueryRejection>,
) -> Result<Json<ModelList>, ApiError> {
    let query = params::query(query)?;
    let limit = params::limit(query.limit, state.limits.max_page)?;
    let entries = state.models.registry().list().await?;
    let start = match &query.after {
        None => 0,
        Some(after) => {
            entries.iter().position(|e| e.artifact.version == *after).map(|i| i + 1).ok_or_else(|| unknown(after))?
        }
    };
    let page = &entries[start..entries.len().min(start + limit)];
    let next = page.last().filter(|_| start + page.len() < entries.len()).map(|e| e.artifact.version.clone());
    let active = state.models.active().get().map(|scorer| scorer.version().to_owned());
    Ok(Json(ModelList {
        decisions: if active.is_some() { "model_and_hard_rules" } else { "hard_rules_only" },
        active,
        models: page.iter().map(summary).collect(),
        next,
    }))
}

/// One version with its artifact.
#[utoipa::path(
    get,
    path = "/v1/models/{version}",
    operation_id = "getModel",
    tag = "models",
    params(("version" = String, Path, description = "The model version")),
    responses(
        (status = 200, description = "The version and its artifact", body = ModelDetail),
        (status = 404, description = "No such version"),
    ),
)]
#[tracing::instrument(name = "get_model", skip(state))]
pub async fn get(State(state): State<AppState>, Path(version): Path<String>) -> Result<Json<ModelDetail>, ApiError> {
    let entry = state.models.registry().get(&version).await?.ok_or_else(|| unknown(&version))?;
    Ok(Json(ModelDetail { summary: summary(&entry), artifact: entry.artifact }))
}

/// Makes a version the one that scores, without a restart or a pause.
#[utoipa::path(
    post,
    path = "/v1/models/{version}/activate",
    operation_id = "activateModel",
    tag = "models",
    params(("version" = String, Path, description = "The model version")),
    responses(
        (status = 200, description = "The version, now active", body = ModelSummary),
        (status = 404, description = "No such version"),
    ),
)]
#[tracing::instrument(name = "activate_model", skip(state))]
pub async fn activate(
    State(state): State<AppState>,
    Path(version): Path<String>,
) -> Result<Json<ModelSummary>, ApiError> {
    let entry = state.models.activate(&version).await?.ok_or_else(|| unknown(&version))?;
    Ok(Json(summary(&entry)))
}

/// Starts training a version from every stream; answers the job to follow.
#[utoipa::path(
    post,
    path = "/v1/models/train",
    operation_id = "trainModel",
    tag = "models",
    request_body(content = Option<TrainRequest>, description = "Options; an empty body, or `null`, takes the defaults"),
    responses(
        (status = 202, description = "The job started", body = Job,
         headers(("location" = String, description = "The job's URL"))),
        (status = 409, description = "A training job is already running"),
    ),
)]
#[tracing::instrument(name = "train_model", skip_all)]
pub async fn train(State(state): State<AppState>, body: Bytes) -> Result<impl IntoResponse, ApiError> {
    let request: TrainRequest =
        if body.is_empty() || matches!(serde_json::from_slice(&body), Ok(serde_json::Value::Null)) {
            TrainRequest::default()
        } else {
            body::json(&body)?
        };
    let defaults = TrainConfig::default();
    let config = TrainConfig {
        harm_precision: precision("harm_precision", request.harm_precision, defaults.harm_precision)?,
        harm_false_alarm_cost: request.harm_precision.map_or(defaults.harm_false_alarm_cost, |_| None),
        churn_precision: precision("churn_precision", request.churn_precision, defaults.churn_precision)?,
        ..defaults
    };
    let job = state
        .models
        .start_training(config, request.activate)
        .await?
        .ok_or_else(|| ApiError::Conflict("a training job is already running".to_owned()))?;
    let location = format!("/v1/models/jobs/{}", job.id);
    Ok((StatusCode::ACCEPTED, [(header::LOCATION, location)], Json(job)))
}

/// A training job's progress and outcome.
#[utoipa::path(
    get,
    path = "/v1/models/jobs/{job_id}",
    operation_id = "getTrainingJob",
    tag = "models",
    params(("job_id" = Uuid, Path, description = "The job")),
    responses(
        (status = 200, description = "The job", body = Job),
        (status = 404, description = "No such job"),
    ),
)]
#[tracing::instrument(name = "training_job", skip(state))]
pub async fn job(State(state): State<AppState>, Path(id): Path<String>) -> Result<Json<Job>, ApiError> {
    let id = params::id(&id, "job_id")?;
    state.models.job(id).await?.map(Json).ok_or_else(|| ApiError::NotFound(format!("no training job {id}")))
}

fn precision(name: &'static str, value: Option<f64>, default: f64) -> Result<f64, ApiError> {
    match value {
        None => Ok(default),
        Some(p) if p > 0.0 && p < 1.0 => Ok(p),
        Some(p) => Err(ApiError::InvalidField {
            pointer: format!("/{name}"),
            detail: format!("{name} must be between 0 and 1, not {p}"),
        }),
    }
}

fn unknown(version: &str) -> ApiError {
    ApiError::NotFound(format!("no model version {version}"))
}
