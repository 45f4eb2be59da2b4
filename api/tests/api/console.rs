//! The operator console: its page and assets served offline under a strict
//! policy, and the reads the console makes that the rest of the API does not.

use serde_json::{Value, json};

use crate::{
    helpers::{TestApp, problem},
    receiver::Receiver,
    webhooks::{long_session, post_projected, recommendations, subscribe},
};

#[tokio::test]
async fn the_console_is_served_offline_under_a_strict_policy() {
    let app = TestApp::sqlite().await;
    let redirect = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(format!("{}/console", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!((redirect.status().as_u16(), redirect.headers()["location"].to_str().unwrap()), (303, "/console/"));
    let page = app.get("/console/").await;
    assert_eq!(page.status(), 200);
    let policy = page.headers()["content-security-policy"].to_str().unwrap().to_owned();
    for directive in ["default-src 'self'", "script-src 'self'", "connect-src 'self'", "frame-ancestors 'none'"] {
        assert!(policy.contains(directive), "{policy}");
    }
    assert!(!policy.contains("unsafe"), "{policy}");
    let html = page.text().await.unwrap();
    let assets: Vec<&str> = html.split('"').filter(|s| s.ends_with(".js") || s.ends_with(".css")).collect();
    assert!(assets.len() >= 3, "{html}");
    let mut scripts = Vec::new();
    for asset in assets {
        assert!(asset.starts_with("./"), "the page loads {asset} from elsewhere");
        let response = app.get(&format!("/console/{}", &asset[2..])).await;
        assert_eq!(response.status(), 200, "{asset}");
        assert!(response.headers().contains_key("content-security-policy"), "{asset}");
        if asset.ends_with(".js") {
            assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/javascript"));
            scripts.push(response.text().await.unwrap());
        }
    }
    // The modules the entry point imports load too, and the charting library with them.
    let imported: Vec<String> = scripts[0]
        .split('"')
        .filter(|s| s.starts_with("./") && s.ends_with(".js"))
        .map(|s| s[2..].to_owned())
        .collect();
    assert!(imported.len() >= 5, "{imported:?}");
    for module in imported.iter().map(String::as_str).chain(["uPlot.esm.js"]) {
        assert_eq!(app.get(&format!("/console/{module}")).await.status(), 200, "{module}");
    }
    problem(app.get("/console/nothing.js").await, 404).await;
}

#[tokio::test]
async fn the_feed_reads_newest_first_a_page_at_a_time() {
    let app = TestApp::sqlite().await;
    for (day, player) in ["first", "second", "third"].into_iter().enumerate() {
        post_projected(&app, long_session(player, day as i64, 3)).await;
    }
    let players = |page: &Value| -> Vec<String> {
        page["recommendations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["player_id"].as_str().unwrap().to_owned())
            .collect()
    };
    let oldest: Value = app.get("/v1/recommendations").await.json().await.unwrap();
    assert_eq!(players(&oldest), ["first", "second", "third"]);

    let newest: Value = app.get("/v1/recommendations?order=desc&limit=2").await.json().await.unwrap();
    assert_eq!(players(&newest), ["third", "second"]);
    let before = newest["next"].as_u64().unwrap();
    assert_eq!(before, newest["recommendations"][1]["triggered_by"]["position"]);
    let older: Value =
        app.get(&format!("/v1/recommendations?order=desc&limit=2&before={before}")).await.json().await.unwrap();
    assert_eq!((players(&older), &older["next"]), (vec!["first".to_owned()], &Value::Null));
    let mine: Value = app.get("/v1/players/second/recommendations?order=desc").await.json().await.unwrap();
    assert_eq!(players(&mine), ["second"]);
    let kind: Value = app.get("/v1/recommendations?order=desc&kind=retention_offer").await.json().await.unwrap();
    assert_eq!(kind, json!({"recommendations": [], "next": null}));

    let below: Value = app.get(&format!("/v1/recommendations?before={before}")).await.json().await.unwrap();
    assert_eq!(players(&below), ["first"], "oldest first below `before`");
    problem(app.get("/v1/recommendations?order=sideways").await, 400).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recommendations_deliveries_are_read_through_its_player() {
    let receiver = Receiver::start().await;
    let app = TestApp::sqlite().await;
    let (webhook, _) = subscribe(&app, &receiver, json!({"handshake": false})).await;
    post_projected(&app, long_session("watched", 0, 3)).await;
    let made = recommendations(&app).await;
    assert_eq!(made.len(), 1, "{made:?}");
    let id = made.keys().next().unwrap().clone();
    receiver.wait_until("the recommendation", |_| receiver.taken().contains(&id)).await;
    // The receiver has the request before nudge has settled the delivery: wait for that too.
    let mut of_player = Value::Null;
    for _ in 0..200 {
        of_player = app.get("/v1/players/watched/deliveries").await.json().await.unwrap();
        if of_player["deliveries"][0]["status"] == "delivered" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert_eq!(of_player["deliveries"][0]["status"], "delivered", "{of_player}");
    let of_recommendation: Value =
        app.get(&format!("/v1/players/watched/deliveries?recommendation_id={id}")).await.json().await.unwrap();
    assert_eq!(of_player, of_recommendation);
    let delivery = &of_player["deliveries"][0];
    assert_eq!((&delivery["event_id"], &delivery["subscription_id"]), (&json!(id), &json!(webhook)));
    let none = app.get("/v1/players/watched/deliveries?recommendation_id=0190a0b0-0000-7000-8000-000000000000").await;
    assert_eq!(none.json::<Value>().await.unwrap(), json!({"deliveries": []}));
    let other: Value = app.get("/v1/players/nobody/deliveries").await.json().await.unwrap();
    assert_eq!(other, json!({"deliveries": []}));
    problem(app.get("/v1/players/watched/deliveries?recommendation_id=last").await, 400).await;
}

#[tokio::test]
async fn a_players_features_over_time_come_from_one_replay() {
    let app = TestApp::sqlite().await;
    post_projected(&app, long_session("charted", 0, 3)).await;
    let history: Value =
        app.get("/v1/players/charted/features/history?points=4&names=bet_count,net_loss").await.json().await.unwrap();
    assert_eq!(history["events"], 10, "{history}");
    let points = history["points"].as_array().unwrap();
    assert!((2..=4).contains(&points.len()), "{history}");
    let revisions: Vec<u64> = points.iter().map(|p| p["revision"].as_u64().unwrap()).collect();
    assert!(revisions.windows(2).all(|w| w[0] < w[1]), "{revisions:?}");
    assert_eq!((revisions[0], revisions[revisions.len() - 1]), (0, 9));
    assert_eq!(points[0]["features"], json!({"bet_count": 0, "net_loss": 0}));
    assert_eq!(points[points.len() - 1]["features"], json!({"bet_count": 9, "net_loss": 900}));
    let now: Value = app.get("/v1/players/charted/features").await.json().await.unwrap();
    assert_eq!(points[points.len() - 1]["features"]["bet_count"], now["features"]["bet_count"]);

    let default: Value = app.get("/v1/players/charted/features/history").await.json().await.unwrap();
    assert_eq!(default["points"].as_array().unwrap().len(), 10);
    problem(app.get("/v1/players/charted/features/history?names=luck").await, 400).await;
    let spaced = problem(app.get("/v1/players/charted/features/history?names=net_loss,%20bet_count").await, 400).await;
    assert_eq!(spaced["errors"][0]["parameter"], "names", "{spaced}");
    let defaults: Value = app.get("/v1/players/charted/features/history?names=").await.json().await.unwrap();
    assert!(defaults["points"][0]["features"].get("net_loss").is_some(), "{defaults}");
    problem(app.get("/v1/players/charted/features/history?points=1").await, 400).await;
    problem(app.get("/v1/players/nobody/features/history").await, 404).await;
}
