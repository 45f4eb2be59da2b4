//! nudge's models: the training set built by replay, linfa training and
//! evaluation, model artifacts and scoring.

mod active;
mod artifact;
mod curves;
mod dataset;
mod error;
mod evaluation;
mod groups;
mod inputs;
mod model;
mod registry;
mod scorer;
mod threshold;
mod train;

pub use active::ActiveModel;
pub use artifact::{FORMAT, FamilyMetrics, ModelArtifact, Scaler, TargetModel, TrainingSummary};
pub use curves::{CURVE_POINTS, CurvePoint};
pub use dataset::{
    CHURN_HORIZON, CHURN_QUIET, CHURN_QUIET_GAPS, HARM_HORIZON, Point, TrainingSet, for_each_event, replay, stop_quiet,
};
pub use error::MlError;
pub use evaluation::{CalibrationBin, Evaluation};
pub use groups::{GroupFigures, Kind, Truth};
pub use inputs::{HARM_MONOTONE, INPUT_NAMES, INPUTS, inputs};
pub use model::{BinaryModel, Family, FitParams, Node, Split};
pub use registry::{ModelEntry, Registry};
pub use scorer::{Scorer, Scoring, Target};
pub use train::{CHURN_PRECISION, HARM_FALSE_ALARM_COST, Progress, TrainConfig, harm_groups, train, train_from_store};
