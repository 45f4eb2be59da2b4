//! clap value parsers for `nudge serve`'s flags that are not numbers or
//! durations: each refuses, with an example, what the service could not use.

use std::net::SocketAddr;

use axum::http::HeaderValue;
use chrono::{DateTime, NaiveDate, NaiveTime, Utc};

/// An address to listen on: an IP address and a port.
pub(crate) fn listen_address(raw: &str) -> Result<SocketAddr, String> {
    raw.trim().parse().map_err(|_| {
        format!("`{raw}` is not an IP address and port: write one such as 127.0.0.1:8080, 0.0.0.0:8080 or [::]:8080")
    })
}

/// Where other instances reach this one: an `http` or `https` URL naming a
/// host (not every interface) and no path, written without the trailing `/`.
pub(crate) fn advertise_url(raw: &str) -> Result<String, String> {
    let refused = || format!("`{raw}` is no URL other instances can reach: write one such as http://10.0.0.7:8080");
    let url = reqwest::Url::parse(raw.trim()).map_err(|_| refused())?;
    let host = url.host_str().unwrap_or_default().trim_start_matches('[').trim_end_matches(']');
    let unspecified = host.is_empty() || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_unspecified());
    let bare = url.path() == "/" && url.query().is_none() && url.fragment().is_none() && url.username().is_empty();
    if !matches!(url.scheme(), "http" | "https") || unspecified || !bare || url.password().is_some() {
        return Err(refused());
    }
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

/// Certificate authorities trusted for other instances' `https` addresses,
/// beside the public ones: read from a PEM file at start-up.
#[derive(Debug, Clone)]
pub struct PeerRoots(pub Vec<reqwest::Certificate>);

/// A PEM file of one or more certificates (`-----BEGIN CERTIFICATE-----`).
pub(crate) fn peer_roots(raw: &str) -> Result<PeerRoots, String> {
    let pem = std::fs::read(raw).map_err(|e| format!("cannot read `{raw}`: {e}"))?;
    let roots = reqwest::Certificate::from_pem_bundle(&pem)
        .map_err(|e| format!("`{raw}` is not a PEM file of certificates: {e}"))?;
    if roots.is_empty() {
        return Err(format!("`{raw}` holds no certificate: write the CA's as PEM (-----BEGIN CERTIFICATE-----)"));
    }
    Ok(PeerRoots(roots))
}

/// A time as RFC 3339, read as events' times are, or a date (`YYYY-MM-DD`,
/// every digit written) as its midnight UTC.
pub(crate) fn time(raw: &str) -> Result<DateTime<Utc>, String> {
    let date = || {
        (raw.len() == 10)
            .then(|| NaiveDate::parse_from_str(raw, "%Y-%m-%d").ok())
            .flatten()
            .map(|d| d.and_time(NaiveTime::MIN).and_utc())
    };
    domain::parse_timestamp(raw)
        .or_else(date)
        .ok_or_else(|| format!("`{raw}` is neither an RFC 3339 time nor a date (YYYY-MM-DD)"))
}

/// An origin (`scheme://host[:port]`) written as browsers send it in `Origin`
/// (lower case, no default port), or `*`.
pub(crate) fn origin(raw: &str) -> Result<HeaderValue, String> {
    let raw = raw.trim();
    if raw == "*" {
        return Ok(HeaderValue::from_static("*"));
    }
    let refused =
        || format!("`{raw}` is not an origin: write scheme://host[:port], e.g. https://ops.example.com, or *");
    let url = reqwest::Url::parse(raw).map_err(|_| refused())?;
    let bare = matches!(url.scheme(), "http" | "https")
        && url.host_str().is_some_and(|host| !host.contains('*'))
        && url.username().is_empty()
        && url.password().is_none()
        && url.path() == "/"
        && !raw.ends_with('/')
        && url.query().is_none()
        && url.fragment().is_none();
    if !bare {
        return Err(refused());
    }
    HeaderValue::from_str(&url.origin().ascii_serialization()).map_err(|e| format!("`{raw}`: {e}"))
}

/// An app API token long enough not to be guessed, that a header can carry:
/// at least 16 visible ASCII characters, no spaces.
pub(crate) fn dapr_token(raw: &str) -> Result<(), String> {
    if !raw.bytes().all(|b| b.is_ascii_graphic()) {
        return Err("use visible ASCII characters only (no spaces): a header carries the token".to_owned());
    }
    if raw.len() < 16 {
        return Err("use a token of at least 16 characters".to_owned());
    }
    Ok(())
}

/// A pub/sub component or topic name: not empty, no spaces or control characters.
pub(crate) fn dapr_name(raw: &str) -> Result<String, String> {
    let fits = !raw.is_empty() && raw.len() <= 256 && !raw.chars().any(|c| c.is_whitespace() || c.is_control());
    if fits { Ok(raw.to_owned()) } else { Err("1 to 256 characters, no spaces".to_owned()) }
}

