"""Commands built from a memoised shape are the commands the model would validate."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from copier.core.commands import order_command
from copier.worker.draft import command_forms
from schemas.codes import Action, OrderType, Side
from schemas.envelope import OrderCommand, encode_envelope
from schemas.messages import OrderCommandPayload

D = Decimal

OPEN: dict[str, Any] = {
    "action": Action.OPEN,
    "symbol": "EURUSD",
    "side": Side.BUY,
    "order_type": OrderType.MARKET,
    "volume": D("0.37"),
    "master_ticket": 100,
    "price": D("1.1"),
    "sl": D("1.09"),
    "tp": D("1.12"),
    "expires_at": 1_763_800_010_000,
    "master_account_id": "master-1",
}
CLOSE: dict[str, Any] = {
    **OPEN,
    "action": Action.CLOSE,
    "ticket": 5001,
    "sl": None,
    "tp": None,
    "expires_at": None,
}


@pytest.mark.parametrize("fields", [OPEN, CLOSE], ids=["open", "close"])
@pytest.mark.parametrize("command_id", ["cmd-" + "a" * 32, "cmd-" + "b" * 32 + ".r2"])
def test_shaped_command_equals_the_validated_one(fields: dict[str, Any], command_id: str) -> None:
    direct = OrderCommandPayload(command_id=command_id, **fields)
    shaped = order_command(command_id, **fields)
    assert shaped == direct
    assert shaped.model_dump_json() == direct.model_dump_json()


def test_a_shaped_command_is_frozen_like_a_validated_one() -> None:
    shaped = order_command("cmd-1", **OPEN)
    with pytest.raises(ValidationError):
        shaped.volume = D(2)
    assert order_command("cmd-2", **OPEN).command_id == "cmd-2"


def test_followers_of_one_shape_keep_their_own_ids() -> None:
    first = order_command("cmd-1", **OPEN)
    second = order_command("cmd-2", **OPEN)
    assert (first.command_id, second.command_id) == ("cmd-1", "cmd-2")


@pytest.mark.parametrize("command_id", ["", "c" * 129])
def test_shaped_command_refuses_an_id_the_model_refuses(command_id: str) -> None:
    with pytest.raises(ValueError):
        OrderCommandPayload(command_id=command_id, **OPEN)
    with pytest.raises(ValueError):
        order_command(command_id, **OPEN)


def test_shaped_command_refuses_invalid_fields_like_the_model() -> None:
    with pytest.raises(ValidationError):
        order_command("cmd-1", **{**OPEN, "volume": D(0)})
    with pytest.raises(ValidationError):
        order_command("cmd-1", **{**OPEN, "action": Action.CLOSE})  # a close needs its ticket


@pytest.mark.parametrize(
    "command_id", ["cmd-" + "c" * 32, 'cmd-"quoted"', "cmd-back\\slash", "cmd-é"]
)
def test_command_forms_are_the_envelope_and_json_form_the_model_makes(command_id: str) -> None:
    command = order_command(command_id, **OPEN)
    body, json_form = command_forms(command, 1_763_800_000_123)
    envelope = OrderCommand(id=command_id, ts=1_763_800_000_123, payload=command)
    assert body == encode_envelope(envelope)
    assert json_form == command.model_dump(mode="json", exclude_none=True)
