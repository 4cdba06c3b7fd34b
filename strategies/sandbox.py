"""User code in its own process: the engine's side of a worker, and the worker itself.

A user's rule or indicator runs in a *worker* process that holds that object, its own server's inputs as the
engine sends them, and nothing else: no engine object, no partner, no partner's data. Whatever the user code does
there (read ``gc.get_objects()``, walk frames, patch this package or numpy) reaches that worker only.

**How a worker starts.** Not by ``fork`` from the engine, whose memory (the other server's data, the whole price
history) a forked child would inherit and could read; not by ``multiprocessing``'s spawn or forkserver either,
which import the user's ``__main__`` script again in the child (a script without an ``if __name__ ==
"__main__":`` guard would then run its backtest recursively). A *zygote* is started once per engine process: a
fresh interpreter (``python -c``, so nothing of the engine is in it) that imports numpy, cloudpickle and this
package and then waits. Each worker is a ``fork`` of the zygote, cheap (a few milliseconds) and clean (the zygote
never holds user data: a worker's connection, a socket, is handed to it by file-descriptor passing and the user
object comes over that connection). Where ``fork`` or descriptor passing is missing (Windows), or with
``QCOORD_SANDBOX=spawn``, each worker is a fresh interpreter instead (slower to start, as isolated).

**The protocol.** The engine sends ``(function, args)`` pickled with cloudpickle: the function is this package's
(pickled by reference) and runs in the worker as ``function(held, *args)``, ``held`` being the worker's dict of
state (the user object and what it keeps between calls). The worker answers with a JSON header and raw numeric
arrays, never a pickle: the engine parses JSON and copies bytes into arrays of a whitelisted dtype, so nothing a
compromised worker sends can run code in the engine. Every wait has a timeout; a failure, a crash or a hang is a
``UserCodeError`` of one line naming the user object (its ``label``) and the method it was in.

**Lifetime.** Workers started inside ``session()`` (``run_backtest`` opens one) are stopped when it ends, on every
exit path (an exception, KeyboardInterrupt); others when their owner is garbage-collected, and at exit. A worker
also exits by itself when the engine's end of its connection closes (the engine died). The zygote ignores
Ctrl-C (its own session) and exits when the engine's end of its control socket closes.
"""

from __future__ import annotations

import atexit
import contextlib
import contextvars
import copy
import importlib
import json
import os
import random
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import weakref
from collections.abc import Iterator
from typing import NoReturn

import numpy as np

from .errors import StrategyError

TIMEOUT = 300.0  # seconds a worker may take for one request (a chunk of rounds, an indicator's evaluation)
START_TIMEOUT = 120.0  # seconds the zygote may take to import numpy and this package
HEADER_MAX = 1 << 20  # bytes of a worker's JSON header
DTYPES = {"uint8": np.uint8, "int64": np.int64, "float64": np.float64, "bool": np.bool_}
OPAQUE = "opaque"  # a header's name for bytes the engine forwards but never unpickles (a user object's state)
OPAQUE_MAX = 1 << 30  # bytes of such state


class UserCodeError(StrategyError):
    """User code failed, crashed or hung in its worker (one line naming it and the method)."""


# -- pickling user objects ------------------------------------------------------------------------------------------
def dumps(obj) -> bytes:
    """``obj`` pickled for a worker: by value for the user's own modules (a script, a test file, a module beside
    it), so the worker needs neither their import path nor their top-level code; by reference for installed
    packages and this one."""
    import cloudpickle

    mods = [m for m in _user_modules(obj) if m not in _registered()]
    for m in mods:
        cloudpickle.register_pickle_by_value(m)
    try:
        return cloudpickle.dumps(obj, protocol=5)
    finally:
        for m in mods:
            cloudpickle.unregister_pickle_by_value(m)


def _registered() -> set:
    import cloudpickle.cloudpickle as cp

    return {sys.modules[n] for n in getattr(cp, "_PICKLE_BY_VALUE_MODULES", ()) if n in sys.modules}


