//! A subscription: where to deliver, which events, how, and with which secrets.

use chrono::{DateTime, Duration, Utc};
use domain::InterventionKind;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{SigningSecret, masked_url};

/// How long a rotated-out secret keeps signing alongside its successor.
pub const ROTATION_OVERLAP: Duration = Duration::hours(24);

/// How events travel over HTTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// One event per request, as `application/cloudevents+json`.
    #[default]
    Structured,
    /// One event per request, its attributes in `ce-*` headers.
    Binary,
    /// Up to 100 events per request, as `application/cloudevents-batch+json`.
    Batch,
}

impl Mode {
    /// The mode as written.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Structured => "structured",
            Self::Binary => "binary",
            Self::Batch => "batch",
        }
    }

    /// Reads a mode as written.
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Structured, Self::Binary, Self::Batch].into_iter().find(|m| m.as_str() == s)
    }
}

/// Where the CloudEvents webhook validation handshake stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Validation {
    /// Not answered yet, or refused so far: nothing is delivered.
    Pending,
    /// The subscriber allowed nudge's origin.
    Allowed,
    /// The handshake is off for this subscription.
    Skipped,
}

impl Validation {
    /// The state as written.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Allowed => "allowed",
            Self::Skipped => "skipped",
        }
    }

    /// Reads a state as written.
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Pending, Self::Allowed, Self::Skipped].into_iter().find(|v| v.as_str() == s)
    }
}

/// A subscription as the API shows it (its secrets never).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Subscription {
    /// Its id.
    pub id: Uuid,
    /// Where deliveries are POSTed (shown with its password masked: `https://user:***@host/`).
    #[serde(serialize_with = "serialize_masked")]
    pub url: String,
    /// The CloudEvent types it receives.
    pub types: Vec<String>,
    /// The intervention kinds it receives; all when absent.
    pub kinds: Option<Vec<InterventionKind>>,
    /// How events travel.
    pub mode: Mode,
    /// What it is for.
    pub description: String,
    /// Whether events are routed and delivered to it.
    pub enabled: bool,
    /// Why nudge disabled it (a `410 Gone`), if it did.
    pub disabled_reason: Option<String>,
    /// Whether it must pass the CloudEvents validation handshake first.
    pub handshake: bool,
    /// Where the handshake stands.
    pub validation: Validation,
    /// Why the last handshake failed.
    pub validation_error: Option<String>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
    /// Until when the previous secret, after a rotation, still signs.
    pub previous_secret_expires_at: Option<DateTime<Utc>>,
    #[serde(skip)]
    pub(crate) secret: SigningSecret,
    #[serde(skip)]
    pub(crate) previous_secret: Option<SigningSecret>,
}

fn serialize_masked<S: serde::Serializer>(url: &str, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&masked_url(url))
}

impl Subscription {
    /// Whether it receives `event_type` events of this kind.
    pub fn wants(&self, event_type: &str, kind: Option<InterventionKind>) -> bool {
        self.types.iter().any(|t| t == event_type)
            && match (&self.kinds, kind) {
                (Some(kinds), Some(kind)) => kinds.contains(&kind),
                _ => true,
            }
    }

    /// Whether nudge may send it events now.
    pub fn deliverable(&self) -> bool {
        self.enabled && self.validation != Validation::Pending
    }

    /// The secrets signing at `now`: the current one, and the previous one during
    /// the overlap after a rotation.
    pub fn secrets_at(&self, now: DateTime<Utc>) -> Vec<SigningSecret> {
        let mut secrets = vec![self.secret.clone()];
        if let (Some(previous), Some(until)) = (&self.previous_secret, self.previous_secret_expires_at)
            && now < until
        {
            secrets.push(previous.clone());
        }
        secrets
    }
}

/// What creating a subscription takes.
#[derive(Debug, Clone, PartialEq)]
pub struct NewSubscription {
    /// Where deliveries are POSTed (already checked).
    pub url: String,
    /// The CloudEvent types it receives.
    pub types: Vec<String>,
    /// The intervention kinds it receives; all when absent.
    pub kinds: Option<Vec<InterventionKind>>,
    /// How events travel.
    pub mode: Mode,
    /// What it is for.
    pub description: String,
    /// Whether it must pass the validation handshake first.
    pub handshake: bool,
}

impl NewSubscription {
    /// The subscription, with a fresh id and secret.
    pub fn create(self, secret: SigningSecret, now: DateTime<Utc>) -> Subscription {
        Subscription {
            id: Uuid::now_v7(),
            url: self.url,
            types: self.types,
            kinds: self.kinds,
            mode: self.mode,
            description: self.description,
            enabled: true,
            disabled_reason: None,
            validation: if self.handshake { Validation::Pending } else { Validation::Skipped },
            handshake: self.handshake,
            validation_error: None,
            created_at: now,
            updated_at: now,
            previous_secret_expires_at: None,
            secret,
            previous_secret: None,
        }
    }
}

