"""Drives the OpenSearch emulator with opensearch-py (the project's official Python client):
the repository, snapshot, restore and recovery calls an operator makes, through the client's
own snapshot, indices, cat and cluster APIs. Prints one JSON object of what it saw."""

import json
import os
import sys
import time

from opensearchpy import OpenSearch, NotFoundError, TransportError

client = OpenSearch(
    hosts=[os.environ["OPENSEARCH_URL"]],
    http_auth=(os.environ["OPENSEARCH_USER"], os.environ["OPENSEARCH_PASSWORD"]),
    use_ssl=False,
)
seen = {}
seen["version"] = client.info()["version"]["number"]
client.indices.create(index="logs-2024.06.01")
seen["registered"] = client.snapshot.create_repository(
    repository="nightly",
    body={"type": "fs", "settings": {"location": "/tmp/opensearch/repo/nightly"}},
)
seen["repository"] = client.snapshot.get_repository(repository="nightly")
seen["cat_repositories"] = client.cat.repositories(format="json")
seen["created"] = client.snapshot.create(
    repository="nightly",
    snapshot="snapshot-1",
    body={"indices": "logs-*", "include_global_state": False},
    wait_for_completion=True,
)
seen["snapshots"] = client.snapshot.get(repository="nightly", snapshot="_all")
seen["cat_snapshots"] = client.cat.snapshots(repository="nightly", format="json")
seen["cat_snapshots_text"] = client.cat.snapshots(repository="nightly", v=True)
seen["verified"] = client.snapshot.verify_repository(repository="nightly")
seen["status"] = client.snapshot.status(repository="nightly", snapshot="snapshot-1")
try:
    client.snapshot.restore(repository="nightly", snapshot="snapshot-1", body={"indices": "logs-*"})
except TransportError as e:
    seen["restore_over_open_index"] = {"status": e.status_code, "error": e.error}
client.indices.delete(index="logs-2024.06.01")
seen["accepted"] = client.snapshot.restore(
    repository="nightly", snapshot="snapshot-1", body={"indices": "logs-*"}
)
for _ in range(20):
    recovery = client.indices.recovery(index="logs-2024.06.01")
    shard = recovery["logs-2024.06.01"]["shards"][0]
    if shard["stage"] == "DONE":
        break
    time.sleep(0.05)
seen["recovered"] = shard
seen["cat_recovery"] = client.cat.recovery(index="logs-2024.06.01", format="json")
seen["health"] = client.cluster.health(index="logs-2024.06.01", wait_for_status="green")
try:
    client.snapshot.get(repository="nightly", snapshot="snapshot-9")
except NotFoundError as e:
    seen["missing_snapshot"] = {"status": e.status_code, "error": e.error}
seen["deleted"] = client.snapshot.delete(repository="nightly", snapshot="snapshot-1")
seen["deleted_repository"] = client.snapshot.delete_repository(repository="nightly")
json.dump(seen, sys.stdout)
