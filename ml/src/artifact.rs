//! A model version: the harm and the churn model trained together, with all it
//! takes to score and to judge them, as one JSON document named by its content.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{
    MlError,
    evaluation::Evaluation,
    groups::GroupFigures,
    inputs::{INPUT_NAMES, INPUTS, compress},
    model::{BinaryModel, Family},
};

/// The artifact format this nudge writes and reads.
pub const FORMAT: u32 = 1;

/// A trained model version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelArtifact {
    /// Artifact format.
    pub format: u32,
    /// The first 16 hex digits of the SHA-256 of the document with `version` empty.
    pub version: String,
    /// The model inputs, in order.
    pub feature_names: Vec<String>,
    /// How raw inputs become model inputs.
    pub scaler: Scaler,
    /// Harm: a self-exclusion within 7 days.
    pub harm: TargetModel,
    /// Churn: stopping play within 7 days (a week with no session begins by then).
    pub churn: TargetModel,
    /// Per game category, its games by how many players launched them.
    pub games: BTreeMap<String, Vec<String>>,
    /// What the models were trained on.
    pub training: TrainingSummary,
}

/// Standardisation of compressed inputs: z = (sign(x)·ln(1+|x|) − mean) / std.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scaler {
    /// Mean of each compressed input over the training points.
    pub mean: Vec<f64>,
    /// Standard deviation of each (1 where it is 0).
    pub std: Vec<f64>,
}

/// The model chosen for one target, its threshold and how every family did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetModel {
    /// The chosen model.
    pub model: BinaryModel,
    /// A score at or over it is positive; chosen on the validation points for `precision_target`.
    pub threshold: f64,
    /// The precision the threshold was chosen for (unless `false_alarm_cost` is set).
    pub precision_target: f64,
    /// When set, the threshold was chosen on the validation players: the most
    /// warned before excluding themselves, less this cost times the share of
    /// those who never did that were warned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub false_alarm_cost: Option<f64>,
    /// Every family fitted, evaluated on the test points (the latest).
    pub metrics: Vec<FamilyMetrics>,
    /// The chosen model on the test points per pathway of harm and per
    /// archetype not at risk; only when training was given the ground truth.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<GroupFigures>,
}

/// How one family did on one target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FamilyMetrics {
    /// The family.
    pub family: Family,
    /// Whether this family's model is the one kept.
    pub chosen: bool,
    /// PR AUC on the validation points, which chose the family.
    pub validation_pr_auc: f64,
    /// Quality on the test points at the family's own threshold.
    pub test: Evaluation,
}

/// What a model version was trained on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TrainingSummary {
    /// Position of the first event replayed.
    pub first_position: u64,
    /// Position of the last event replayed.
    pub last_position: u64,
    /// Events replayed.
    pub events: u64,
    /// Players seen.
    pub players: usize,
    /// Sample points taken (session ends and deposits).
    pub points: usize,
    /// Points per split, per target: training, validation, test.
    pub splits: BTreeMap<String, [usize; 3]>,
}

impl Scaler {
    /// Fits the scaler to raw input rows.
    pub fn fit<'a>(rows: impl Iterator<Item = &'a [f64; INPUTS]>) -> Self {
        let (mut n, mut sum, mut squares) = (0.0, [0.0; INPUTS], [0.0; INPUTS]);
        for row in rows {
            n += 1.0;
            for i in 0..INPUTS {
                let x = compress(row[i]);
                sum[i] += x;
                squares[i] += x * x;
            }
        }
        let n = f64::max(n, 1.0);
        let mean: Vec<f64> = sum.iter().map(|s| s / n).collect();
        let std = squares
            .iter()
            .zip(&mean)
            .map(|(sq, m)| (sq / n - m * m).max(0.0).sqrt())
            .map(|s| if s > 1e-12 { s } else { 1.0 })
            .collect();
        Self { mean, std }
    }

    /// The model inputs of raw inputs.
    pub fn transform(&self, raw: &[f64; INPUTS]) -> [f64; INPUTS] {
        let mut z = [0.0; INPUTS];
        for i in 0..INPUTS {
            z[i] = (compress(raw[i]) - self.mean[i]) / self.std[i];
        }
        z
    }
}

impl ModelArtifact {
    /// Names the artifact by its content.
    pub fn sealed(mut self) -> Result<Self, MlError> {
        self.version = self.content_hash()?;
        Ok(self)
    }

    fn content_hash(&self) -> Result<String, MlError> {
        let unnamed = Self { version: String::new(), ..self.clone() };
        let bytes = serde_json::to_vec(&unnamed).map_err(|e| MlError::Artifact(e.to_string()))?;
        let digest = Sha256::digest(&bytes);
        Ok(domain::to_hex(&digest[..8]))
    }

    /// Reads an artifact and checks it can score here: its format, its inputs,
    /// its shapes and that its content matches its version.
    pub fn from_json(json: &str) -> Result<Self, MlError> {
        let artifact: Self = serde_json::from_str(json).map_err(|e| MlError::Artifact(e.to_string()))?;
        if artifact.format != FORMAT {
            return Err(MlError::Artifact(format!("format {} (this nudge reads {FORMAT})", artifact.format)));
        }
        if artifact.feature_names != INPUT_NAMES {
            return Err(MlError::Artifact("its inputs are not this nudge's".into()));
        }
        if artifact.scaler.mean.len() != INPUTS || artifact.scaler.std.len() != INPUTS {
            return Err(MlError::Artifact("the scaler does not fit the inputs".into()));
        }
        artifact.harm.model.check(INPUTS)?;
        artifact.churn.model.check(INPUTS)?;
        if artifact.content_hash()? != artifact.version {
            return Err(MlError::Artifact(format!("its content does not match version {}", artifact.version)));
        }
        Ok(artifact)
    }

    /// The artifact as JSON.
    pub fn to_json(&self) -> Result<String, MlError> {
        serde_json::to_string(self).map_err(|e| MlError::Artifact(e.to_string()))
    }
}
