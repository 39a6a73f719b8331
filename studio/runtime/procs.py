"""Linux process facts for supervision: parent-death signal, identity, descendants, listeners.

Everything reads ``/proc`` and degrades to "unknown" (None, empty) elsewhere, so callers can
always run; only Linux gets the guarantees (children die with the supervisor, leftovers are
recognised by their start time).
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import signal
from collections.abc import Callable
from pathlib import Path

PR_SET_PDEATHSIG = 1
_PROC = Path("/proc")


def _libc() -> ctypes.CDLL | None:
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    except OSError:
        return None


_LIBC = _libc()  # loaded now: a preexec_fn must not load libraries after fork


def set_parent_death_signal(sig: int) -> bool:
    """Ask the kernel to send ``sig`` to this process when its parent thread dies.

    Survives ``execve`` (not set-uid ones). False where unsupported (not Linux).
    """
    if _LIBC is None or not hasattr(_LIBC, "prctl"):
        return False
    return int(_LIBC.prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0)) == 0


def die_with_parent(sig: int, parent_pid: int) -> bool:
    """``set_parent_death_signal`` plus the race it leaves open: a parent that died before
    the call is no longer our parent, so we end ourselves at once."""
    ok = set_parent_death_signal(sig)
    if ok and os.getppid() != parent_pid:
        os.kill(os.getpid(), signal.SIGKILL)
    return ok


def child_preexec(sig: int) -> Callable[[], None]:
    """A ``preexec_fn`` for ``Popen``: the child gets ``sig`` when this process dies.

    The spawning thread must live as long as the child (the kernel watches the thread):
    the supervisor spawns from its main thread.
    """
    parent = os.getpid()

    def preexec() -> None:
        die_with_parent(sig, parent)

    return preexec


def start_time(pid: int) -> int | None:
    """The process start time in clock ticks since boot (field 22 of /proc/PID/stat)."""
    try:
        stat = (_PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after the last ")".
    fields = stat[stat.rfind(")") + 2 :].split()
    try:
        return int(fields[19])
    except (IndexError, ValueError):
        return None


def is_alive(pid: int) -> bool:
    """True for a running process (a zombie counts as dead)."""
    try:
        stat = (_PROC / str(pid) / "stat").read_text()
    except OSError:
        if _PROC.exists():
            return False
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    return stat[stat.rfind(")") + 2 :][:1] not in ("Z", "X")


def cmdline(pid: int) -> list[str]:
    try:
        raw = (_PROC / str(pid) / "cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def environ_value(pid: int, key: str) -> str | None:
    """One variable of another process's environment (ours only: same user)."""
    try:
        raw = (_PROC / str(pid) / "environ").read_bytes()
    except OSError:
        return None
    prefix = key.encode() + b"="
    for item in raw.split(b"\0"):
        if item.startswith(prefix):
            return item[len(prefix) :].decode(errors="replace")
    return None


def children(pid: int) -> list[int]:
    """Direct children of ``pid`` (from every thread's ``children`` list)."""
    found: list[int] = []
    with contextlib.suppress(OSError):
        for task in (_PROC / str(pid) / "task").iterdir():
            with contextlib.suppress(OSError):
                found.extend(int(p) for p in (task / "children").read_text().split())
    return found


def descendants(pid: int) -> list[int]:
    """Children, grandchildren… of ``pid``, parents first."""
    out: list[int] = []
    todo = [pid]
    while todo:
        for child in children(todo.pop()):
            if child not in out:
                out.append(child)
                todo.append(child)
    return out


def _listening_inodes(port: int) -> set[str]:
    inodes: set[str] = set()
    for table in ("tcp", "tcp6"):
        with contextlib.suppress(OSError):
            for line in (_PROC / "net" / table).read_text().splitlines()[1:]:
                cols = line.split()
                if len(cols) > 9 and cols[3] == "0A" and int(cols[1].rsplit(":", 1)[1], 16) == port:
                    inodes.add(cols[9])
    return inodes


def listening_pids(port: int) -> set[int]:
    """Processes of this user that hold a socket listening on TCP ``port``."""
    inodes = _listening_inodes(port)
    if not inodes:
        return set()
    wanted = {f"socket:[{inode}]" for inode in inodes}
    pids: set[int] = set()
    for entry in _PROC.iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            for fd in (entry / "fd").iterdir():
                with contextlib.suppress(OSError):
                    if os.readlink(fd) in wanted:
                        pids.add(int(entry.name))
                        break
    return pids
