//! Feature reads answered by the instance that folds the player: its memory
//! has an event's features as soon as it is folded, while the row it writes
//! behind the fold reaches the database up to `--projection-write-behind`
//! later, and answering from memory costs no database round trip. Every
//! other instance forwards such reads there, and answers them itself when the
//! owner cannot be asked.

use std::time::Duration;

use axum::{
    body::Body,
    http::{HeaderMap, HeaderName, StatusCode, Uri, header},
    response::Response,
};
use base64::{Engine, engine::general_purpose::STANDARD as BASE64};
use hmac::{KeyInit, Mac};
use projections::FeatureProjection;
use reqwest::Url;

/// Marks a forwarded read, naming the instance that forwarded it: the
/// instance receiving it answers it itself, whoever holds the player now.
pub const FORWARDED_BY: HeaderName = HeaderName::from_static("nudge-forwarded-by");

/// Proves a forwarded read came from an instance sharing the database: the
/// base64 HMAC-SHA256, keyed with the peers' secret, of the forwarder's id and
/// the path and query asked. Such a read was counted against the caller's
/// rate limit where it arrived first, so the owner does not count it again.
pub const FORWARDED_PROOF: HeaderName = HeaderName::from_static("nudge-forwarded-proof");

type Proof = hmac::Hmac<sha2::Sha256>;

/// Passed on with the read: the caller's key, the request id (both
/// instances' logs name the read alike) and the caller's trace context.
const PASSED_ON: [HeaderName; 4] = [
    header::AUTHORIZATION,
    HeaderName::from_static("x-request-id"),
    HeaderName::from_static("traceparent"),
    HeaderName::from_static("tracestate"),
];

/// Passed back with the answer: its type, and when a refused caller may try again.
const PASSED_BACK: [HeaderName; 2] = [header::CONTENT_TYPE, header::RETRY_AFTER];

/// How long connecting to the owner may take: a peer on the same network
/// answers in far less, and one that does not is better not waited for.
const CONNECT: Duration = Duration::from_millis(500);

/// Forwards reads to the instance folding their player.
#[derive(Debug, Clone)]
pub struct OwnerReads {
    client: reqwest::Client,
    /// Keyed with the secret the instances share (`ReadModel::peer_secret`).
    proof: Proof,
    answered: metrics::Counter,
    failed: metrics::Counter,
    from_peers: metrics::Counter,
}

impl OwnerReads {
    /// A forwarder with its own connection pool, trusting `roots` beside the
    /// public authorities, proving its reads with the peers' `secret`; never
    /// through a proxy, since the instances reach each other directly.
    pub fn new(roots: &[reqwest::Certificate], secret: &str) -> Result<Self, reqwest::Error> {
        let builder = reqwest::Client::builder().no_proxy().connect_timeout(CONNECT);
        let client = roots.iter().cloned().fold(builder, reqwest::ClientBuilder::add_root_certificate).build()?;
        let outcome =
            |outcome: &'static str| metrics::counter!("nudge_feature_reads_forwarded_total", "outcome" => outcome);
        Ok(Self {
            client,
            proof: Proof::new_from_slice(secret.as_bytes()).unwrap_or_else(|_| unreachable!("HMAC takes any key")),
            answered: outcome("answered"),
            failed: outcome("failed"),
            from_peers: metrics::counter!("nudge_feature_reads_from_peers_total"),
        })
    }

    /// Whether the request is a read another instance forwarded, proven with
    /// the peers' secret: its caller was rate-limited there. Counts it.
    pub fn from_peer(&self, headers: &HeaderMap, uri: &Uri) -> bool {
        let (Some(forwarder), Some(proof)) = (headers.get(FORWARDED_BY), headers.get(FORWARDED_PROOF)) else {
            return false;
        };
        let Ok(proof) = BASE64.decode(proof.as_bytes()) else { return false };
        let asked = uri.path_and_query().map_or(uri.path(), |p| p.as_str());
        let proven = self.signed(forwarder.as_bytes(), asked).verify_slice(&proof).is_ok();
        if proven {
            self.from_peers.increment(1);
        }
        proven
    }

    /// The `nudge-forwarded-proof` of a read `forwarder` forwards, asking `asked` (path and query).
    fn proof_of(&self, forwarder: &str, asked: &str) -> String {
        BASE64.encode(self.signed(forwarder.as_bytes(), asked).finalize().into_bytes())
    }

    /// The proof's MAC over what a forwarded read names: who forwarded it, and what it asks.
    fn signed(&self, forwarder: &[u8], asked: &str) -> Proof {
        let mut mac = self.proof.clone();
        mac.update(forwarder);
        mac.update(b"\n");
        mac.update(asked.as_bytes());
        mac
    }

