"""The report folder: the marker rule (a folder without :data:`MARKER` is never overwritten) and its
atomic replacement, so that a reader of ``--out DIR`` always sees a complete report."""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any, Callable

__all__ = ["MARKER", "ReportError", "prepare_target", "write_atomically"]

#: Marker file written into every report folder: only folders holding it may be overwritten.
MARKER = ".l2l-report"


class ReportError(Exception):
    """A target folder or option the report cannot use (the CLI prints it in one line, exit 2)."""

def _check_target(out: Path) -> None:
    if out.exists() or out.is_symlink():
        if not out.is_dir() or out.is_symlink():
            raise ReportError(f"--out: {out} exists and is not a directory")
        if not (out / MARKER).is_file() and any(out.iterdir()):
            raise ReportError(
                f"--out: {out} exists and is not an l2l report (no {MARKER} marker); refusing to overwrite it"
            )
    parent = out.resolve().parent
    if not parent.is_dir():
        raise ReportError(f"--out: parent folder {parent} does not exist")


# -- atomic replacement of the report folder ------------------------------------------------------
#
# A reader of ``--out DIR`` sees the complete old report or the complete new one, never neither,
# whatever instant the writer is killed at, and concurrent runs into one DIR each complete.
#
# - The new report is built in ``.DIR.tmp-XXXX`` beside DIR. Its marker is written first, and the
#   folder is ``flock``-ed by the building process for as long as it lives (the kernel drops the
#   lock when the process dies, SIGKILL included), so a leftover can be told from a live build.
# - It is swapped in with one ``renameat2(RENAME_EXCHANGE)`` (Linux 3.15+, via libc): DIR then holds
#   the new report, ``.DIR.tmp-XXXX`` the old one, which is deleted with its marker last. When DIR
#   does not exist, ``renameat2(RENAME_NOREPLACE)`` moves the build there (and if another run created
#   DIR meanwhile, the exchange is used instead). If what the exchange displaced turns out to be no
#   report (no marker, not empty: something replaced DIR after the check), it is swapped back.
# - The short steps that look at or rename these folders (creating a build, sweeping leftovers, the
#   check and the swap) run under an ``flock`` of the parent folder, so concurrent runs take turns
#   there; each completes, and DIR holds the report of the run that swapped last.
# - Each run first sweeps leftovers of DIR's killed runs: an unlocked ``.DIR.tmp-*``/``.DIR.old-*``
#   folder holding the marker (or empty) is deleted; any other is left alone and named on stderr.
# - Fallback where renameat2 is missing or the file system refuses it (not Linux, some network and
#   FUSE file systems: ENOSYS, EINVAL, ENOTSUP): two renames, DIR -> ``.DIR.old-XXXX`` then build ->
#   DIR. A kill between them leaves no DIR for a moment; the next run's sweep then renames the old
#   report back to DIR before doing anything else. Without ``flock`` (EOPNOTSUPP, no fcntl module)
#   leftovers are only reported, never deleted.

_RENAME_NOREPLACE = 1
_RENAME_EXCHANGE = 2
_UNSUPPORTED = {getattr(errno, name) for name in ("ENOSYS", "EINVAL", "ENOTSUP", "EOPNOTSUPP") if hasattr(errno, name)}
_renameat2_fn: Any = None


def _renameat2(src: Path, dst: Path, flags: int) -> None:
    """``renameat2(2)`` through libc; OSError(ENOSYS) where libc has no such function."""
    global _renameat2_fn
    if _renameat2_fn is None:
        import ctypes

        try:
            fn = getattr(ctypes.CDLL(None, use_errno=True), "renameat2")
            fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
            fn.restype = ctypes.c_int
        except Exception:  # noqa: BLE001 - no such libc function, or no libc to load (not POSIX)
            fn = False
        _renameat2_fn = fn
    if not _renameat2_fn:
        raise OSError(errno.ENOSYS, "renameat2 is not available")
    import ctypes

    at_fdcwd = -100
    if _renameat2_fn(at_fdcwd, os.fsencode(src), at_fdcwd, os.fsencode(dst), flags) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err), str(src), None, str(dst))


def _flock(path: Path, *, wait: bool) -> int | None:
    """An exclusive ``flock`` on a folder: its fd while held; None when another process holds it
    (only with ``wait=False``). Raises OSError(ENOTSUP) where locks are unsupported."""
    try:
        import fcntl
    except ImportError:
        raise OSError(errno.ENOTSUP, "no fcntl module") from None
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_NOFOLLOW", 0))
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
    except BlockingIOError:
        os.close(fd)
        return None
    except OSError:
        os.close(fd)
        raise
    return fd


class _ParentLock:
    """The parent folder's ``flock`` around a short step (a no-op where locks are unsupported)."""

    def __init__(self, parent: Path) -> None:
        self.parent = parent
        self.fd: int | None = None

    def __enter__(self) -> "_ParentLock":
        try:
            self.fd = _flock(self.parent, wait=True)
        except OSError:
            self.fd = None
        return self

    def __exit__(self, *exc: object) -> None:
        if self.fd is not None:
            os.close(self.fd)


def _is_report_or_empty(path: Path) -> bool:
    try:
        return (path / MARKER).is_file() or not any(path.iterdir())
    except OSError:
        return False


