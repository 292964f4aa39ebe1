"""katflow's events for subscribers.

The event contracts (one frozen pydantic model per event type, ``REGISTRY`` by CloudEvents type,
``topics``) re-exported from katflow, and a FastStream router for katflow's CloudEvents on Kafka
(binary content mode: ``ce_*`` headers, a JSON body)::

    from faststream import FastStream
    from faststream.kafka import KafkaBroker
    from katflow_client import ConsultationRequested, KatflowRouter

    router = KatflowRouter(group_id="acme-crm")

    @router.on(ConsultationRequested)
    async def requested(event: ConsultationRequested) -> None: ...

    broker = KafkaBroker("kafka:9092")
    broker.include_router(router)
    app = FastStream(broker)

See docs/integrators.md.
"""

from katflow_shared.contracts import *  # noqa: F403 - the contracts are this package's API
from katflow_shared.contracts import __all__ as _contracts
from katflow_shared.contracts import topics

from .cloudevents import CloudEvent, InvalidMessage, decode_record
from .router import KatflowRouter, cloud_event

__all__ = [
    *_contracts,
    "CloudEvent",
    "InvalidMessage",
    "KatflowRouter",
    "cloud_event",
    "decode_record",
    "topics",
]