/// A name sent in a header (the webhooks' `WebHook-Request-Origin`): 1 to
/// 255 visible ASCII characters, such as a host name.
pub(crate) fn header_name(raw: &str) -> Result<String, String> {
    let fits = (1..=255).contains(&raw.len()) && raw.bytes().all(|b| b.is_ascii_graphic());
    if fits {
        Ok(raw.to_owned())
    } else {
        Err("1 to 255 visible ASCII characters, such as nudge.example.com".to_owned())
    }
}

/// An `http` or `https` URL with a host (an OTLP collector, a nudge to post to).
pub(crate) fn http_url(raw: &str) -> Result<reqwest::Url, String> {
    let url = reqwest::Url::parse(raw.trim()).map_err(|e| format!("`{raw}` is not a URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(format!("`{raw}`: write an http:// or https:// URL with a host, e.g. http://127.0.0.1:8080"));
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_scheme_host_and_port_as_browsers_send_them_or_any() {
        for (written, sent) in [
            ("https://ops.example.com", "https://ops.example.com"),
            ("http://127.0.0.1:3000", "http://127.0.0.1:3000"),
            ("HTTPS://OPS.Example.COM", "https://ops.example.com"),
            ("https://ops.example.com:443", "https://ops.example.com"),
            ("*", "*"),
        ] {
            assert_eq!(origin(written).map(|v| v.to_str().map(str::to_owned).ok()), Ok(Some(sent.to_owned())));
        }
        for not_origin in [
            "ops.example.com",
            "https://ops.example.com/",
            "https://ops.example.com/app",
            "https://ops.example.com#top",
            "https://*.example.com",
            "https://user@ops.example.com",
            "ftp://x.org",
            "",
        ] {
            assert!(origin(not_origin).is_err(), "{not_origin}");
        }
    }

    #[test]
    fn a_dapr_token_is_sixteen_visible_ascii_characters_or_more() {
        assert!(dapr_token("0123456789abcdef").is_ok());
        for refused in ["0123456789abcde", "                ", "0123456789abcde\n", "ééééééééé", "0123456789 abcdef"]
        {
            assert!(dapr_token(refused).is_err(), "{refused:?}");
        }
    }

    #[test]
    fn a_header_name_is_visible_ascii() {
        assert!(header_name("nudge.example.com").is_ok());
        for refused in ["", "two words", "é"] {
            assert!(header_name(refused).is_err(), "{refused:?}");
        }
    }

    #[test]
    fn an_http_url_has_its_scheme_and_a_host() {
        assert!(http_url("http://otel-collector:4318").is_ok());
        for refused in ["ftp://127.0.0.1:1", "otel-collector:4318", "unix:/tmp/otel.sock"] {
            assert!(http_url(refused).is_err(), "{refused}");
        }
    }

    #[test]
    fn an_advertised_url_names_a_host_others_can_reach() {
        assert_eq!(advertise_url("http://10.0.0.7:8080/"), Ok("http://10.0.0.7:8080".to_owned()));
        assert_eq!(advertise_url("https://nudge-1.nudge"), Ok("https://nudge-1.nudge".to_owned()));
        for refused in ["10.0.0.7:8080", "http://0.0.0.0:8080", "http://[::]:8080", "ftp://host", "http://host/api"] {
            assert!(advertise_url(refused).is_err_and(|e| e.contains("http://10.0.0.7:8080")), "{refused}");
        }
        assert!(advertise_url("http://user:secret@host").is_err(), "credentials");
    }

    #[test]
    fn a_listen_address_says_how_to_write_one() {
        assert_eq!(listen_address("127.0.0.1:8080"), Ok(SocketAddr::from(([127, 0, 0, 1], 8080))));
        for refused in ["localhost:8080", "127.0.0.1", ":8080"] {
            assert!(listen_address(refused).is_err_and(|e| e.contains("127.0.0.1:8080")), "{refused}");
        }
    }

    #[test]
    fn peer_roots_are_every_certificate_of_a_pem_file_and_nothing_else() {
        let file = |name: &str, text: &str| {
            let path = std::env::temp_dir().join(format!("nudge-{name}-{}.pem", uuid::Uuid::new_v4()));
            std::fs::write(&path, text).unwrap();
            path.to_str().unwrap().to_owned()
        };
        let key = rcgen::KeyPair::generate().unwrap();
        let ca = rcgen::CertificateParams::new(vec!["ca.example".to_owned()]).unwrap().self_signed(&key).unwrap();
        let two = file("two", &format!("{}{}", ca.pem(), ca.pem()));
        assert_eq!(peer_roots(&two).map(|roots| roots.0.len()), Ok(2));
        let none = file("none", "no certificate here\n");
        assert!(peer_roots(&none).is_err_and(|e| e.contains("holds no certificate")), "{:?}", peer_roots(&none));
        let missing = std::env::temp_dir().join("nudge-no-such-ca.pem");
        assert!(peer_roots(missing.to_str().unwrap()).is_err_and(|e| e.starts_with("cannot read")));
        for path in [two, none] {
            std::fs::remove_file(path).unwrap();
        }
    }
}
