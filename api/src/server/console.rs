//! The operator console: one page and its scripts, embedded in the binary and
//! served under a strict Content-Security-Policy. The page calls the REST API
//! with the key the person enters; serving it needs no key.

use axum::{
    extract::Path,
    http::{HeaderName, HeaderValue, StatusCode, header},
    response::{IntoResponse, Redirect, Response},
};

use crate::server::problem::ApiError;

/// The console's policy: its own scripts, styles and API, nothing inline, nothing from elsewhere.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; \
     frame-ancestors 'none'";

/// One embedded file of the console.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

/// Every file the page loads, by the name it is served under (`/console/{name}`).
const ASSETS: &[Asset] = &[
    Asset { name: "app.js", content_type: JS, body: include_bytes!("../../console/app.js") },
    Asset { name: "api.js", content_type: JS, body: include_bytes!("../../console/api.js") },
    Asset { name: "charts.js", content_type: JS, body: include_bytes!("../../console/charts.js") },
    Asset { name: "dom.js", content_type: JS, body: include_bytes!("../../console/dom.js") },
    Asset { name: "metrics.js", content_type: JS, body: include_bytes!("../../console/metrics.js") },
    Asset { name: "overview.js", content_type: JS, body: include_bytes!("../../console/overview.js") },
    Asset { name: "player.js", content_type: JS, body: include_bytes!("../../console/player.js") },
    Asset { name: "feed.js", content_type: JS, body: include_bytes!("../../console/feed.js") },
    Asset { name: "models.js", content_type: JS, body: include_bytes!("../../console/models.js") },
    Asset { name: "webhooks.js", content_type: JS, body: include_bytes!("../../console/webhooks.js") },
    Asset { name: "console.css", content_type: CSS, body: include_bytes!("../../console/console.css") },
    Asset { name: "uPlot.esm.js", content_type: JS, body: include_bytes!("../../console/vendor/uPlot.esm.js") },
    Asset { name: "uPlot.min.css", content_type: CSS, body: include_bytes!("../../console/vendor/uPlot.min.css") },
];

const PAGE: &[u8] = include_bytes!("../../console/index.html");

/// Sends `/console` to the page.
#[utoipa::path(
    get,
    path = "/console",
    operation_id = "redirectToConsole",
    tag = "operations",
    responses((status = 303, description = "To `/console/`")),
)]
pub async fn redirect() -> Redirect {
    Redirect::to("/console/")
}

/// The operator console: a page that calls this API with the key entered in it.
#[utoipa::path(
    get,
    path = "/console/",
    operation_id = "getConsolePage",
    tag = "operations",
    responses((status = 200, description = "The console's page, served offline", content_type = "text/html",
               body = String)),
)]
pub async fn page() -> Response {
    served("text/html; charset=utf-8", PAGE)
}

/// A script or style sheet of the console.
#[utoipa::path(
    get,
    path = "/console/{asset}",
    operation_id = "getConsoleAsset",
    tag = "operations",
    params(("asset" = String, Path, description = "The file's name, as the page names it")),
    responses(
        (status = 200, description = "The script or style sheet",
         content((String = "text/javascript"), (String = "text/css"))),
        (status = 404, description = "No such asset"),
    ),
)]
pub async fn asset(Path(name): Path<String>) -> Result<Response, ApiError> {
    ASSETS
        .iter()
        .find(|asset| asset.name == name)
        .map(|asset| served(asset.content_type, asset.body))
        .ok_or_else(|| ApiError::NotFound(format!("the console has no asset {name}")))
}

/// The file with the console's security headers; revalidated on each load, as
/// the assets change with the binary.
fn served(content_type: &'static str, body: &'static [u8]) -> Response {
    let headers = [
        (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
        (header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY)),
        (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
        (header::REFERRER_POLICY, HeaderValue::from_static("no-referrer")),
        (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        (HeaderName::from_static("cross-origin-opener-policy"), HeaderValue::from_static("same-origin")),
    ];
    (StatusCode::OK, headers, body).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_module_the_scripts_import_is_served() {
        let scripts = ASSETS.iter().filter(|a| a.content_type == JS).chain([&Asset {
            name: "index.html",
            content_type: "text/html",
            body: PAGE,
        }]);
        for script in scripts {
            let text = String::from_utf8_lossy(script.body);
            for imported in text.split(['"', '\'']).filter(|s| s.starts_with("./")) {
                let name = imported.trim_start_matches("./");
                assert!(ASSETS.iter().any(|a| a.name == name), "{} names {imported}, which is not served", script.name);
            }
        }
    }

    #[test]
    fn the_page_has_no_inline_script_and_loads_nothing_from_elsewhere() {
        let html = String::from_utf8_lossy(PAGE);
        for tag in html.split("<script").skip(1) {
            assert!(tag.contains("src=\"./"), "an inline or foreign script: <script{tag}");
        }
        assert!(!html.contains(" style="), "an inline style attribute, which the policy refuses");
        for asset in ASSETS.iter().filter(|a| !a.name.starts_with("uPlot")) {
            let text = String::from_utf8_lossy(asset.body);
            assert!(!text.contains("://"), "{} names another origin", asset.name);
        }
    }
}