def _user_modules(obj) -> list:
    """Modules that define ``obj``'s class (or ``obj`` itself when it is a function), and the functions it holds
    in its ``__dict__``, that are neither this package nor installed (site-packages, the standard library)."""
    import sysconfig

    installed = {
        os.path.realpath(p)
        for k in ("stdlib", "platstdlib", "purelib", "platlib")
        if (p := sysconfig.get_paths().get(k))
    }
    seen, out = set(), []
    things = [obj, type(obj)] + [v for v in getattr(obj, "__dict__", {}).values() if callable(v)]
    for thing in things:
        name = getattr(thing, "__module__", None)
        if not isinstance(name, str):
            continue
        mod = sys.modules.get(name)
        if mod is None or name in seen or name == "__main__" or name.split(".")[0] in ("qcoord", "builtins"):
            continue
        seen.add(name)
        path = getattr(mod, "__file__", None)
        if path and not any(os.path.realpath(path).startswith(p + os.sep) for p in installed):
            out.append(mod)
    return out


# -- the channel: frames over a socket ---------------------------------------------------------------------------------
class Channel:
    """Length-prefixed frames over a stream socket, read straight into their destination (a numpy array's memory):
    ``multiprocessing.connection`` copied every frame through a BytesIO and moved about 200 MB/s, a socket read into
    place about 3 GB/s. ``deadline`` bounds every read and write (``time.monotonic`` seconds; None: no bound)."""

    def __init__(self, sock: socket.socket):
        self.sock = sock
        with contextlib.suppress(OSError):
            for opt in (socket.SO_SNDBUF, socket.SO_RCVBUF):
                sock.setsockopt(socket.SOL_SOCKET, opt, 4 << 20)

    def _timeout(self, deadline: float | None) -> None:
        self.sock.settimeout(None if deadline is None else max(deadline - time.monotonic(), 1e-3))

    def send(self, buf, deadline: float | None = None) -> None:
        view = memoryview(buf).cast("B")
        self._timeout(deadline)
        self.sock.sendall(struct.pack("<Q", view.nbytes))
        if view.nbytes:
            self.sock.sendall(view)

    def _fill(self, view: memoryview, deadline: float | None) -> None:
        got = 0
        while got < view.nbytes:
            self._timeout(deadline)
            k = self.sock.recv_into(view[got:])
            if k == 0:
                raise EOFError("the other end closed the connection")
            got += k

    def _length(self, deadline: float | None) -> int:
        head = bytearray(8)
        self._fill(memoryview(head), deadline)
        return struct.unpack("<Q", head)[0]

    def recv(self, limit: int, deadline: float | None = None) -> bytearray:
        n = self._length(deadline)
        if n > limit:
            raise OSError(f"bad message length: {n} bytes, at most {limit}")
        out = bytearray(n)
        self._fill(memoryview(out), deadline)
        return out

    def recv_into(self, out: np.ndarray, deadline: float | None = None) -> None:
        n = self._length(deadline)
        if n != out.nbytes:
            raise OSError(f"bad message length: {n} bytes for an array of {out.nbytes}")
        # numpy's stubs give ndarray __buffer__ only from Python 3.12 on
        self._fill(memoryview(out).cast("B"), deadline)  # type: ignore[arg-type]

    def close(self) -> None:
        self.sock.close()


def _send_call(chan: Channel, fn, args, deadline: float | None) -> None:
    """``(fn, args)`` cloudpickled, its arrays' buffers sent as frames of their own (no copy into the pickle)."""
    import cloudpickle

    buffers: list = []
    payload = cloudpickle.dumps((fn, args), protocol=5, buffer_callback=buffers.append)
    chan.send(struct.pack("<Q", len(buffers)) + payload, deadline)
    for b in buffers:
        chan.send(b.raw(), deadline)


def _recv_call(chan: Channel):
    import pickle

    msg = chan.recv(1 << 40)
    count = struct.unpack("<Q", msg[:8])[0]
    buffers = [chan.recv(1 << 40) for _ in range(count)]
    return pickle.loads(memoryview(msg)[8:], buffers=buffers)


# -- the engine's side ------------------------------------------------------------------------------------------------
_SESSION: contextvars.ContextVar = contextvars.ContextVar("qcoord_sandbox_session", default=None)
_LIVE: "weakref.WeakSet[Worker]" = weakref.WeakSet()


