//! Which other instance folds a partition and where it listens, for reads
//! forwarded there: looked up in the read model and remembered for a lease
//! renewal's interval, so that forwarded reads cost no database round trip
//! each. A partition that changed hands meanwhile sends a read to its former
//! owner, which answers it itself (a forwarded read is never forwarded again).

use std::{
    collections::HashMap,
    sync::{Mutex, PoisonError},
    time::{Duration, Instant},
};

use crate::{
    ProjectionError,
    read_model::{ReadModel, Table},
};

/// The owners looked up, by logical partition: the address, or `None` for no
/// other instance that said where it listens, and when it was looked up.
pub(crate) struct Owners {
    remembered: Mutex<HashMap<u32, (Option<String>, Instant)>>,
    /// How long a lookup is trusted: a lease renewal's interval.
    trusted_for: Duration,
}

impl Owners {
    /// Owners remembered for `trusted_for` after each lookup.
    pub(crate) fn new(trusted_for: Duration) -> Self {
        Self { remembered: Mutex::default(), trusted_for }
    }

    /// Where the instance other than `except` holding `partition` of the live
    /// rows listens, if one does and said where.
    pub(crate) async fn address(
        &self,
        read_model: &ReadModel,
        partition: u32,
        except: &str,
    ) -> Result<Option<String>, ProjectionError> {
        if let Some(address) = self.recalled(partition, Instant::now()) {
            return Ok(address);
        }
        let address = read_model.holder_address(Table::Live.checkpoint(), partition, except).await?;
        self.remember(partition, address.clone(), Instant::now());
        Ok(address)
    }

    /// Forgets `partition`'s owner: it could not be reached.
    pub(crate) fn forget(&self, partition: u32) {
        self.remembered.lock().unwrap_or_else(PoisonError::into_inner).remove(&partition);
    }

    fn recalled(&self, partition: u32, now: Instant) -> Option<Option<String>> {
        let remembered = self.remembered.lock().unwrap_or_else(PoisonError::into_inner);
        let (address, at) = remembered.get(&partition)?;
        (now.saturating_duration_since(*at) < self.trusted_for).then(|| address.clone())
    }

    fn remember(&self, partition: u32, address: Option<String>, at: Instant) {
        self.remembered.lock().unwrap_or_else(PoisonError::into_inner).insert(partition, (address, at));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RENEWAL: Duration = Duration::from_millis(500);

    #[test]
    fn an_owner_is_remembered_for_a_renewal_then_looked_up_again() {
        let owners = Owners::new(RENEWAL);
        let at = Instant::now();
        assert_eq!(owners.recalled(3, at), None, "never looked up");
        owners.remember(3, Some("http://10.0.0.7:8080".to_owned()), at);
        owners.remember(4, None, at);
        assert_eq!(owners.recalled(3, at + RENEWAL / 2), Some(Some("http://10.0.0.7:8080".to_owned())));
        assert_eq!(owners.recalled(4, at + RENEWAL / 2), Some(None), "no owner is remembered too");
        assert_eq!(owners.recalled(3, at + RENEWAL), None, "a renewal later");
    }

    #[test]
    fn an_owner_not_reached_is_forgotten() {
        let owners = Owners::new(RENEWAL);
        let at = Instant::now();
        owners.remember(3, Some("http://10.0.0.7:8080".to_owned()), at);
        owners.forget(3);
        assert_eq!(owners.recalled(3, at), None);
    }
}
