"""Fake PSAs for tests and the bench: one per vendor, each from the vendor's API documentation.

Each ``Vendor`` entry says how ``msp psa add`` connects to its fake (URL, secrets file text,
options) so tests and ``bench/psa.py`` drive all five the same way."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tests.fakes.psa import autotask, connectwise, halopsa, itflow, syncro
from tests.fakes.psa.base import FakePsa


@dataclass(frozen=True)
class Vendor:
    kind: str
    make: Callable[[], FakePsa]
    path: str  # appended to the fake's base URL for --url
    secrets: str  # the --api-key-file text
    options: dict[str, Any] = field(default_factory=dict)
    all_secrets: tuple[str, ...] = ()


VENDORS: dict[str, Vendor] = {
    "syncro": Vendor("syncro", syncro.FakeSyncro, "/api/v1", syncro.API_KEY, {}, (syncro.API_KEY,)),
    "autotask": Vendor(
        "autotask",
        autotask.FakeAutotask,
        "/ATServicesRest",
        f"password={autotask.SECRET}\napi_key={autotask.INTEGRATION_CODE}\n",
        {"username": autotask.USERNAME, "settings": {"member": "29682885"}},
        (autotask.SECRET, autotask.INTEGRATION_CODE),
    ),
    "connectwise": Vendor(
        "connectwise",
        connectwise.FakeConnectWise,
        connectwise.ROOT,
        connectwise.PRIVATE_KEY,
        {
            "username": f"{connectwise.COMPANY}+{connectwise.PUBLIC_KEY}",
            "client_id": connectwise.CLIENT_ID,
            "settings": {"member": "jdoe"},
        },
        (connectwise.PRIVATE_KEY,),
    ),
    "halopsa": Vendor(
        "halopsa",
        halopsa.FakeHalo,
        "",
        halopsa.CLIENT_SECRET,
        {"client_id": halopsa.CLIENT_ID, "settings": {"tenant": halopsa.TENANT}},
        (halopsa.CLIENT_SECRET,),
    ),
    "itflow": Vendor("itflow", itflow.FakeITFlow, "", itflow.API_KEY, {}, (itflow.API_KEY,)),
}