    /// The owner's answer to the features of `player` (as of `min_position`,
    /// if given), relayed as it came; `None` when this instance answers the read itself:
    /// it folds the player, the read was forwarded to it, no other instance
    /// holds the player and said where it listens, or the owner could not be
    /// asked or failed (a 5xx) within `patience`.
    pub async fn features(
        &self,
        projection: &FeatureProjection,
        player: &str,
        min_position: Option<u64>,
        headers: &HeaderMap,
        patience: Duration,
    ) -> Option<Response> {
        if headers.contains_key(FORWARDED_BY) {
            return None;
        }
        let address = match projection.owner_address(player).await {
            Ok(address) => address?,
            Err(error) => {
                tracing::warn!(%error, "cannot look up the instance holding the player; answering here");
                self.failed.increment(1);
                return None;
            }
        };
        let Some(url) = features_url(&address, player, min_position) else {
            tracing::warn!(%address, "the instance holding the player registered an address that is no http URL");
            self.failed.increment(1);
            return None;
        };
        let asked = url.query().map_or_else(|| url.path().to_owned(), |query| format!("{}?{query}", url.path()));
        let proof = self.proof_of(projection.instance(), &asked);
        let mut request = self
            .client
            .get(url)
            .timeout(patience)
            .header(FORWARDED_BY, projection.instance())
            .header(FORWARDED_PROOF, proof);
        for name in PASSED_ON {
            if let Some(value) = headers.get(&name) {
                request = request.header(name, value);
            }
        }
        match relay(request.send().await).await {
            Ok(response) => {
                self.answered.increment(1);
                Some(response)
            }
            Err(error) => {
                tracing::warn!(%address, %error, "the instance holding the player did not answer; answering here");
                projection.owner_unreachable(&address);
                self.failed.increment(1);
                None
            }
        }
    }
}

/// Why a forwarded read is answered here after all.
#[derive(Debug, thiserror::Error)]
enum RelayError {
    #[error(transparent)]
    Request(#[from] reqwest::Error),
    #[error("it answered {0}")]
    Failed(StatusCode),
    #[error("its answer cannot be passed on: {0}")]
    Response(#[from] axum::http::Error),
}

/// The owner's answer as this instance's, unless it failed.
async fn relay(sent: Result<reqwest::Response, reqwest::Error>) -> Result<Response, RelayError> {
    let answer = sent?;
    let status = answer.status();
    if status.is_server_error() {
        return Err(RelayError::Failed(status));
    }
    let mut response = Response::builder().status(status);
    for name in PASSED_BACK {
        if let Some(value) = answer.headers().get(&name) {
            response = response.header(name, value);
        }
    }
    Ok(response.body(Body::from(answer.bytes().await?))?)
}

/// `GET {address}/v1/players/{player}/features[?min_position=…]`, with the
/// player's id as one path segment; `None` for an address that is no http URL.
fn features_url(address: &str, player: &str, min_position: Option<u64>) -> Option<Url> {
    let mut url = Url::parse(address).ok().filter(|url| matches!(url.scheme(), "http" | "https"))?;
    url.path_segments_mut().ok()?.clear().extend(["v1", "players", player, "features"]);
    url.set_query(None);
    if let Some(position) = min_position {
        url.query_pairs_mut().append_pair("min_position", &position.to_string());
    }
    Some(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_read_goes_to_the_owners_features_with_the_player_as_one_segment() {
        let url = features_url("http://10.0.0.7:8080", "ann/b c", Some(42)).map(String::from);
        assert_eq!(url.as_deref(), Some("http://10.0.0.7:8080/v1/players/ann%2Fb%20c/features?min_position=42"));
        let url = features_url("https://nudge-1.nudge:8443/", "bob", None).map(String::from);
        assert_eq!(url.as_deref(), Some("https://nudge-1.nudge:8443/v1/players/bob/features"));
    }

    #[test]
    fn a_read_is_from_a_peer_only_with_a_proof_made_with_the_peers_secret_for_its_forwarder_and_path() {
        let reads = OwnerReads::new(&[], "the peers' secret").unwrap();
        let asked = "/v1/players/bob/features?min_position=7";
        let uri: Uri = asked.parse().unwrap();
        let headers = |forwarder: &str, proof: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(FORWARDED_BY, forwarder.parse().unwrap());
            headers.insert(FORWARDED_PROOF, proof.parse().unwrap());
            headers
        };
        let proof = reads.proof_of("instance-a", asked);
        assert!(reads.from_peer(&headers("instance-a", &proof), &uri));

        assert!(!reads.from_peer(&headers("instance-b", &proof), &uri), "another forwarder");
        let other: Uri = "/v1/players/bob/features?min_position=8".parse().unwrap();
        assert!(!reads.from_peer(&headers("instance-a", &proof), &other), "another path");
        let stranger = OwnerReads::new(&[], "a guess").unwrap().proof_of("instance-a", asked);
        assert!(!reads.from_peer(&headers("instance-a", &stranger), &uri), "another secret");
        assert!(!reads.from_peer(&headers("instance-a", "not base64!"), &uri));
        let mut unproven = headers("instance-a", &proof);
        unproven.remove(FORWARDED_PROOF);
        assert!(!reads.from_peer(&unproven, &uri));
    }

    #[test]
    fn an_address_that_is_no_http_url_is_not_asked() {
        for address in ["127.0.0.1:8080", "", "ftp://host/", "unix:/run/nudge.sock"] {
            assert_eq!(features_url(address, "bob", Some(7)), None, "{address}");
        }
    }
}
