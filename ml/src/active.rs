//! The model version that scores now, shared by the projection and the API and
//! swapped in one step: a decision uses the version it started with.

use std::sync::{Arc, PoisonError, RwLock};

use crate::{MlError, registry::Registry, scorer::Scorer};

/// The active model, if any: cheap to clone, every clone sees every swap.
#[derive(Debug, Clone, Default)]
pub struct ActiveModel(Arc<RwLock<Option<Arc<Scorer>>>>);

impl ActiveModel {
    /// The version the registry marks active, if one is.
    pub async fn load(registry: &Registry) -> Result<Self, MlError> {
        let active = Self::default();
        if let Some(entry) = registry.active().await? {
            active.set(Some(Scorer::new(entry.artifact)));
        }
        Ok(active)
    }

    /// The scorer now; `None` when no model is active.
    pub fn get(&self) -> Option<Arc<Scorer>> {
        self.0.read().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Swaps the active model.
    pub fn set(&self, scorer: Option<Scorer>) {
        *self.0.write().unwrap_or_else(PoisonError::into_inner) = scorer.map(Arc::new);
    }
}
