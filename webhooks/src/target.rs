//! Where a subscription may deliver: an `http` or `https` URL whose host does not
//! resolve to a loopback, private, link-local or unspecified address, unless
//! private targets are allowed (`--allow-private-webhooks`).

use std::net::IpAddr;

use url::Url;

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
    /// The host resolves to an address nudge does not deliver to by default.
    #[error("the host resolves to {0}, a loopback, private, link-local or unspecified address")]
    Private(IpAddr),
}

/// Whether nudge refuses to deliver to `ip` unless private targets are allowed.
pub fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                // Shared address space (carrier-grade NAT), 100.64.0.0/10.
                || (v4.octets()[0] == 100 && (v4.octets()[1] & 0xC0) == 64)
        }
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_private(IpAddr::V4(v4)),
            None => v6.is_loopback() || v6.is_unspecified() || v6.is_unique_local() || v6.is_unicast_link_local(),
        },
    }
}

/// Checks a subscription URL, resolving its host: every address it resolves to
/// must be public unless `allow_private`.
pub async fn check_target(url: &str, allow_private: bool) -> Result<Url, TargetError> {
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
    if !allow_private && let Some(private) = addresses.into_iter().find(|ip| is_private(*ip)) {
        return Err(TargetError::Private(private));
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_addresses_are_told_apart_from_public_ones() {
        let private = [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.0.1",
            "0.0.0.0",
            "100.64.0.1",
            "::1",
            "::",
            "fd00::1",
            "fe80::1",
            "::ffff:10.0.0.1",
        ];
        let public = ["93.184.216.34", "8.8.8.8", "100.128.0.1", "2001:db8::1", "::ffff:93.184.216.34"];
        for ip in private {
            assert!(is_private(ip.parse().unwrap()), "{ip} is private");
        }
        for ip in public {
            assert!(!is_private(ip.parse().unwrap()), "{ip} is public");
        }
    }

    #[tokio::test]
    async fn urls_are_checked_without_leaving_the_machine() {
        assert!(matches!(check_target("not a url", false).await, Err(TargetError::Url(_))));
        assert_eq!(check_target("ftp://93.184.216.34/x", false).await, Err(TargetError::Scheme));
        assert_eq!(
            check_target("http://127.0.0.1:9/hook", false).await,
            Err(TargetError::Private("127.0.0.1".parse().unwrap()))
        );
        assert!(matches!(check_target("http://[::1]:9/hook", false).await, Err(TargetError::Private(_))));
        assert_eq!(check_target("http://127.0.0.1:9/hook", true).await.map(|u| u.port()), Ok(Some(9)));
        // An address literal resolves without a lookup.
        assert!(check_target("https://93.184.216.34/hook", false).await.is_ok());
    }
}
