"""Which outbox entries a flush enqueues ahead of its own (`orphans_ahead`). Pure.

A writer commits a decision's commands to the follower's outbox, then flushes
them to the delivery log. Entries an earlier writer committed and never flushed
(it died, or lost Redis under its flush) go first, so a newer command about a
copy never reaches the follower before an older one.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from copier.worker.ops import orphans_ahead, outbox_value

NOW = 1_000_000
GRACE = 2_000


def _stored(*entries: tuple[str, int, tuple[int, int]]) -> dict[bytes, bytes]:
    """An outbox hash: (envelope id, due ms, decision order) -> stored values."""
    return {
        envelope_id.encode(): outbox_value(due, order, b"{" + envelope_id.encode() + b"}")
        for envelope_id, due, order in entries
    }


NEW = ("new", NOW + GRACE, (9, 0))


@pytest.mark.parametrize(
    ("others", "ahead"),
    [
        pytest.param([], [], id="nothing_else_in_the_outbox"),
        pytest.param([("old", NOW - 500 + GRACE, (8, 0))], ["old"], id="an_orphaned_immediate"),
        pytest.param(
            [("b", NOW + GRACE - 10, (7, 1)), ("a", NOW + GRACE - 20, (7, 0))],
            ["a", "b"],
            id="one_decisions_orphans_in_decision_order",
        ),
        pytest.param(
            [("x", NOW - 10, (8, 0)), ("y", NOW - 900, (6, 3))],
            ["y", "x"],
            id="successive_decisions_by_order_not_due_time",
        ),
        pytest.param(
            [("retry", NOW + GRACE + 1, (8, 0))], [], id="an_older_retry_due_after_the_new_entry"
        ),
        pytest.param(
            [("later", NOW + GRACE - 100, (10, 0))], [], id="an_entry_decided_after_the_new_one"
        ),
        pytest.param(
            [("same", NOW + GRACE, (9, 1))], [], id="another_entry_of_the_same_decision_not_flushed"
        ),
    ],
)
def test_entries_decided_earlier_and_due_by_the_new_ones_go_first(
    others: list[tuple[str, int, tuple[int, int]]], ahead: list[str]
) -> None:
    stored = _stored(NEW, *others)
    found = orphans_ahead(stored, ["new"], NOW + GRACE)
    assert [item.envelope_id for item in found] == ahead
    assert all(not item.immediate for item in found)


def test_an_entry_stored_without_an_order_key_counts_as_decided_first() -> None:
    stored = _stored(NEW)
    stored[b"legacy"] = b"%d|%s" % (NOW, b'{"legacy"}')
    (item,) = orphans_ahead(stored, ["new"], NOW + GRACE)
    assert (item.envelope_id, item.body, item.due_ms) == ("legacy", b'{"legacy"}', NOW)


def test_new_entries_missing_from_the_outbox_pull_nothing_ahead() -> None:
    stored = _stored(("old", NOW, (1, 0)))
    assert orphans_ahead(stored, ["flushed-already"], NOW + GRACE) == []


_entry = st.tuples(
    st.integers(NOW - 5_000, NOW + 5_000), st.tuples(st.integers(0, 20), st.integers(0, 5))
)


@given(
    entries=st.dictionaries(st.text("abcdefgh", min_size=1, max_size=3), _entry, max_size=12),
    data=st.data(),
)
def test_what_goes_ahead_is_older_due_and_in_decision_order(
    entries: dict[str, tuple[int, tuple[int, int]]], data: st.DataObject
) -> None:
    names = sorted(entries)
    mine = data.draw(st.lists(st.sampled_from(names), unique=True) if names else st.just([]))
    due_by = data.draw(st.integers(NOW - 5_000, NOW + 5_000))
    stored = _stored(*((name, due, order) for name, (due, order) in entries.items()))

    found = orphans_ahead(stored, mine, due_by)

    ids = [item.envelope_id for item in found]
    assert not set(ids) & set(mine)
    orders = [entries[name][1] for name in ids]
    assert orders == sorted(orders)
    if mine:
        first = min(entries[name][1] for name in mine)
        expected = {
            name
            for name, (due, order) in entries.items()
            if name not in mine and order < first and due <= due_by
        }
        assert set(ids) == expected
    else:
        assert ids == []
