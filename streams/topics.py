"""Create fcplan's topics up front (production Kafka often forbids auto-creation)."""

from __future__ import annotations

import contextlib
import logging

from fcplan.core.contracts import TOPICS

log = logging.getLogger(__name__)


def ensure_topics(servers: str, partitions: int, replication: int = 1) -> list[str]:
    """Create every topic of :data:`fcplan.core.contracts.TOPICS` that is missing;
    returns the ones created."""
    from kafka import KafkaAdminClient
    from kafka.admin import NewTopic
    from kafka.errors import TopicAlreadyExistsError

    admin = KafkaAdminClient(bootstrap_servers=servers, client_id="fcplan-admin", bootstrap_timeout_ms=15_000)
    try:
        existing = set(admin.list_topics())
        missing = [name for name in TOPICS if name not in existing]
        if missing:
            with contextlib.suppress(TopicAlreadyExistsError):  # another process won the race
                admin.create_topics([NewTopic(name, partitions, replication) for name in missing])
            log.info("created topics %s with %d partitions", missing, partitions)
        return missing
    finally:
        admin.close()
