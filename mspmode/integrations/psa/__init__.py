"""The PSAs MSPs bill from, one module each behind ``PsaAdapter`` (``base.py``):

    syncro       SyncroMSP                API key header
    autotask     Autotask (Datto)         ApiIntegrationCode + UserName + Secret headers, zones
    connectwise  ConnectWise PSA          Basic company+public:private key, clientId header
    halopsa      HaloPSA                  OAuth 2.0 client credentials
    itflow       ITFlow                   API key in the query string or JSON body

``adapter(config, http)`` builds the one a configuration names; ``units`` converts durations.
"""

from __future__ import annotations

from mspmode.integrations.psa.autotask import AutotaskAdapter
from mspmode.integrations.psa.base import (
    Exchange,
    Http,
    NoteIn,
    PsaAdapter,
    PsaAuthError,
    PsaConfig,
    PsaError,
    PsaNotFoundError,
    PsaRateLimitedError,
    PsaRejectedError,
    PsaUnavailableError,
    Ticket,
    TimeIn,
    marker,
)
from mspmode.integrations.psa.connectwise import ConnectWiseAdapter
from mspmode.integrations.psa.halopsa import HaloAdapter
from mspmode.integrations.psa.itflow import ITFlowAdapter
from mspmode.integrations.psa.syncro import SyncroAdapter

ADAPTERS: dict[str, type[PsaAdapter]] = {
    a.kind: a for a in (SyncroAdapter, AutotaskAdapter, ConnectWiseAdapter, HaloAdapter, ITFlowAdapter)
}
KINDS = tuple(ADAPTERS)


def adapter(config: PsaConfig, http: Http) -> PsaAdapter:
    return ADAPTERS[config.kind](config, http)


__all__ = [
    "ADAPTERS",
    "KINDS",
    "Exchange",
    "Http",
    "NoteIn",
    "PsaAdapter",
    "PsaAuthError",
    "PsaConfig",
    "PsaError",
    "PsaNotFoundError",
    "PsaRateLimitedError",
    "PsaRejectedError",
    "PsaUnavailableError",
    "Ticket",
    "TimeIn",
    "adapter",
    "marker",
]
