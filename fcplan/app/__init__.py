"""The app: the ``fcplan`` command, the demo and the embedded broker.

The roof: imports every other layer; nothing imports it."""
