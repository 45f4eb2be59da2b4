"""The Python client generated from openapi.json, against a live nudge: ingest
a batch, read the player's features, list recommendations, create a webhook.

Usage: client_test.py BASE_URL API_KEY (the package `nudge_client` importable).
"""

import datetime
import sys

from nudge_client import AuthenticatedClient
from nudge_client.api.players import get_player_features
from nudge_client.api.recommendations import list_recommendations
from nudge_client.api.webhooks import create_webhook
from nudge_client.models import (
    IngestResponse,
    NewWebhook,
    NewWebhookTypesItem,
    PlayerFeaturesView,
    RecommendationPage,
    WithSecret,
)

PLAYER = "client-42"


def main(url: str, key: str) -> None:
    client = AuthenticatedClient(base_url=url, token=key, raise_on_unexpected_status=True)
    start = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0) - datetime.timedelta(minutes=10)

    def event(event_type, number, data):
        time = (start + datetime.timedelta(seconds=number)).isoformat().replace("+00:00", "Z")
        return {"specversion": "1.0", "id": f"client-{number}", "source": "/ci/client",
                "type": event_type, "subject": PLAYER, "time": time, "data": data}

    batch = [
        event("player.session.started", 0, {"channel": "web"}),
        event("player.bet.placed", 1, {"bet_id": "b-1", "game_id": "starburst", "stake": 250, "currency": "EUR"}),
        event("player.bet.placed", 2, {"bet_id": "b-2", "game_id": "starburst", "stake": 500, "currency": "EUR"}),
    ]
    # openapi-python-client 0.29 writes broken code for a body offered in two
    # content types (POST /v1/events takes one event or a batch), and models no
    # recursive schema (an event's `data` keeps any JSON, `JsonValue`): the batch
    # goes as JSON through the generated client's own connection, and its answer
    # is read with the generated model.
    answer = client.get_httpx_client().post(
        "/v1/events",
        json=batch,
        headers={"content-type": "application/cloudevents-batch+json"},
    )
    assert answer.status_code == 202, (answer.status_code, answer.text)
    ingested = IngestResponse.from_dict(answer.json())
    assert [r.stream for r in ingested.results] == [f"player-{PLAYER}"] * 3, ingested
    last = max(r.position for r in ingested.results)

    features = get_player_features.sync(client=client, player_id=PLAYER, min_position=last)
    assert isinstance(features, PlayerFeaturesView), features
    assert (features.player_id, features.position, features.revision) == (PLAYER, last, 2), features
    print(f"client: features of {PLAYER} at position {features.position}: {features.features.to_dict()}")

    page = list_recommendations.sync(client=client, limit=10)
    assert isinstance(page, RecommendationPage), page
    print(f"client: {len(page.recommendations)} recommendation(s) in the feed's first page")

    hook = create_webhook.sync(client=client, body=NewWebhook(
        url="http://127.0.0.1:9/nudge", types=[NewWebhookTypesItem.NUDGE_INTERVENTION_RECOMMENDED], handshake=False))
    assert isinstance(hook, WithSecret), hook
    assert hook.secret.startswith("whsec_"), hook
    print(f"client: webhook {hook.id} created for {hook.url}")


if __name__ == "__main__":
    main(*sys.argv[1:])
