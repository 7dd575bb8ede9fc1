"""Batch slots shared by every process of one database."""

from __future__ import annotations

from pathlib import Path

from vidsync.store.db import Database


def test_slots_are_shared_by_owners_and_a_dead_owners_slots_free_up(tmp_path: Path) -> None:
    one, two = Database(tmp_path / "db.sqlite"), Database(tmp_path / "db.sqlite")
    living = {"a", "b"}

    def alive(owner: str | None) -> bool:
        return owner in living

    assert one.take_batch_slot("p1", None, "a", 2, alive)
    assert not two.take_batch_slot("p1", "s", "b", 2, alive)  # the project holds one already
    assert two.take_batch_slot("p2", "s2", "b", 2, alive)
    assert not two.take_batch_slot("p3", "s3", "b", 2, alive)  # the limit is for both
    one.release_batch_slot("p2", "a")  # not its slot: nothing changes
    assert not one.take_batch_slot("p3", "s3", "a", 2, alive)
    two.release_batch_slot("p2", "b")
    assert one.take_batch_slot("p3", "s3", "a", 2, alive)
    living.discard("a")  # killed: both its slots are free again
    assert two.take_batch_slot("p4", "s4", "b", 2, alive)
    assert two.take_batch_slot("p5", "s5", "b", 2, alive)
    assert not two.take_batch_slot("p6", "s6", "b", 2, alive)
