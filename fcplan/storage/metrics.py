"""Names of the worker's counters in ``stream_metrics`` (one row per name and reason).

``orders``/``accepted`` and ``orders``/``duplicate`` count stored and repeated orders;
``orders_dead_letters``/<reason> the rejected ones (reasons: ``fcplan.streams.validation``);
the same for ``promotions``.
"""

from __future__ import annotations

ORDERS = "orders"
PROMOTIONS = "promotions"
ORDERS_DEAD_LETTERS = "orders_dead_letters"
PROMOTIONS_DEAD_LETTERS = "promotions_dead_letters"
DEAD_LETTERS_SUFFIX = "_dead_letters"

ACCEPTED = "accepted"
DUPLICATE = "duplicate"

#: The counters that together account for every order the worker has read.
ORDERS_PROCESSED = (ORDERS, ORDERS_DEAD_LETTERS)