def _remove_folder(path: Path) -> None:
    """Delete a report folder, its marker last (a kill midway leaves a folder the sweep still knows)."""
    try:
        entries = list(os.scandir(path))
    except FileNotFoundError:
        return
    for entry in entries:
        if entry.name == MARKER:
            continue
        if entry.is_dir(follow_symlinks=False):
            shutil.rmtree(entry.path, ignore_errors=True)
        else:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(entry.path)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path / MARKER)
    with contextlib.suppress(OSError):  # not empty: something else wrote there; the next sweep reports it
        os.rmdir(path)


def _leftovers(out: Path) -> list[Path]:
    prefixes = (f".{out.name}.tmp-", f".{out.name}.old-")
    try:
        return sorted(p for p in out.parent.iterdir() if p.name.startswith(prefixes))
    except OSError:
        return []


def _sweep(out: Path) -> list[tuple[Path, int]]:
    """Under the parent lock: take the leftovers of killed runs into DIR (restoring an old report
    when DIR is missing); returns them with their lock fds, for :func:`_remove_folder`."""
    taken = []
    for path in _leftovers(out):
        if path.is_symlink() or not path.is_dir():
            print(f"l2l: left alone: {path} (not a folder l2l report made)", file=sys.stderr)
            continue
        try:
            fd = _flock(path, wait=False)
        except OSError:
            print(f"l2l: left alone: {path} (cannot tell whether a run still uses it)", file=sys.stderr)
            continue
        if fd is None:  # a live run's build
            continue
        if not _is_report_or_empty(path):
            os.close(fd)
            print(f"l2l: left alone: {path} (no {MARKER} marker)", file=sys.stderr)
            continue
        if not os.path.lexists(out) and (path / MARKER).is_file() and path.name.startswith(f".{out.name}.old-"):
            os.rename(path, out)  # a killed fallback swap: the old report goes back first
            os.close(fd)
            continue
        taken.append((path, fd))
    return taken


def _install(tmp: Path, out: Path) -> Path | None:
    """Under the parent lock: put the finished build ``tmp`` at ``out`` atomically. Returns the
    path that now holds the replaced report (to delete), or None."""
    for _ in range(8):  # each retry follows a change made by another process; a few suffice
        _check_target(out)
        if not os.path.lexists(out):
            try:
                _renameat2(tmp, out, _RENAME_NOREPLACE)
                return None
            except FileExistsError:
                continue  # created meanwhile: check it, then exchange
            except OSError as exc:
                if exc.errno not in _UNSUPPORTED:
                    raise
                try:
                    os.rename(tmp, out)  # fallback: fails unless out is absent or an empty folder
                except OSError as exc2:
                    if exc2.errno in (errno.EEXIST, errno.ENOTEMPTY):
                        continue
                    raise
                return None
        try:
            _renameat2(tmp, out, _RENAME_EXCHANGE)
        except FileNotFoundError:
            continue  # out vanished meanwhile
        except OSError as exc:
            if exc.errno not in _UNSUPPORTED:
                raise
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
            old.rmdir()
            os.rename(out, old)  # fallback: two renames (see above)
            try:
                os.rename(tmp, out)
            except BaseException:
                os.rename(old, out)
                raise
            return old
        if not _is_report_or_empty(tmp):  # something not ours was put at out after the check
            _renameat2(tmp, out, _RENAME_EXCHANGE)
            raise ReportError(f"--out: {out} was replaced by a folder that is not an l2l report; left it alone")
        return tmp
    raise ReportError(f"--out: {out} keeps changing under another process; report not written")


def _target(out: str | Path) -> Path:
    out = Path(out)
    if out.name in ("", ".", ".."):
        raise ReportError(f"--out: {str(out)!r} must name a folder (e.g. report)")
    return out.parent.resolve() / out.name


def prepare_target(out: str | Path) -> Path:
    """Check ``out`` (see :func:`_check_target`) and sweep the leftovers of killed runs into it
    (restoring the old report if a killed run left none). Returns the absolute target path."""
    out = _target(out)
    _check_target(out)
    with _ParentLock(out.parent):
        taken = _sweep(out)
    for path, fd in taken:
        _remove_folder(path)
        os.close(fd)
    return out


def write_atomically(out: str | Path, fill: Callable[[Path], None]) -> None:
    """Fill a new report folder (``fill(folder)`` writes its files) and make it ``out`` atomically
    (see "atomic replacement" above): built in a locked temporary folder beside ``out``, then
    swapped in with one rename."""
    out = prepare_target(out)
    build_lock = old_lock = None
    with _ParentLock(out.parent):
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
        with contextlib.suppress(OSError):
            build_lock = _flock(tmp, wait=False)
        (tmp / MARKER).write_text("l2l report folder: `l2l report` may overwrite it\n", encoding="utf-8")
    replaced: Path | None = tmp  # what to delete at the end: the build until it is swapped in
    try:
        fill(tmp)
        os.chmod(tmp, 0o755)
        with _ParentLock(out.parent):
            if os.path.isdir(out) and not os.path.islink(out):
                with contextlib.suppress(OSError):  # the report being replaced: once swapped out, ours to delete
                    old_lock = _flock(out, wait=False)
            replaced = _install(tmp, out)
            if build_lock is not None:  # the build is DIR now: free for the next run to lock and replace
                os.close(build_lock)
                build_lock = None
    finally:
        if replaced is not None:
            _remove_folder(replaced)
        for fd in (build_lock, old_lock):
            if fd is not None:
                os.close(fd)
