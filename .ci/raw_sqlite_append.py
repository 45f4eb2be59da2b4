#!/usr/bin/env python3
"""What the storage under nudge's SQLite event store can take: the rows
`nudge bench ingest` sends (bets of 10,000 players, the whole CloudEvent as the
payload), appended by Python's sqlite3 straight into a table of the event
store's schema (WAL, synchronous=FULL, unique (stream, revision) and
(source, id)), N rows a transaction, one writer, no HTTP, no projection.
BENCHMARKS.md compares nudge's ingest with it, run by run on the same machine:

    python3 .ci/raw_sqlite_append.py --events 200000 --rows-per-transaction 1000
"""

import argparse
import json
import os
import sqlite3
import tempfile
import time
import uuid
from datetime import datetime, timezone

# The event store's own schema, from its migration.
SCHEMA = os.path.join(os.path.dirname(__file__), "..", "store", "migrations", "sqlite", "20261124000001_event_store.sql")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--players", type=int, default=10_000)
    parser.add_argument("--rows-per-transaction", type=int, default=1_000)
    args = parser.parse_args()

    source = f"/bench/{uuid.uuid4().hex}"
    at = datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    revisions: dict[str, int] = {}
    rows = []
    for i in range(args.events):
        subject = f"bench-{i % args.players}"
        event = {
            "specversion": "1.0", "id": str(i), "source": source, "type": "player.bet.placed",
            "subject": subject, "time": at, "datacontenttype": "application/json",
            "data": {"bet_id": f"b{i}", "game_id": "starburst", "stake": 100 + i % 400, "currency": "EUR"},
        }
        stream = f"player-{subject}"
        revision = revisions.get(stream, -1) + 1
        revisions[stream] = revision
        rows.append((i + 1, stream, revision, str(uuid.uuid5(uuid.NAMESPACE_URL, source + str(i))), source, str(i),
                     event["type"], at, json.dumps(event)))

    with tempfile.TemporaryDirectory() as folder:
        db = sqlite3.connect(os.path.join(folder, "raw.db"), isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        with open(SCHEMA, encoding="utf-8") as schema:
            db.executescript(schema.read())
        start = time.perf_counter()
        for first in range(0, len(rows), args.rows_per_transaction):
            chunk = rows[first:first + args.rows_per_transaction]
            db.execute("BEGIN IMMEDIATE")
            db.executemany(
                "INSERT INTO events (position, stream, revision, event_id, source, id, event_type, time, payload) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", chunk)
            db.execute("UPDATE event_store_head SET position = ?", (chunk[-1][0],))
            db.execute("COMMIT")
        elapsed = time.perf_counter() - start
        db.close()
    print(f"raw sqlite append: {args.events} rows in {elapsed:.2f} s: {args.events / elapsed:.0f} rows/s "
          f"({args.rows_per_transaction} rows a transaction, SQLite {sqlite3.sqlite_version})")


if __name__ == "__main__":
    main()