@contextlib.contextmanager
def session() -> Iterator[list[Worker]]:
    """Workers started inside are stopped when it ends, however it ends."""
    workers: list[Worker] = []
    token = _SESSION.set(workers)
    try:
        yield workers
    finally:
        _SESSION.reset(token)
        for w in workers:
            w.close()


class Worker:
    """One worker process for one user object (``label`` names it in every error: "strategy 'x': server A's
    rule", "indicator f (server B)"); ``kind``: the zygote it is forked from ("rule": compiled kernels loaded)."""

    def __init__(self, label: str, timeout: float | None = None, kind: str = "light"):
        self.label = label
        self.timeout = float(timeout or TIMEOUT)
        self.busy: str | None = None  # the method of a request sent and not yet answered
        self.closed = False
        self.conn, self.kill = _start_worker(self.timeout, kind)
        owner = _SESSION.get()
        if owner is not None:
            owner.append(self)
        _LIVE.add(self)
        self._finalizer = weakref.finalize(self, _close_quietly, self.conn, self.kill, [None])

    # a request is ``send`` then ``receive``; requests to several workers are sent first, then received
    def send(self, fn, *args, what: str = "a call") -> None:
        if self.closed:
            raise UserCodeError(f"{self.label}: its worker was stopped already")
        self.busy = what
        try:
            _send_call(self.conn, fn, args, time.monotonic() + self.timeout)
        except (socket.timeout, TimeoutError):
            self._fail(
                f"{self.label} did not take its input for {what}() within {self.timeout:g} s; its worker was stopped"
            )
        except OSError:
            self._fail(
                f"{self.label}: its process ended unexpectedly before {what}() (a crash: exit, segfault or "
                "out of memory)"
            )

    def receive(self, limits: list[int] | None = None) -> tuple:
        """(value, arrays) of the answer; ``limits``: the largest number of elements each array may have."""
        what = self.busy or "a call"
        blob = self._bytes(HEADER_MAX, what)
        try:
            header = json.loads(blob)
        except ValueError:
            self._fail(f"{self.label}: its worker answered {what}() out of protocol")
        if not isinstance(header, dict):
            self._fail(f"{self.label}: its worker answered {what}() out of protocol")
        if not header.get("ok"):
            method = str(header.get("method") or what)
            self.busy = None
            raise UserCodeError(f"{self.label} failed in {method}(): {str(header.get('error'))[:500]}")
        arrays: list[bytes | np.ndarray] = []
        specs = header.get("arrays") or []
        for i, spec in enumerate(specs):
            dtype, shape = spec
            if dtype == OPAQUE:  # bytes to forward to another worker, never unpickled here
                arrays.append(self._bytes(min(int(shape), OPAQUE_MAX), what))
                continue
            shape = tuple(int(s) for s in shape)
            size = int(np.prod(shape)) if shape else 1
            if dtype not in DTYPES or min(shape, default=0) < 0 or (limits and size > limits[min(i, len(limits) - 1)]):
                self._fail(f"{self.label}: its worker answered {what} with an array it may not send ({dtype}, {shape})")
            out = np.empty(shape, dtype=DTYPES[dtype])
            self._into(out, what)
            arrays.append(out)
        self.busy = None
        return header.get("value"), arrays

    def call(self, fn, *args, what: str = "a call", limits=None):
        self.send(fn, *args, what=what)
        return self.receive(limits)

    def _deadline(self) -> float:
        return time.monotonic() + self.timeout

    def _timed_out(self, what: str) -> NoReturn:
        self._fail(
            f"{self.label} did not answer within {self.timeout:g} s in {what}() (a hang?); its worker was stopped"
        )

    def _bytes(self, limit: int, what: str) -> bytes:
        try:
            return bytes(self.conn.recv(limit, self._deadline()))
        except (socket.timeout, TimeoutError):
            self._timed_out(what)
        except (EOFError, OSError) as exc:
            self._fail(self._crashed(what, exc))

    def _into(self, out: np.ndarray, what: str) -> None:
        try:
            self.conn.recv_into(out, self._deadline())
        except (socket.timeout, TimeoutError):
            self._timed_out(what)
        except (EOFError, OSError) as exc:
            self._fail(self._crashed(what, exc))

    def _crashed(self, what: str, exc: BaseException) -> str:
        if "bad message length" in str(exc):
            return f"{self.label}: its worker sent more than it may in {what}()"
        return f"{self.label}: its process ended unexpectedly in {what}() (a crash: exit, segfault or out of memory)"

    def _fail(self, message: str) -> NoReturn:
        self.close(force=True)
        raise UserCodeError(message)

    def close(self, force: bool = False) -> None:
        """Stop the worker: closing its connection ends an idle one; one still busy in user code is killed."""
        if self.closed:
            return
        self.closed = True
        _close_quietly(self.conn, self.kill, [self.busy if not force else "force"])
        self._finalizer.detach()


