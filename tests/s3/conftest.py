"""A real S3 server (Ceph radosgw, once per session) and a fault proxy in front of it."""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from s3.ceph import CephCluster, CephStartError
from s3.helpers import BUCKET, StoreFactory
from s3.proxy import FaultProxy, Rule
from vidsync.storage.s3 import S3Store

_keys = itertools.count(1)


@pytest.fixture(scope="session")
def ceph(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CephCluster]:
    cluster = CephCluster(tmp_path_factory.mktemp("ceph"), memstore_bytes=1 << 30)
    try:
        cluster.start()
    except CephStartError as exc:
        # A missing or broken Ceph is a failure, never a skip.
        pytest.fail(f"could not start Ceph radosgw: {exc}", pytrace=False)
    yield cluster
    cluster.stop()


@pytest.fixture(scope="session")
def s3(ceph: CephCluster) -> Any:
    """A plain boto3 client on the real server, to look behind the store's back."""
    return ceph.create_bucket(BUCKET)


@pytest.fixture
def make_store(ceph: CephCluster, s3: Any) -> StoreFactory:
    """``make_store(endpoint_url=proxy.url, part_size=..., ...)``: an S3Store on the test bucket."""

    def make(endpoint_url: str | None = None, **kwargs: Any) -> S3Store:
        options: dict[str, Any] = {
            "access_key": ceph.access_key,
            "secret_key": ceph.secret_key,
            "part_size": 5 << 20,
        } | kwargs
        bucket = options.pop("bucket", BUCKET)
        prefix = options.pop("prefix", "snapshots")
        return S3Store(bucket, prefix, endpoint_url or ceph.endpoint_url, **options)

    return make


@pytest.fixture
def proxy(ceph: CephCluster) -> Iterator[Callable[[Rule], FaultProxy]]:
    """``proxy(rule)``: a fault proxy in front of radosgw, stopped after the test."""
    started: list[FaultProxy] = []

    def start(rule: Rule) -> FaultProxy:
        p = FaultProxy(ceph.endpoint_url, rule).start()
        started.append(p)
        return p

    yield start
    for p in started:
        p.stop()


@pytest.fixture
def key() -> str:
    """A fresh store key, shaped like the pipeline's."""
    return f"proj-{os.getpid()}/snap-{next(_keys)}-{time.monotonic_ns()}.json.gz"
