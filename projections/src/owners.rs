//! Which other instance folds a partition and where it listens, for reads
//! forwarded there: looked up in the read model and remembered for a lease
//! renewal's interval, so that forwarded reads cost no database round trip
//! each. A partition that changed hands meanwhile sends a read to its former
//! owner, which answers it itself (a forwarded read is never forwarded again).
//!
//! An owner that could not be reached is avoided for a lease's TTL: a process
//! stopped cold still accepts connections and answers nothing, so every read
//! sent there would wait out its patience, while its leases lapse within that
//! TTL and another instance takes its partitions at another address.

use std::{
    collections::HashMap,
    sync::{Mutex, MutexGuard, PoisonError},
    time::{Duration, Instant},
};

use crate::{
    ProjectionError,
    read_model::{ReadModel, Table},
};

#[derive(Default)]
struct Known {
    /// By logical partition: the address, or `None` for no other instance
    /// that said where it listens, and when it was looked up.
    owners: HashMap<u32, (Option<String>, Instant)>,
    /// Addresses that could not be reached, and until when they are avoided.
    avoided: HashMap<String, Instant>,
}

/// The owners looked up, and those avoided.
pub(crate) struct Owners {
    known: Mutex<Known>,
    /// How long a lookup is trusted: a lease renewal's interval.
    trusted_for: Duration,
    /// How long an owner not reached is avoided: a lease's TTL.
    avoided_for: Duration,
}

impl Owners {
    /// Owners remembered for `trusted_for` after each lookup, and avoided for
    /// `avoided_for` once they could not be reached.
    pub(crate) fn new(trusted_for: Duration, avoided_for: Duration) -> Self {
        Self { known: Mutex::default(), trusted_for, avoided_for }
    }

    /// Where the instance other than `except` holding `partition` of the live
    /// rows listens, if one does, said where, and is not avoided.
    pub(crate) async fn address(
        &self,
        read_model: &ReadModel,
        partition: u32,
        except: &str,
    ) -> Result<Option<String>, ProjectionError> {
        let now = Instant::now();
        let address = match self.recalled(partition, now) {
            Some(address) => address,
            None => {
                let address = read_model.holder_address(Table::Live.checkpoint(), partition, except).await?;
                self.remember(partition, address.clone(), now);
                address
            }
        };
        Ok(address.filter(|address| !self.is_avoided(address, now)))
    }

    /// Avoids the owner at `address`: it could not be reached.
    pub(crate) fn unreachable(&self, address: &str) {
        self.avoid(address, Instant::now());
    }

    fn lock(&self) -> MutexGuard<'_, Known> {
        self.known.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn recalled(&self, partition: u32, now: Instant) -> Option<Option<String>> {
        let known = self.lock();
        let (address, at) = known.owners.get(&partition)?;
        (now.saturating_duration_since(*at) < self.trusted_for).then(|| address.clone())
    }

    fn remember(&self, partition: u32, address: Option<String>, at: Instant) {
        self.lock().owners.insert(partition, (address, at));
    }

    fn avoid(&self, address: &str, now: Instant) {
        let mut known = self.lock();
        known.avoided.retain(|_, until| *until > now);
        known.avoided.insert(address.to_owned(), now + self.avoided_for);
    }

    fn is_avoided(&self, address: &str, now: Instant) -> bool {
        self.lock().avoided.get(address).is_some_and(|until| *until > now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RENEWAL: Duration = Duration::from_millis(500);
    const TTL: Duration = Duration::from_secs(5);
    const OWNER: &str = "http://10.0.0.7:8080";

    #[test]
    fn an_owner_is_remembered_for_a_renewal_then_looked_up_again() {
        let owners = Owners::new(RENEWAL, TTL);
        let at = Instant::now();
        assert_eq!(owners.recalled(3, at), None, "never looked up");
        owners.remember(3, Some(OWNER.to_owned()), at);
        owners.remember(4, None, at);
        assert_eq!(owners.recalled(3, at + RENEWAL / 2), Some(Some(OWNER.to_owned())));
        assert_eq!(owners.recalled(4, at + RENEWAL / 2), Some(None), "no owner is remembered too");
        assert_eq!(owners.recalled(3, at + RENEWAL), None, "a renewal later");
    }

    #[test]
    fn an_owner_not_reached_is_avoided_for_a_ttl() {
        let owners = Owners::new(RENEWAL, TTL);
        let at = Instant::now();
        owners.avoid(OWNER, at);
        assert!(owners.is_avoided(OWNER, at + TTL / 2));
        assert!(!owners.is_avoided(OWNER, at + TTL), "a TTL later");
        assert!(!owners.is_avoided("http://10.0.0.8:8080", at), "another instance");
        owners.avoid("http://10.0.0.8:8080", at + TTL);
        assert_eq!(owners.lock().avoided.len(), 1, "those no longer avoided are dropped");
    }
}
