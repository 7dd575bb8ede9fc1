"""Host parsing, the CSRF guard and secrets kept out of logs, against a real agent."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from support.agent import AgentProcess, wait_until
from support.trees import make_tree
from vidsync.api.security import parse_host, redact


@pytest.mark.parametrize(
    ("header", "parsed"),
    [
        ("127.0.0.1:5001", ("127.0.0.1", 5001)),
        ("LOCALHOST", ("localhost", None)),
        ("[::1]:5001", ("::1", 5001)),
        ("studio-nas.local:80", ("studio-nas.local", 80)),
        ("127.0.0.1:5001@evil.example", None),
        ("user@127.0.0.1:5001", None),
        ("127.0.0.1:5001/path", None),
        ("127.0.0.1 :5001", None),
        (" 127.0.0.1", None),
        ("127.0.0.1:5001:80", None),
        ("127.0.0.1:http", None),
        ("127.0.0.1:99999", None),
        ("[::1", None),
        ("", None),
    ],
)
def test_host_header_is_a_name_and_an_optional_port_only(
    header: str, parsed: tuple[str, int | None] | None
) -> None:
    assert parse_host(header) == parsed


@pytest.mark.parametrize(
    "host", ["127.0.0.1:{port}@evil.example", "evil.example@127.0.0.1:{port}",
             "127.0.0.1:{port}/x", "127.0.0.1:{port} evil", "evil.example"]
)
def test_agent_refuses_a_host_header_with_anything_else(agent: AgentProcess, host: str) -> None:
    r = httpx.get(agent.url + "/api/v1/projects", headers={"Host": host.format(port=agent.port)})
    assert r.status_code == 403 and "Host header" in r.json()["detail"]
    ok = httpx.get(agent.url + "/api/v1/projects", headers={"Host": f"localhost:{agent.port}"})
    assert ok.status_code == 200


def _project(agent: AgentProcess, tmp_path: Path) -> str:
    root = make_tree(tmp_path / "p", {"a.txt": "x"})
    r = httpx.post(agent.url + "/api/v1/projects", json={"localPath": str(root)})
    assert r.status_code == 201, r.text
    return str(r.json()["projectId"])


def test_cross_site_post_and_delete_are_refused(agent: AgentProcess, tmp_path: Path) -> None:
    pid = _project(agent, tmp_path)
    start = f"{agent.url}/api/v1/projects/{pid}/snapshot"
    for headers in (
        {"Origin": "http://evil.example"},
        {"Origin": "null"},
        {"Origin": f"http://127.0.0.1:{agent.port + 1}"},  # another local app
        # a page of another local app, sent to the agent (Host: its own address)
        {"Origin": f"http://localhost:{agent.port + 1}", "Host": f"localhost:{agent.port}"},
        {"Origin": "https://localhost", "Host": "localhost:8443"},  # port differs from Host
        {"Origin": f"http://127.0.0.1:{agent.port}@evil.example"},
        {"Sec-Fetch-Site": "cross-site"},
    ):
        r = httpx.post(start, headers=headers)
        assert r.status_code == 403, (headers, r.text)
        assert "cross-site request refused" in r.json()["detail"]
        # it names the header that made it refuse, never Python's None
        assert (headers.get("Origin") or "Sec-Fetch-Site") in r.json()["detail"]
        assert "None" not in r.json()["detail"]
        r = httpx.delete(f"{agent.url}/api/v1/projects/{pid}", headers=headers)
        assert r.status_code == 403, headers
    # nothing was started or deleted
    assert httpx.get(f"{agent.url}/api/v1/projects/{pid}/snapshots").json()["snapshots"] == []
    # reads are not state changes (and no CORS header lets the page see the answer)
    r = httpx.get(f"{agent.url}/api/v1/projects/{pid}", headers={"Origin": "http://evil.example"})
    assert r.status_code == 200 and "access-control-allow-origin" not in r.headers


@pytest.mark.parametrize(
    "headers",
    [
        {},  # CLI, Python client, curl: no Origin
        {"Origin": "http://127.0.0.1:{port}", "Sec-Fetch-Site": "same-origin"},  # the web UI
        {"Origin": "http://localhost:{port}"},
        # behind a reverse proxy on another port or scheme: the page's origin is
        # the address the browser asked for
        {"Origin": "https://localhost:8443", "Host": "localhost:8443"},
        {"Origin": "https://localhost", "Host": "localhost"},
    ],
)
def test_own_origin_and_no_origin_may_post(
    agent: AgentProcess, tmp_path: Path, headers: dict[str, str]
) -> None:
    pid = _project(agent, tmp_path)
    sent = {k: v.format(port=agent.port) for k, v in headers.items()}
    r = httpx.post(f"{agent.url}/api/v1/projects/{pid}/snapshot", headers=sent)
    assert r.status_code == 202, r.text


def test_api_key_in_the_query_never_reaches_the_log(tmp_path: Path) -> None:
    key = "query-key-that-must-not-leak"
    agent = AgentProcess(tmp_path / "data", log_level="info", VIDSYNC_API_KEY=key).start()
    try:
        r = httpx.get(agent.url + "/api/v1/projects", params={"apiKey": key, "x": "1"})
        assert r.status_code == 200
        wait_until(lambda: "GET /api/v1/projects?" in agent.log_path.read_text())
    finally:
        agent.stop()
    log = agent.log_path.read_text()
    assert key not in log
    assert "apiKey=[redacted]&x=1" in log  # the line is there, without the secret


def test_redact_hides_every_spelling_of_the_key_parameter() -> None:
    assert redact("/s?a=1&APIKEY=abc&b=2") == "/s?a=1&APIKEY=[redacted]&b=2"
    assert redact("/s?api_key=abc") == "/s?api_key=[redacted]"
    assert redact("/s?notapikey=abc") == "/s?notapikey=abc"
