"""Netstrings carry any byte values through one argument and back unchanged."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.store.netstrings import netstrings, read_netstrings


@pytest.mark.parametrize(
    ("values", "encoded"),
    [
        ([], b""),
        ([b""], b"0:"),
        ([b"acc-1", b"m1", b'{"a":1}'], b'5:acc-12:m17:{"a":1}'),
        ([b"1:2:"], b"4:1:2:"),
    ],
)
def test_a_netstring_is_the_length_a_colon_and_the_bytes(
    values: list[bytes], encoded: bytes
) -> None:
    assert netstrings(values) == encoded


@given(st.lists(st.binary(max_size=40), max_size=20))
def test_reading_netstrings_gives_back_the_values_written(values: list[bytes]) -> None:
    assert read_netstrings(netstrings(values)) == values