def _close_quietly(conn, kill, busy: list) -> None:
    with contextlib.suppress(Exception):
        conn.close()
    if busy[0] is not None:
        with contextlib.suppress(Exception):
            kill()


@atexit.register
def _close_all() -> None:
    if os.getpid() != _OWNER[0]:  # a fork of the engine exiting: the workers and the zygote are its parent's
        return
    for w in list(_LIVE):
        w.close(force=True)
    for z in list(_ZYGOTE.values()):
        z.close()


def _start_worker(timeout: float, kind: str):
    """(connection, kill) of a new worker."""
    if _mode() == "zygote":
        return _zygote(kind).fork(timeout)
    return _spawn(timeout)


def _mode() -> str:
    forced = os.environ.get("QCOORD_SANDBOX", "").strip().lower()
    if forced in ("spawn", "zygote"):
        return forced
    return "zygote" if hasattr(os, "fork") and hasattr(socket, "send_fds") else "spawn"


def _env() -> dict:
    # one thread of BLAS and numba per worker: the cores belong to the engine's lanes; the engine's import path, so
    # that the zygote imports this very package (a checkout put on sys.path by hand included)
    path = os.pathsep.join(p for p in sys.path if p)
    return {
        **os.environ,
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "NUMBA_NUM_THREADS": "1",
        "PYTHONPATH": path,
    }


def _request() -> dict:
    return {"sys_path": list(sys.path), "cwd": os.getcwd()}


class _Zygote:
    """The clean process workers are forked from (module docstring)."""

    def __init__(self, kind: str) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        self.lock = threading.Lock()
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "from qcoord.strategies.sandbox import zygote_main; zygote_main()",
                kind,
                str(theirs.fileno()),
            ],
            pass_fds=(theirs.fileno(),),
            start_new_session=True,
            env=_env(),
            stdin=subprocess.DEVNULL,
        )
        theirs.close()
        self.sock = ours
        self.sock.settimeout(START_TIMEOUT)
        try:
            ready = self._line()
        except (OSError, ValueError) as exc:
            self.close()
            raise UserCodeError(f"the process that starts user code's workers did not start ({exc})") from None
        if ready.get("ready") is not True:
            self.close()
            raise UserCodeError("the process that starts user code's workers did not start")
        self.loaded: set[str] = set()

    def load(self, modules: list[str]) -> None:
        """Import ``modules`` in the zygote (a failure only means workers import them themselves)."""
        with self.lock:
            with contextlib.suppress(OSError, ValueError):
                self.sock.sendall(json.dumps({"preload": modules}).encode() + b"\n")
                self._line()
        self.loaded.update(modules)

    def _line(self) -> dict:
        buf = b""
        while not buf.endswith(b"\n"):
            part = self.sock.recv(4096)
            if not part:
                raise ValueError("it exited")
            buf += part
        return json.loads(buf)

    def fork(self, timeout: float):
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            with self.lock:
                socket.send_fds(self.sock, [json.dumps(_request()).encode() + b"\n"], [theirs.fileno()])
                pid = int(self._line()["pid"])
        except (OSError, ValueError, KeyError) as exc:
            ours.close()
            raise UserCodeError(f"could not start a worker for user code ({exc})") from None
        finally:
            theirs.close()
        pidfd = None
        with contextlib.suppress(Exception):
            pidfd = os.pidfd_open(pid)

        def kill() -> None:
            if pidfd is not None:
                with contextlib.suppress(Exception):
                    signal.pidfd_send_signal(pidfd, signal.SIGKILL)
                with contextlib.suppress(Exception):
                    os.close(pidfd)
            else:
                with contextlib.suppress(Exception):
                    os.kill(pid, signal.SIGKILL)

        return Channel(ours), kill

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.sock.close()  # the zygote exits at end of file
        with contextlib.suppress(Exception):
            self.proc.wait(2)
        with contextlib.suppress(Exception):
            self.proc.kill()


