"""Shared-memory slots that carry fetches from the orders consumer to its writer process.

A fetch of 5,000 orders is about 650 KB. Sent down the socket pair, it went in
pieces of the kernel's socket buffer (208 KB unless ``net.core.wmem_max`` is
raised), each piece pushed by the consumer's event loop, and whenever that loop
was busy turning Kafka records into objects the writer sat waiting for the
rest of its next batch: a fifth of its time at full speed
(``benchmarks/stream_throughput.py``). So the consumer copies each pickled
fetch into a slot of an anonymous shared-memory file and sends only the slot's
number and the payload's size; the writer reads the payload from there.

The file comes from ``memfd_create`` and travels to the writer over the socket
pair (``SCM_RIGHTS``): it has no name, so a SIGKILL of either process leaves
nothing behind, and its pages are only allocated as far as fetches touch them.
Slots are handed out and given back by the consumer alone (a slot is free again
once the writer answered for its batch); a payload that finds no free slot, or
does not fit one, travels inline through the socket. Where
``memfd_create`` does not exist (not Linux) every fetch travels inline.
"""

from __future__ import annotations

import mmap
import os
import socket
import struct
from dataclasses import dataclass

#: Bytes a slot holds: a pickled fetch of 5,000 orders is about 0.7 MB.
SLOT_BYTES = 16 * 1024**2
_HELLO = struct.Struct("<QQ")  # slots, bytes per slot; the file descriptor rides along


@dataclass(frozen=True)
class InSlot:
    """What the socket carries for a payload of ``size`` bytes stored in slot ``slot``."""

    slot: int
    size: int


class FetchSlots:
    """The consumer's side: a shared-memory file of ``slots`` slots and which are in use."""

    def __init__(self, slots: int, slot_bytes: int = SLOT_BYTES) -> None:
        self.slots = slots if hasattr(os, "memfd_create") else 0
        self.slot_bytes = slot_bytes
        self._free = list(range(self.slots))[::-1]
        self._fd = -1
        self._map: mmap.mmap | None = None
        if self.slots:
            self._fd = os.memfd_create("fcplan-order-fetches", os.MFD_CLOEXEC)
            os.ftruncate(self._fd, self.slots * slot_bytes)
            self._map = mmap.mmap(self._fd, self.slots * slot_bytes)

    def send_to(self, sock: socket.socket) -> None:
        """Hand the file to the writer (before anything else goes down ``sock``)."""
        hello = _HELLO.pack(self.slots, self.slot_bytes)
        if self.slots:
            socket.send_fds(sock, [hello], [self._fd])
            os.close(self._fd)  # the mapping keeps the file open
            self._fd = -1
        else:
            sock.sendall(hello)

    def put(self, payload: bytes) -> InSlot | None:
        """Copy ``payload`` into a free slot; None when none is free or it does not fit."""
        if not self._free or len(payload) > self.slot_bytes or self._map is None:
            return None
        slot = self._free.pop()
        start = slot * self.slot_bytes
        self._map[start : start + len(payload)] = payload
        return InSlot(slot, len(payload))

    def release(self, slot: int) -> None:
        """The writer answered for the payload in ``slot``: it may be reused."""
        self._free.append(slot)

    def close(self) -> None:
        if self._map is not None:
            self._map.close()
            self._map = None
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


class SlotReader:
    """The writer's side: reads payloads out of the consumer's slots."""

    def __init__(self, sock: socket.socket) -> None:
        """Receive the slots file from the consumer (the first message on ``sock``)."""
        hello, fds = b"", []
        while len(hello) < _HELLO.size:
            data, got, _, _ = socket.recv_fds(sock, _HELLO.size - len(hello), 1)
            if not data:
                raise ConnectionError("the orders consumer closed the socket before sending its slots")
            hello, fds = hello + data, fds + got
        slots, self.slot_bytes = _HELLO.unpack(hello)
        self._map = mmap.mmap(fds[0], slots * self.slot_bytes) if slots else None
        for fd in fds:
            os.close(fd)

    def read(self, where: InSlot) -> bytes:
        """A copy of the payload in ``where`` (the slot is reused once the batch is answered)."""
        assert self._map is not None, "the consumer sent a slot but shares no slots file"
        start = where.slot * self.slot_bytes
        return self._map[start : start + where.size]

    def close(self) -> None:
        if self._map is not None:
            self._map.close()
