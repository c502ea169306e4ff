"""Count the JACK server's xruns from a client of its own, beside the engine (for the soak benchmark).

    with JackXrunMonitor() as xruns:     # the server JACK_DEFAULT_SERVER names (a JackDummyServer's)
        ...
    xruns.count, xruns.delays_us         # xruns the server reported while we watched, and each one's delay

An output underflow that PortAudio reports on JACK is the server's xrun: any late client, or the
driver's own period missed (on the dummy backend, a late timer wake-up on a busy or virtual machine).
The engine's own lateness is the ring's underruns. This monitor registers no ports and no process
callback, so it adds nothing to the graph the server runs each period; it only listens for the xrun
notification (libjack's notification thread, not the audio thread) through ctypes, so no extra package
is needed. jack_get_xrun_delayed_usecs says by how much the period was missed.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import threading

JackNoStartServer = 0x01
XRUN_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p)


class JackXrunMonitor:
    """A portless JACK client that counts xruns; `JackUnavailable`-free: `available` says if it connected."""

    def __init__(self, name: str = "xrun-monitor") -> None:
        self.name = name
        self.count = 0
        self.delays_us: list[float] = []
        self.available = False
        self.problem = ""
        self._lib = None
        self._client = None
        self._callback = XRUN_CALLBACK(self._on_xrun)  # kept alive as long as the client
        self._lock = threading.Lock()

    def _on_xrun(self, _arg) -> int:
        delay = float(self._lib.jack_get_xrun_delayed_usecs(self._client)) if self._lib is not None else 0.0
        with self._lock:
            self.count += 1
            self.delays_us.append(delay)
        return 0

    def start(self) -> JackXrunMonitor:
        path = ctypes.util.find_library("jack") or "libjack.so.0"
        try:
            lib = ctypes.CDLL(path)
        except OSError as exc:
            self.problem = f"libjack not found ({exc})"
            return self
        lib.jack_client_open.restype = ctypes.c_void_p
        lib.jack_client_open.argtypes = [ctypes.c_char_p, ctypes.c_int, ctypes.POINTER(ctypes.c_int)]
        lib.jack_set_xrun_callback.argtypes = [ctypes.c_void_p, XRUN_CALLBACK, ctypes.c_void_p]
        lib.jack_get_xrun_delayed_usecs.restype = ctypes.c_float
        lib.jack_get_xrun_delayed_usecs.argtypes = [ctypes.c_void_p]
        lib.jack_activate.argtypes = [ctypes.c_void_p]
        lib.jack_deactivate.argtypes = [ctypes.c_void_p]
        lib.jack_client_close.argtypes = [ctypes.c_void_p]
        status = ctypes.c_int(0)
        client = lib.jack_client_open(self.name.encode(), JackNoStartServer, ctypes.byref(status))
        if not client:
            self.problem = f"jack_client_open failed (status 0x{status.value:x})"
            return self
        self._lib, self._client = lib, client
        if lib.jack_set_xrun_callback(client, self._callback, None) != 0 or lib.jack_activate(client) != 0:
            self.problem = "could not set the xrun callback or activate"
            self.stop()
            return self
        self.available = True
        return self

    def reset(self) -> None:
        with self._lock:
            self.count = 0
            self.delays_us = []

    def stop(self) -> None:
        if self._client is not None and self._lib is not None:
            if self.available:
                self._lib.jack_deactivate(self._client)
            self._lib.jack_client_close(self._client)
        self._client = None
        self.available = False

    def __enter__(self) -> JackXrunMonitor:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()
