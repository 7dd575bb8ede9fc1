"""A small synchronous client for the parts of Syncthing's REST API that vidsync uses.

Every failure becomes a ``SyncthingError`` (a ``SourceError``) whose message says
what to fix, because it ends up as the snapshot's error text in front of a user.
Synchronous on purpose: the pipeline calls sources from a worker thread.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import httpx

from vidsync.snapshot.source import SourceError, SourceUnavailable

# Syncthing's own timeout for /rest/events is whole seconds; we wait that long
# plus this margin for the answer before calling the daemon unresponsive.
_LONG_POLL_MARGIN = 10.0


class SyncthingError(SourceError):
    """Talking to Syncthing failed; the message is meant for the user."""


class SyncthingUnreachable(SyncthingError, SourceUnavailable):
    pass


class SyncthingAuthError(SyncthingError, SourceUnavailable):
    pass


class UnknownFolder(SyncthingError):
    pass


class SyncthingApiError(SyncthingError):
    """Syncthing answered, but with an error; ``text`` is Syncthing's own message."""

    def __init__(self, message: str, status_code: int, text: str) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.text = text


@dataclass(frozen=True, slots=True)
class Event:
    """One entry of ``/rest/events``; ``id`` is numbered by the (filtered) subscription."""

    id: int
    type: str
    data: dict[str, Any]


class SyncthingRest:
    """Typed access to one Syncthing instance at ``url`` with API key ``api_key``."""

    def __init__(
        self,
        url: str,
        api_key: str,
        *,
        timeout: float = 10.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        self._client = httpx.Client(
            base_url=self.url,
            headers={"X-API-Key": api_key},
            timeout=timeout,
            transport=transport,
        )

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> SyncthingRest:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- system ---------------------------------------------------------------

    def ping(self) -> None:
        """Check that Syncthing answers and accepts the API key."""
        self._request("GET", "/rest/system/ping")

    # -- config ---------------------------------------------------------------

    def add_folder(self, folder: dict[str, Any]) -> None:
        """Add a folder; Syncthing fills in defaults for fields not given."""
        self._request("POST", "/rest/config/folders", json=folder)

    def get_folder(self, folder_id: str) -> dict[str, Any]:
        return self._json_object(
            self._request("GET", f"/rest/config/folders/{folder_id}", folder=folder_id)
        )

    def delete_folder(self, folder_id: str) -> None:
        """Remove a folder from the config (Syncthing answers 200 for unknown ids too)."""
        self._request("DELETE", f"/rest/config/folders/{folder_id}", folder=folder_id)

    # -- database -------------------------------------------------------------

    def db_status(self, folder_id: str) -> dict[str, Any]:
        return self._json_object(
            self._request("GET", "/rest/db/status", params={"folder": folder_id}, folder=folder_id)
        )

    def scan(self, folder_id: str, timeout: float) -> None:
        """Ask for a scan and block until it is over (Syncthing answers only then)."""
        self._request(
            "POST", "/rest/db/scan", params={"folder": folder_id}, folder=folder_id, timeout=timeout
        )

    def browse(
        self, folder_id: str, prefix: str | None = None, levels: int | None = None
    ) -> list[dict[str, Any]]:
        params: dict[str, str | int] = {"folder": folder_id}
        if prefix is not None:
            params["prefix"] = prefix
        if levels is not None:
            params["levels"] = levels
        data = self._request("GET", "/rest/db/browse", params=params, folder=folder_id).json()
        # An empty folder comes back as {} rather than [].
        return data if isinstance(data, list) else []

    def folder_errors(self, folder_id: str) -> list[dict[str, Any]]:
        """Per-file scan errors (e.g. names that are not valid UTF-8)."""
        data = self._json_object(
            self._request(
                "GET", "/rest/folder/errors", params={"folder": folder_id}, folder=folder_id
            )
        )
        errors = data.get("errors")
        return errors if isinstance(errors, list) else []

    # -- events ---------------------------------------------------------------

    def events(
        self,
        since: int,
        *,
        timeout: int,
        types: Iterable[str] = (),
        limit: int | None = None,
    ) -> list[Event]:
        """Long-poll events with id > ``since``; ``[]`` after ``timeout`` seconds.

        With ``types``, Syncthing keeps a separate subscription for that set of
        types, numbered from 1 and seeing only events after its first request.
        """
        params: dict[str, str | int] = {"since": since, "timeout": timeout}
        mask = ",".join(types)
        if mask:
            params["events"] = mask
        if limit is not None:
            params["limit"] = limit
        response = self._request(
            "GET", "/rest/events", params=params, timeout=timeout + _LONG_POLL_MARGIN
        )
        data = response.json()
        if not isinstance(data, list):
            raise self._unexpected("GET /rest/events", response)
        return [
            Event(id=int(item["id"]), type=str(item["type"]), data=item.get("data") or {})
            for item in data
        ]

    # -- plumbing -------------------------------------------------------------

    def _request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str | int] | None = None,
        json: Any = None,
        folder: str | None = None,
        timeout: float | None = None,
    ) -> httpx.Response:
        what = f"{method} {path}"
        try:
            response = self._client.request(
                method,
                path,
                params=params,
                json=json,
                timeout=self.timeout if timeout is None else timeout,
            )
        except httpx.TimeoutException:
            raise SyncthingUnreachable(
                f"Syncthing at {self.url} did not answer {what} in time: "
                "is it overloaded or stuck? Check its log, or restart it"
            ) from None
        except httpx.TransportError as exc:
            raise SyncthingUnreachable(
                f"cannot reach Syncthing at {self.url}: is it running? "
                f"(check VIDSYNC_SYNCTHING_URL; {type(exc).__name__}: {exc})"
            ) from None
        if response.is_success:
            return response
        text = response.text.strip()
        if response.status_code == 403:
            raise SyncthingAuthError(
                f"wrong Syncthing API key (VIDSYNC_SYNCTHING_API_KEY): Syncthing at {self.url} "
                "refused it; copy the key from Syncthing's Actions > Settings > General > API Key"
            )
        # db/status and config answer 404 for an unknown folder; db/scan and
        # db/browse answer 500 "no such folder".
        if folder is not None and (response.status_code == 404 or text == "no such folder"):
            raise UnknownFolder(
                f'Syncthing at {self.url} has no folder "{folder}": it was removed from '
                "Syncthing; delete this project and create it again"
            )
        if response.status_code == 404:
            raise SyncthingApiError(
                f"{self.url} does not look like Syncthing's REST API (HTTP 404 for {what}): "
                "check VIDSYNC_SYNCTHING_URL",
                response.status_code,
                text,
            )
        raise SyncthingApiError(
            f"Syncthing at {self.url} answered HTTP {response.status_code} to {what}: "
            f"{text or response.reason_phrase}",
            response.status_code,
            text,
        )

    def _json_object(self, response: httpx.Response) -> dict[str, Any]:
        try:
            data = response.json()
        except ValueError:
            data = None
        if not isinstance(data, dict):
            request = response.request
            raise self._unexpected(f"{request.method} {request.url.path}", response)
        return data

    def _unexpected(self, what: str, response: httpx.Response) -> SyncthingApiError:
        return SyncthingApiError(
            f"Syncthing at {self.url} gave an unexpected answer to {what}: "
            "check that VIDSYNC_SYNCTHING_URL points at Syncthing's GUI/REST address",
            response.status_code,
            response.text[:200],
        )
