"""The wire contract: one error shape, clear 4xx for bad input, ETag polling,
the protocol constants of /api/v1/config, and the client's types against the schema."""

from __future__ import annotations

import os
import typing
from pathlib import Path
from typing import Any

import httpx
import pytest

from support.agent import AgentProcess, snapshot_and_wait
from support.trees import make_tree
from vidsync import schemas
from vidsync.client import types as client_types
from vidsync.protocol import BACKOFF_DELAYS_MS, STEPS

JSON = {"content-type": "application/json"}


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    return make_tree(tmp_path / "tree", {"a.mov": "x" * 10, "clips": {"b.mov": "yy"}})


def post_raw(agent: AgentProcess, path: str, body: bytes) -> httpx.Response:
    return httpx.post(agent.url + path, content=body, headers=JSON)


def assert_error(r: httpx.Response, status: int, *words: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    body: dict[str, Any] = r.json()
    assert isinstance(body["detail"], str) and body["detail"]
    schemas.ErrorBody.model_validate(body)
    for word in words:
        assert word in body["detail"], body
    return body


def test_a_lone_surrogate_in_local_path_is_a_400_naming_the_field(agent: AgentProcess) -> None:
    r = post_raw(agent, "/api/v1/projects", b'{"localPath": "/x/\\ud800"}')
    body = assert_error(r, 422, "unicode")
    assert body["field"] == "localPath"


def test_a_batch_with_a_lone_surrogate_is_a_422_naming_the_id(
    agent: AgentProcess, tree: Path
) -> None:
    r = post_raw(agent, "/api/v1/snapshots/batch", b'{"projectIds": ["p", "proj-\\ud800"]}')
    body = assert_error(r, 422, "projectIds.1", "unicode")
    assert body["field"] == "projectIds"


def test_a_batch_reports_unknown_ids_and_starts_the_rest(agent: AgentProcess, tree: Path) -> None:
    pid = httpx.post(f"{agent.url}/api/v1/projects", json={"localPath": str(tree)}).json()[
        "projectId"]
    r = httpx.post(f"{agent.url}/api/v1/snapshots/batch",
                   json={"projectIds": ["proj-" + "z" * 150, pid]})
    assert r.status_code == 202, r.text
    answer = r.json()
    assert [s["projectId"] for s in answer["started"]] == [pid]
    assert "no project" in answer["errors"][0]["detail"]
    assert len(answer["errors"][0]["projectId"]) <= 80


@pytest.mark.parametrize("route", ["files", "snapshots/snap-x"])
def test_a_huge_offset_is_a_422_not_a_500(agent: AgentProcess, tree: Path, route: str) -> None:
    pid = httpx.post(f"{agent.url}/api/v1/projects", json={"localPath": str(tree)}).json()[
        "projectId"]
    r = httpx.get(f"{agent.url}/api/v1/projects/{pid}/{route}", params={"offset": 2**63})
    body = assert_error(r, 422, "offset")
    assert body["field"] == "offset"


def test_a_body_over_one_mib_is_a_413(agent: AgentProcess) -> None:
    big = b'{"localPath": "/' + b"a" * (2 * 1024 * 1024) + b'"}'
    assert_error(post_raw(agent, "/api/v1/projects", big), 413, "too large")

    def chunks() -> typing.Iterator[bytes]:  # no Content-Length: counted as it arrives
        yield b'{"localPath": "/'
        for _ in range(40):
            yield b"a" * 65536
        yield b'"}'

    r = httpx.post(agent.url + "/api/v1/projects", content=chunks(), headers=JSON)
    assert_error(r, 413, "too large")
    assert httpx.get(agent.url + "/api/v1/health").status_code == 200


def test_a_long_local_path_is_refused_without_being_echoed(agent: AgentProcess) -> None:
    r = httpx.post(agent.url + "/api/v1/projects", json={"localPath": "/" + "b" * 9000})
    body = assert_error(r, 400, "characters long")
    assert len(r.content) < 500 and "bbbbbbbbbb" not in body["detail"]
    r = httpx.post(agent.url + "/api/v1/projects", json={"localPath": "/" + "c" * 100_000})
    assert_error(r, 422, "localPath")
    assert len(r.content) < 500


def test_invalid_json_says_where(agent: AgentProcess) -> None:
    r = post_raw(agent, "/api/v1/projects", b'{"localPath": "/tmp", }')
    body = assert_error(r, 422, "not valid JSON", "at character 22")
    assert "field" not in body


def test_a_symlink_to_a_project_folder_is_that_project(
    agent: AgentProcess, tree: Path, tmp_path: Path
) -> None:
    first = httpx.post(f"{agent.url}/api/v1/projects", json={"localPath": str(tree)}).json()
    alias = tmp_path / "alias"
    os.symlink(tree, alias)
    r = httpx.post(f"{agent.url}/api/v1/projects", json={"localPath": str(alias)})
    body = assert_error(r, 409, first["projectId"])
    assert body["projectId"] == first["projectId"]
    r = httpx.post(f"{agent.url}/api/v1/projects", json={"localPath": str(tree) + "/clips/.."})
    assert_error(r, 409, first["projectId"])


def test_polling_answers_304_while_nothing_changed(agent: AgentProcess, tree: Path) -> None:
    pid = httpx.post(f"{agent.url}/api/v1/projects", json={"localPath": str(tree)}).json()[
        "projectId"]
    url = f"{agent.url}/api/v1/projects/{pid}/progress"
    idle = httpx.get(url)
    assert idle.json()["step"] == "idle"
    assert idle.headers["cache-control"] == "no-cache"
    etag = idle.headers["etag"]
    same = httpx.get(url, headers={"If-None-Match": etag})
    assert same.status_code == 304 and same.content == b""
    assert same.headers["etag"] == etag
    snapshot_and_wait(agent, pid)
    changed = httpx.get(url, headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.json()["step"] == "completed"
    assert changed.headers["etag"] != etag
    assert httpx.get(url, headers={"If-None-Match": changed.headers["etag"]}).status_code == 304


def test_config_serves_the_protocol_constants(agent: AgentProcess) -> None:
    config = httpx.get(agent.url + "/api/v1/config").json()
    schemas.ClientConfig.model_validate(config)
    assert config["totalSteps"] == len(config["steps"]) == 6
    assert [s["label"] for s in config["steps"]] == [s.label for s in STEPS]
    assert [s["unit"] for s in config["steps"]][2:5] == ["files", "files", "bytes"]
    assert config["backoff"]["delaysMs"] == list(BACKOFF_DELAYS_MS)
    assert config["terminalStates"] == ["completed", "failed", "cancelled"]


def test_the_cli_says_the_labels_the_config_serves() -> None:
    from vidsync.cli.view import describe
    from vidsync.models import ProgressEvent, Step

    for info in STEPS[:5]:
        event = ProgressEvent("p", info.step, info.step_number, 10, "m", 0.0, rate=12.0)
        line = describe(event)
        assert line["step"].endswith(info.label)
        assert (info.unit or "") in line["rate"] or info.unit == "bytes"
    done = describe(ProgressEvent("p", Step.COMPLETED, 6, 100, "m", 0.0))
    assert done["step"] == "Completed"


# The client's TypedDicts and the schema's models must name the same fields.
PAIRS: list[tuple[Any, type[schemas.Wire]]] = [
    (client_types.SnapshotInfo, schemas.SnapshotBody),
    (client_types.ProjectInfo, schemas.ProjectBody),
    (client_types.Started, schemas.Started),
    (client_types.Entry, schemas.EntryBody),
    (client_types.SnapshotPage, schemas.SnapshotPage),
    (client_types.Change, schemas.Change),
    (client_types.DiffCounts, schemas.DiffCounts),
    (client_types.DiffBytes, schemas.DiffBytes),
    (client_types.DiffPage, schemas.DiffPage),
    (client_types.BatchStarted, schemas.BatchItem),
    (client_types.BatchError, schemas.BatchError),
    (client_types.BatchResult, schemas.BatchBody),
]


@pytest.mark.parametrize(("typed", "model"), PAIRS, ids=[m.__name__ for _, m in PAIRS])
def test_client_types_match_the_schema(typed: Any, model: type[schemas.Wire]) -> None:
    wire = {info.alias or name for name, info in model.model_fields.items()}
    assert set(typed.__annotations__) == wire


def test_every_event_the_tracker_sends_matches_the_event_schema() -> None:
    from vidsync.models import ProgressEvent, Step, UploadRetry

    events = [
        ProgressEvent("p", Step.UPLOADING, 5, 80, "m", 1.0, id=3, snapshot_id="s",
                      retry=UploadRetry(1, 3, 1.0)),
        ProgressEvent("p", Step.COMPLETED, 6, 100, "m", 1.0, snapshot_url="file:///x"),
        ProgressEvent("p", Step.FAILED, 3, 40, "m", 1.0, error="boom", resync=True),
        ProgressEvent("p", Step.WAITING, 1, 0, "m", 1.0, queued=True),
    ]
    model_fields = {
        info.alias or name for name, info in schemas.ProgressEventBody.model_fields.items()
    }
    for event in events:
        data = event.to_json()
        schemas.ProgressEventBody.model_validate(data)
        assert set(data) <= model_fields


def test_optional_fields_appear_only_where_they_mean_something(
    agent: AgentProcess, tree: Path
) -> None:
    pid = httpx.post(f"{agent.url}/api/v1/projects", json={"localPath": str(tree)}).json()[
        "projectId"]
    snapshot_and_wait(agent, pid)
    progress = httpx.get(f"{agent.url}/api/v1/projects/{pid}").json()["progress"]
    assert progress["snapshotUrl"] and "error" not in progress and "resync" not in progress
    nodes = httpx.get(f"{agent.url}/api/v1/projects/{pid}/files-tree").json()["tree"]
    by_name = {n["name"]: n for n in nodes}
    assert "children" not in by_name["a.mov"] and "pathBase64" not in by_name["a.mov"]
    assert by_name["clips"]["totalBytes"] == 2 and by_name["clips"]["fileCount"] == 1