/// A change to a subscription: the fields given replace the stored ones.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SubscriptionPatch {
    /// A new URL (already checked): the handshake runs again.
    pub url: Option<String>,
    /// New types.
    pub types: Option<Vec<String>>,
    /// New kinds (`Some(None)`: all kinds).
    pub kinds: Option<Option<Vec<InterventionKind>>>,
    /// A new mode.
    pub mode: Option<Mode>,
    /// A new description.
    pub description: Option<String>,
    /// Enables or disables it.
    pub enabled: Option<bool>,
    /// Turns the handshake on or off.
    pub handshake: Option<bool>,
}

impl SubscriptionPatch {
    /// Applies the change at `now`; whether the subscription must pass a
    /// fresh validation handshake (its address or handshake setting changed).
    pub fn apply(self, subscription: &mut Subscription, now: DateTime<Utc>) -> bool {
        let revalidate = self.url.as_ref().is_some_and(|url| *url != subscription.url)
            || self.handshake.is_some_and(|on| on != subscription.handshake);
        if let Some(url) = self.url {
            subscription.url = url;
        }
        if let Some(types) = self.types {
            subscription.types = types;
        }
        if let Some(kinds) = self.kinds {
            subscription.kinds = kinds;
        }
        if let Some(mode) = self.mode {
            subscription.mode = mode;
        }
        if let Some(description) = self.description {
            subscription.description = description;
        }
        if let Some(enabled) = self.enabled {
            subscription.enabled = enabled;
            if enabled {
                subscription.disabled_reason = None;
            }
        }
        if let Some(handshake) = self.handshake {
            subscription.handshake = handshake;
        }
        if revalidate {
            subscription.validation = if subscription.handshake { Validation::Pending } else { Validation::Skipped };
            subscription.validation_error = None;
        }
        subscription.updated_at = now;
        revalidate
    }
}

/// Replaces the secret; the old one signs alongside for [`ROTATION_OVERLAP`].
pub fn rotate(subscription: &mut Subscription, secret: SigningSecret, now: DateTime<Utc>) {
    subscription.previous_secret = Some(std::mem::replace(&mut subscription.secret, secret));
    subscription.previous_secret_expires_at = Some(now + ROTATION_OVERLAP);
    subscription.updated_at = now;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subscription(kinds: Option<Vec<InterventionKind>>) -> Subscription {
        NewSubscription {
            url: "https://crm.example/hooks".into(),
            types: vec![crate::EVENT_TYPE.into()],
            kinds,
            mode: Mode::Batch,
            description: String::new(),
            handshake: true,
        }
        .create(SigningSecret::generate().unwrap(), Utc::now())
    }

    #[test]
    fn filters_by_type_and_kind() {
        let all = subscription(None);
        assert!(all.wants(crate::EVENT_TYPE, Some(InterventionKind::RealityCheck)));
        assert!(!all.wants("something.else", Some(InterventionKind::RealityCheck)));
        let offers = subscription(Some(vec![InterventionKind::RetentionOffer]));
        assert!(offers.wants(crate::EVENT_TYPE, Some(InterventionKind::RetentionOffer)));
        assert!(!offers.wants(crate::EVENT_TYPE, Some(InterventionKind::RealityCheck)));
    }

    #[test]
    fn a_new_url_runs_the_handshake_again_and_enabling_clears_the_reason() {
        let mut s = subscription(None);
        s.validation = Validation::Allowed;
        s.enabled = false;
        s.disabled_reason = Some("410 Gone".into());
        let now = Utc::now();
        assert!(!SubscriptionPatch { enabled: Some(true), ..Default::default() }.apply(&mut s, now));
        assert_eq!((s.enabled, &s.disabled_reason, s.validation), (true, &None, Validation::Allowed));
        assert!(
            SubscriptionPatch { url: Some("https://crm.example/v2".into()), ..Default::default() }.apply(&mut s, now)
        );
        assert_eq!(s.validation, Validation::Pending);
        assert!(SubscriptionPatch { handshake: Some(false), ..Default::default() }.apply(&mut s, now));
        assert_eq!(s.validation, Validation::Skipped);
        assert!(s.deliverable());
    }

    #[test]
    fn a_rotated_secret_signs_alongside_for_a_day() {
        let mut s = subscription(None);
        let old = s.secret.clone();
        let now = Utc::now();
        rotate(&mut s, SigningSecret::generate().unwrap(), now);
        assert_eq!(s.secrets_at(now + Duration::hours(23)).len(), 2);
        assert!(s.secrets_at(now).contains(&old));
        assert_eq!(s.secrets_at(now + Duration::hours(24)), vec![s.secret.clone()]);
    }
}