# Two zygotes: "rule" preloads numba and this package's compiled kernels (a rule's worker lives for a run; table
# lookups are compiled), "light" only numpy, cloudpickle and pandas: half the memory, so a fork (an indicator's
# evaluation, a resource's table) costs about half as much.
KINDS = ("rule", "light")
_ZYGOTE: dict = {}
_OWNER = [os.getpid()]  # the process whose zygotes and workers these are
_ZLOCK = threading.Lock()
PRELOAD: dict[str, list[str]] = {k: [] for k in KINDS}  # modules of this package workers run (``preload``)


def preload(module: str, kind: str = "light") -> None:
    """Have ``kind``'s zygote import ``module`` (a module of this package whose functions workers run), so that a
    worker forked from it does not import it again: an evaluation in a fresh worker then costs a fork, not an
    import."""
    if module.startswith("qcoord.") and module not in PRELOAD[kind]:
        PRELOAD[kind].append(module)


def _zygote(kind: str) -> _Zygote:
    with _ZLOCK:
        if os.getpid() != _OWNER[0]:  # a fork of the engine (a library's worker) starts its own: the socket is shared
            _OWNER[0] = os.getpid()
            _ZYGOTE.clear()
            _LIVE.clear()  # the parent's workers, not this process's to stop
        z = _ZYGOTE.get(kind)
        if z is None or z.proc.poll() is not None:
            z = _ZYGOTE[kind] = _Zygote(kind)
        missing = [m for m in PRELOAD[kind] if m not in z.loaded]
        if missing:
            z.load(missing)
        return z


def _spawn(timeout: float):
    """A fresh interpreter as the worker (no fork): it connects back to a listening socket (a Unix socket, or
    loopback TCP where there is none) and proves itself with a one-time key."""
    key = os.urandom(32)
    if hasattr(socket, "AF_UNIX"):
        import tempfile

        folder = tempfile.mkdtemp(prefix="qcoord-")
        address: str | tuple = os.path.join(folder, "worker")
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    else:
        folder, address = None, ("127.0.0.1", 0)
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        listener.bind(address)
        listener.listen(1)
        address = listener.getsockname()
        proc = subprocess.Popen(
            [sys.executable, "-c", "from qcoord.strategies.sandbox import spawn_main; spawn_main()"],
            stdin=subprocess.PIPE,
            env=_env(),
            start_new_session=True,
        )
        assert proc.stdin is not None  # stdin=PIPE
        proc.stdin.write(json.dumps({**_request(), "address": address, "key": key.hex()}).encode())
        proc.stdin.close()
        listener.settimeout(START_TIMEOUT)
        try:
            sock, _ = listener.accept()
        except OSError:
            proc.kill()
            raise UserCodeError("could not start a worker for user code (it did not connect)") from None
        chan = Channel(sock)
        if bytes(chan.recv(64, time.monotonic() + START_TIMEOUT)) != key:
            proc.kill()
            raise UserCodeError("could not start a worker for user code (it did not prove its key)")
        return chan, proc.kill
    finally:
        listener.close()
        if folder is not None:
            import shutil

            shutil.rmtree(folder, ignore_errors=True)


