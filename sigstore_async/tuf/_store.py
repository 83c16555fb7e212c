"""The local TUF store: metadata and target files on disk, and the lock over them.

Owns: the layout of a metadata directory (unversioned ``root.json``,
``timestamp.json``, ``snapshot.json``, ``targets.json`` and ``<role>.json``
for delegated roles, as the TUF client conformance protocol expects, plus every
root version in ``root_history/<version>.root.json`` and the time of the last
successful refresh in ``refreshed-at``), atomic writes (a temporary file in the
same directory, then a rename: a reader never sees half a file), and
a cross-process lock so that processes sharing a directory take turns.

Everything read from here is untrusted: the updater verifies it again, from the
trusted root, before using it. Does not own: deciding what is trusted
(``_trusted``), or what to fetch (``_updater``).

Blocking file work runs in worker threads: the async methods wrap the ``*_sync``
ones, which read or write a whole batch per call.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import tempfile
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from urllib.parse import quote

import anyio
import attrs

__all__ = ["LocalFiles", "MetadataStore", "role_filename", "target_filename"]

logger = logging.getLogger(__name__)

ROOT_HISTORY = "root_history"
REFRESHED_AT = "refreshed-at"
LOCK_FILE = "lock"
# Never read more than this from a cached file: the cache is untrusted.
_MAX_FILE = 16 * 1024 * 1024


def role_filename(role: str) -> str:
    """The file (and URL) name of a role's metadata: the role name percent-encoded
    entirely (``/`` included), so that no role name can reach another directory."""
    return quote(role, safe="") + ".json"


def target_filename(path: str) -> str:
    """The file name under which target ``path`` is cached: percent-encoded
    entirely, with a leading dot encoded too (``.``, ``..`` and hidden names)."""
    name = quote(path, safe="")
    if not name or name.startswith("."):
        name = "%2E" + name[1:]
    return name


@attrs.frozen
class LocalFiles:
    """What a metadata directory held when it was read (untrusted)."""

    #: Top-level ``*.json`` files by name (``root.json``, ``timestamp.json``, ...).
    files: Mapping[str, bytes] = attrs.field(factory=dict)
    #: ``root_history`` by version.
    roots: Mapping[int, bytes] = attrs.field(factory=dict)
    #: When the last refresh that completed wrote this directory, if recorded.
    refreshed_at: datetime | None = None


def _read(path: Path) -> bytes | None:
    try:
        with path.open("rb") as f:
            data = f.read(_MAX_FILE + 1)
    except OSError:
        return None
    return data if len(data) <= _MAX_FILE else None


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old or the new file, whole.

    A temporary file in the same directory, renamed over the target (atomic on
    POSIX and Windows). There is deliberately no fsync: every file here is
    verified again when it is read, so one that a power cut truncates is just
    a cache miss, and durability is not worth a disk flush per file.

    Raises:
        OSError: the file could not be written.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def read_file(path: Path) -> bytes | None:
    """The bytes of ``path``, or ``None`` if it cannot be read (or is absurdly large)."""
    return _read(path)


class MetadataStore:
    """A directory of TUF metadata for one repository.

    The directory is created on the first write. Share it between processes
    only under :meth:`lock`.
    """

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)

    def __repr__(self) -> str:
        return f"MetadataStore({str(self.directory)!r})"

    # -- reading -----------------------------------------------------------------------------

    def read_sync(self) -> LocalFiles:
        """Everything the directory holds (blocking)."""
        files: dict[str, bytes] = {}
        roots: dict[int, bytes] = {}
        refreshed_at: datetime | None = None
        try:
            entries = list(os.scandir(self.directory))
        except OSError:
            return LocalFiles()
        for entry in entries:
            if entry.name.endswith(".json") and entry.is_file():
                data = _read(Path(entry.path))
                if data is not None:
                    files[entry.name] = data
        history = self.directory / ROOT_HISTORY
        with contextlib.suppress(OSError):
            for entry in os.scandir(history):
                version, _, rest = entry.name.partition(".")
                if (
                    rest == "root.json"
                    and version.isascii()
                    and version.isdigit()
                    and entry.is_file()
                ):
                    data = _read(Path(entry.path))
                    if data is not None:
                        roots[int(version)] = data
        stamp = _read(self.directory / REFRESHED_AT)
        if stamp is not None:
            try:
                refreshed_at = datetime.fromisoformat(stamp.decode("ascii").strip())
            except (UnicodeDecodeError, ValueError):
                refreshed_at = None
            if refreshed_at is not None and refreshed_at.tzinfo is None:
                refreshed_at = None
        return LocalFiles(files=files, roots=roots, refreshed_at=refreshed_at)

    async def read(self) -> LocalFiles:
        """Everything the directory holds, read in a worker thread."""
        return await anyio.to_thread.run_sync(self.read_sync)

    # -- writing -----------------------------------------------------------------------------

    def write_sync(self, files: Mapping[str, bytes]) -> None:
        """Write each file atomically, in order (blocking). Names are relative
        to the directory (``root_history/3.root.json`` included).

        Raises:
            OSError: a file could not be written (the ones before it were).
        """
        for name, data in files.items():
            write_atomic(self.directory / name, data)

    async def write(self, files: Mapping[str, bytes]) -> None:
        """:meth:`write_sync` in a worker thread."""
        if files:
            await anyio.to_thread.run_sync(self.write_sync, dict(files))

    @staticmethod
    def refreshed_at_bytes(when: datetime) -> bytes:
        return when.isoformat().encode("ascii")

    # -- locking -----------------------------------------------------------------------------

    @asynccontextmanager
    async def lock(self, *, required: bool = True) -> AsyncIterator[None]:
        """Hold the directory's cross-process lock for the block.

        With ``required=False`` a directory where the lock file cannot be
        created (read-only, for offline use of a cache) is used unlocked:
        every file is replaced atomically, so a reader can at worst see files
        of two refreshes, which fail verification together.

        An exclusive ``flock`` (``msvcrt.locking`` on Windows) on ``lock`` in
        the directory. It is polled without blocking rather than waited for in a
        worker thread: a blocked thread cannot be cancelled, and one abandoned
        by a timeout would take the lock later and hold it for nothing. The lock
        belongs to an open file, so it also orders two updaters of one process
        (which ``Sigstore``'s single-flight normally makes unnecessary). The
        operating system drops it if the process dies.

        Raises:
            OSError: the lock file cannot be created.
        """
        try:
            fd = await anyio.to_thread.run_sync(self._open_lock)
        except OSError as e:
            if required:
                raise
            logger.debug("no lock on %s: %s", self.directory, e)
            yield
            return
        try:
            delay = 0.002
            while not _try_lock(fd):
                await anyio.sleep(delay)
                delay = min(delay * 2, 0.05)
            try:
                yield
            finally:
                _unlock(fd)
        finally:
            os.close(fd)

    def _open_lock(self) -> int:
        self.directory.mkdir(parents=True, exist_ok=True)
        return os.open(self.directory / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)


if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
    import msvcrt

    def _try_lock(fd: int) -> bool:
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True

    def _unlock(fd: int) -> None:
        with contextlib.suppress(OSError):
            os.lseek(fd, 0, os.SEEK_SET)
            msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def _try_lock(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)
