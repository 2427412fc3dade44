"""Run a function in a child process with a time and memory limit: da4ml's trace.

A process cannot take back memory a library has grown into, nor stop a call
that loops in native code; a child can be limited (``RLIMIT_AS``) and killed.
The child is spawned (not forked: the parent may hold TensorFlow's threads) and
sends back the function's result, or its exception.
"""

from __future__ import annotations

import multiprocessing
import resource
from collections.abc import Callable
from typing import Any

from pynq_mnist.host_training.conversion.hls4ml_config import ConversionError


def _child(conn, fn: Callable, args: tuple, memory_bytes: int) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    try:
        conn.send((True, fn(*args)))
    except BaseException as e:  # noqa: BLE001 - the parent raises it
        conn.send((False, e))
    finally:
        conn.close()


def run_bounded(fn: Callable, args: tuple, what: str, timeout_s: float, memory_bytes: int) -> Any:
    """``fn(*args)`` in a spawned child; :class:`ConversionError` if it runs out of either.

    ``fn`` and ``args`` must be picklable (a module-level function, arrays, dataclasses).
    """
    ctx = multiprocessing.get_context("spawn")
    receive, send = ctx.Pipe(duplex=False)
    child = ctx.Process(target=_child, args=(send, fn, args, memory_bytes), daemon=True)
    child.start()
    send.close()
    limits = f"(limits: {timeout_s:g} s, {memory_bytes / 2**30:g} GiB)"
    try:
        if not receive.poll(timeout_s):
            raise ConversionError(f"{what} ran past {timeout_s:g} s {limits}; it was stopped")
        ok, value = receive.recv()
    except EOFError:
        child.join(5)
        raise ConversionError(
            f"{what} died (exit status {child.exitcode}) {limits}: most likely out of memory"
        ) from None
    finally:
        if child.is_alive():
            child.kill()
        child.join()
        receive.close()
    if ok:
        return value
    if isinstance(value, MemoryError):
        raise ConversionError(f"{what} ran out of memory {limits}") from None
    raise value