# -- the worker's side ------------------------------------------------------------------------------------------------
def zygote_main() -> None:
    """The zygote: preload, then fork one worker per request (module docstring)."""
    ctl = socket.socket(fileno=int(sys.argv[-1]))
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # workers are reaped by the system, never zombies
    _preload(sys.argv[-2])
    ctl.sendall(b'{"ready": true}\n')
    buf = b""
    while True:
        try:
            data, fds, _, _ = socket.recv_fds(ctl, 1 << 16, 4)
        except OSError:
            break
        if not data:
            break
        buf += data
        if not buf.endswith(b"\n"):
            for fd in fds:
                os.close(fd)
            continue
        req, buf = json.loads(buf), b""
        if "preload" in req:
            for m in req["preload"]:
                with contextlib.suppress(Exception):
                    if str(m).startswith("qcoord."):
                        importlib.import_module(m)
            ctl.sendall(b'{"ok": true}\n')
            continue
        if len(fds) != 1:
            for fd in fds:
                os.close(fd)
            ctl.sendall(b'{"pid": -1}\n')
            continue
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                ctl.close()
                signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                _serve(Channel(socket.socket(fileno=fds[0])), req)
            except BaseException:  # noqa: BLE001 - the worker's end
                code = 1
            finally:
                os._exit(code)
        os.close(fds[0])
        ctl.sendall(json.dumps({"pid": pid}).encode() + b"\n")
    os._exit(0)


def spawn_main() -> None:
    """A worker started as a fresh interpreter (no fork available)."""
    req = json.loads(sys.stdin.read())
    if hasattr(signal, "SIGINT"):
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    address = req["address"]
    family = socket.AF_INET if isinstance(address, list) else socket.AF_UNIX
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.connect(tuple(address) if isinstance(address, list) else address)
    chan = Channel(sock)
    chan.send(bytes.fromhex(req["key"]))
    _serve(chan, req)


def _preload(kind: str) -> None:
    import cloudpickle  # noqa: F401

    with contextlib.suppress(Exception):
        import pandas  # noqa: F401 - indicators read views built on pandas
    if kind == "rule":
        from . import kernels, strategy  # noqa: F401

        x = np.zeros(4, dtype=np.uint8)
        kernels.lookup(np.zeros(2, dtype=np.uint8), x)  # compiled (or loaded from numba's cache) once, for every fork
        kernels.lookup2(np.zeros(2, dtype=np.uint8), x, x, 1)


def _serve(chan: Channel, req: dict) -> None:
    """Answer requests until the engine closes the connection."""
    with contextlib.suppress(OSError):
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.dup2(2, 1)  # a print in user code goes to the engine's stderr
    sys.path[:] = req.get("sys_path") or sys.path
    with contextlib.suppress(OSError):
        os.chdir(req.get("cwd") or os.getcwd())
    held: dict = {}
    while True:
        try:
            fn, args = _recv_call(chan)
        except (EOFError, OSError):
            return
        held["method"] = None
        try:
            value, arrays = fn(held, *args)
            header = {
                "ok": True,
                "value": value,
                "arrays": [[OPAQUE, len(a)] if isinstance(a, bytes) else [a.dtype.name, list(a.shape)] for a in arrays],
            }
            blob = json.dumps(header).encode()
        except BaseException as exc:  # noqa: BLE001 - user code: any failure is reported, in one line
            text = f"{type(exc).__name__}: {exc}".replace("\n", " ")
            blob = json.dumps({"ok": False, "error": text, "method": held.get("method")}).encode()
            arrays = []
        try:
            chan.send(blob)
            for a in arrays:
                chan.send(a if isinstance(a, bytes) else np.ascontiguousarray(a))
        except (OSError, ValueError):
            return


def user_call(held: dict, method: str, fn, *args):
    """``fn(*args)`` in user code, recorded as ``method`` for the error message."""
    held["method"] = method
    out = fn(*args)
    held["method"] = None
    return out


def fresh_clock_and_seed(seed: int, clock: float) -> None:
    """Before each play of a chunk: the global random generators seeded alike and the wall clock read as the
    chunk's (the same in the real play and every replay, and on both servers): a rule that draws from numpy's or
    Python's global generator, or reads ``time.time()``, plays the same in all of them."""
    np.random.seed(seed % (1 << 32))
    random.seed(seed)
    ns = int(clock * 1e9)
    time.time = lambda: clock
    time.time_ns = lambda: ns


def deep_copies(held: dict, obj, n: int) -> list:
    held["method"] = "__deepcopy__"
    out = [copy.deepcopy(obj) for _ in range(n)]
    held["method"] = None
    return out
