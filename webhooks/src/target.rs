//! Where a subscription may deliver: an `http` or `https` URL whose host does not
//! resolve to a special-purpose address (loopback, private, link-local,
//! multicast, ...: see [`SPECIAL_RANGES`](crate::SPECIAL_RANGES)), unless private
//! targets are allowed (`--allow-private-webhooks`) or the address is in an
//! allowed block (`--allow-webhook-cidrs`). Checked at subscription and at every
//! connection.

use std::net::IpAddr;

use url::Url;

use crate::{Cidr, Special, special_range};

/// Why a subscription URL was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TargetError {
    /// Not a URL.
    #[error("not a URL: {0}")]
    Url(String),
    /// Neither `http` nor `https`.
    #[error("the URL must be http or https")]
    Scheme,
    /// No host to deliver to.
    #[error("the URL has no host")]
    NoHost,
    /// The host does not resolve.
    #[error("the host does not resolve: {0}")]
    Resolve(String),
    /// The host resolves to a special-purpose address not allowed.
    #[error(
        "the host resolves to {0}, {1}; nudge delivers there only with the address in \
         --allow-webhook-cidrs, or with --allow-private-webhooks"
    )]
    Special(IpAddr, Special),
}

/// Which special-purpose addresses may be delivered to anyway.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TargetPolicy {
    /// Every one (`--allow-private-webhooks`).
    pub allow_private: bool,
    /// Those in these blocks (`--allow-webhook-cidrs`).
    pub allow_cidrs: Vec<Cidr>,
}

impl TargetPolicy {
    /// Why `ip` may not be delivered to, if it may not.
    pub fn refusal(&self, ip: IpAddr) -> Option<TargetError> {
        if self.allow_private {
            return None;
        }
        let special = special_range(ip)?;
        let allowed = |address: IpAddr| self.allow_cidrs.iter().any(|block| block.contains(address));
        let allowed = allowed(ip) || special.embedded().is_some_and(allowed);
        (!allowed).then_some(TargetError::Special(ip, special))
    }
}

/// Checks a subscription URL, resolving its host: every address it resolves to
/// must be allowed by `policy`.
pub async fn check_target(url: &str, policy: &TargetPolicy) -> Result<Url, TargetError> {
    let parsed = Url::parse(url).map_err(|e| TargetError::Url(e.to_string()))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(TargetError::Scheme);
    }
    let host = parsed.host_str().ok_or(TargetError::NoHost)?;
    let port = parsed.port_or_known_default().unwrap_or(80);
    // `lookup_host` wants an IPv6 literal without its brackets.
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let addresses: Vec<IpAddr> = tokio::net::lookup_host((host, port))
        .await
        .map_err(|e| TargetError::Resolve(e.to_string()))?
        .map(|address| address.ip())
        .collect();
    if addresses.is_empty() {
        return Err(TargetError::Resolve(format!("{host} has no address")));
    }
    match addresses.into_iter().find_map(|ip| policy.refusal(ip)) {
        Some(refused) => Err(refused),
        None => Ok(parsed),
    }
}

/// `url` fit to show and log: a password becomes `***` (and a user name with no
/// password, which is often a token, too). The stored URL keeps them for delivery.
pub fn masked_url(url: &str) -> String {
    let Ok(mut parsed) = Url::parse(url) else { return url.to_owned() };
    let masked = match (parsed.username().is_empty(), parsed.password().is_some()) {
        (_, true) => parsed.set_password(Some("***")),
        (false, false) => parsed.set_username("***"),
        (true, false) => return url.to_owned(),
    };
    match masked {
        Ok(()) => parsed.to_string(),
        Err(()) => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowing(blocks: &[&str]) -> TargetPolicy {
        TargetPolicy { allow_private: false, allow_cidrs: blocks.iter().map(|b| b.parse().unwrap()).collect() }
    }

    #[test]
    fn an_allowed_block_opens_that_block_only() {
        let policy = allowing(&["10.1.2.0/24", "fd00::/64"]);
        for open in ["10.1.2.3", "fd00::1", "::ffff:10.1.2.3", "2002:a01:203::", "93.184.216.34"] {
            assert_eq!(policy.refusal(open.parse().unwrap()), None, "{open}");
        }
        for shut in ["10.1.3.1", "169.254.169.254", "fd00:0:0:1::1", "127.0.0.1"] {
            assert!(policy.refusal(shut.parse().unwrap()).is_some(), "{shut}");
        }
        let everything = TargetPolicy { allow_private: true, allow_cidrs: Vec::new() };
        assert_eq!(everything.refusal("169.254.169.254".parse().unwrap()), None);
    }

    #[test]
    fn credentials_in_urls_are_masked_and_nothing_else() {
        assert_eq!(masked_url("https://user:pa55@crm.example/hooks?x=1"), "https://user:***@crm.example/hooks?x=1");
        assert_eq!(masked_url("https://t0ken@crm.example/"), "https://***@crm.example/");
        assert_eq!(masked_url("https://crm.example/hooks"), "https://crm.example/hooks");
        assert_eq!(masked_url("not a url"), "not a url");
    }

    #[tokio::test]
    async fn urls_are_checked_without_leaving_the_machine() {
        let (strict, open) = (TargetPolicy::default(), TargetPolicy { allow_private: true, allow_cidrs: Vec::new() });
        assert!(matches!(check_target("not a url", &strict).await, Err(TargetError::Url(_))));
        assert_eq!(check_target("ftp://93.184.216.34/x", &strict).await, Err(TargetError::Scheme));
        let refused = check_target("http://127.0.0.1:9/hook", &strict).await.map_err(|e| e.to_string());
        assert_eq!(
            refused,
            Err("the host resolves to 127.0.0.1, in 127.0.0.0/8 (loopback); nudge delivers there only with the \
                 address in --allow-webhook-cidrs, or with --allow-private-webhooks"
                .to_owned())
        );
        assert!(matches!(check_target("http://[::1]:9/hook", &strict).await, Err(TargetError::Special(..))));
        assert_eq!(check_target("http://127.0.0.1:9/hook", &open).await.map(|u| u.port()), Ok(Some(9)));
        assert!(check_target("http://127.0.0.1:9/hook", &allowing(&["127.0.0.1"])).await.is_ok());
        // An address literal resolves without a lookup.
        assert!(check_target("https://93.184.216.34/hook", &strict).await.is_ok());
    }
}
