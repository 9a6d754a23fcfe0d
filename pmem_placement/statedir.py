"""The state directory's files, opened so that nothing in it is followed, and nothing foreign believed.

``[agent]state_dir`` has two users: the agent, which runs as the unit's dynamic user and owns the
directory (``StateDirectory=``: under ``DynamicUser=`` a symlink into /var/lib/private), and the
one-shot, often run by root. Its path is resolved once (``realpath``); every entry is then opened
relative to the directory, never following a link, and must be a regular file with one link and a
trusted owner: root, the running user and, when running as root, the directory's owner. The
directory itself must have a trusted owner and must not be writable by every user. A symbolic
link, a hard link, a foreign owner or a loose directory is a ``StateDirError`` naming the path:
nothing is read or written through it.

What root creates or replaces here is given to the directory's owner with the mode the agent
needs (``fchown`` before the rename, or right after creating the lock), so that a root one-shot
never leaves the agent a file it cannot read, lock or replace.

``lock_holder`` reads the kernel's lock table: whether a process holds an flock on a file, by its
device and inode, without opening it (an open with a lock attempt could make the agent's own
non-blocking lock fail as it starts).
"""

import contextlib
import errno
import fcntl
import os
import secrets
import stat
import tempfile
import typing

from pmem_placement import errors

LOCKS = "/proc/locks"
_FLAGS = os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NOCTTY | os.O_NONBLOCK
"""On every open: no link followed, nothing inherited by a child, and a FIFO planted in the
directory never blocks (``fstat`` then refuses it)."""


SYMLINK = "is a symbolic link (no link in the state directory is followed); remove it"
NOT_REGULAR = "is not a regular file; remove it"


class StateDirError(errors.ConfigError):
    """A file of [agent]state_dir, or the directory itself, cannot be trusted: a symbolic link,
    a hard link, not a regular file, a foreign owner, a directory every user can write to; or it
    cannot be read. Nothing is read or written through it."""

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"[agent]state_dir: {path} {problem}")
        self.path = path
        self.strerror = f"{path} {problem}"
        """As an OSError's, for the messages that say what could not be written and why."""


def trusted_owners(euid: int, dir_owner: int) -> frozenset[int]:
    """Root, the running user and, when running as root, the directory's owner."""
    return frozenset({0, euid, dir_owner} if euid == 0 else {0, euid})


def directory_problem(mode: int, owner: int, euid: int) -> str | None:
    """Why a directory cannot hold the state (pure), or None."""
    if not stat.S_ISDIR(mode):
        return "is not a directory"
    if mode & stat.S_IWOTH:
        return f"is writable by every user (mode {stat.S_IMODE(mode):04o}): chmod o-w it"
    if owner not in trusted_owners(euid, owner):
        return f"is owned by uid {owner}, neither root nor the running user (uid {euid})"
    return None


def entry_problem(mode: int, nlink: int, owner: int, trusted: typing.Collection[int]) -> str | None:
    """Why an entry of the directory cannot be used (pure), or None."""
    if stat.S_ISLNK(mode):
        return SYMLINK
    if not stat.S_ISREG(mode):
        return NOT_REGULAR
    if nlink != 1:
        return f"has {nlink} hard links (a file of its own has one); remove it"
    if owner not in trusted:
        uids = ", ".join(str(uid) for uid in sorted(trusted))
        return f"is owned by uid {owner}, not by root, the running user or the directory's owner ({uids}); remove it"
    return None


def lock_holder(table: str, dev: int, ino: int) -> int | None:
    """The pid that holds an flock on the file (device ``dev``, inode ``ino``) in the text of
    /proc/locks (pure), or None. Waiters (``->``) hold nothing."""
    device = f"{os.major(dev):02x}:{os.minor(dev):02x}:{ino}"
    for line in table.splitlines():
        # "1: FLOCK  ADVISORY  WRITE 1234 08:01:5678 0 EOF"; waiters have "->" after the number.
        fields = line.split()
        if len(fields) >= 6 and fields[1] == "FLOCK" and fields[5] == device and fields[4].isdigit():
            return int(fields[4])
    return None


def locked_by(st: os.stat_result, locks: str = LOCKS) -> int | None:
    """The pid holding an flock on the file ``st`` describes; OSError when the table cannot be read."""
    with open(locks, encoding="ascii", errors="replace") as table:
        return lock_holder(table.read(), st.st_dev, st.st_ino)


def entry_of(state_dir: str | None, path: str) -> str | None:
    """The name of ``path`` when it is an entry of ``state_dir``, else None."""
    if not state_dir:
        return None
    directory, name = os.path.split(os.path.abspath(path))
    return name if os.path.realpath(directory) == os.path.realpath(state_dir) else None


class StateDir:
    """The open directory; every entry is reached through its descriptor (see ``opened``)."""

    def __init__(self, path: str, fd: int, st: os.stat_result) -> None:
        self.path = path
        self.fd = fd
        self.uid, self.gid = st.st_uid, st.st_gid
        self.euid = os.geteuid()
        self.trusted = trusted_owners(self.euid, self.uid)

    def join(self, name: str) -> str:
        return os.path.join(self.path, name)

    def _refuse(self, name: str, problem: str) -> StateDirError:
        return StateDirError(self.join(name), problem)

    def _check(self, name: str, st: os.stat_result) -> None:
        problem = entry_problem(st.st_mode, st.st_nlink, st.st_uid, self.trusted)
        if problem:
            raise self._refuse(name, problem)

    def _open(self, name: str, flags: int, mode: int = 0o600) -> int:
        try:
            return os.open(name, flags | _FLAGS, mode, dir_fd=self.fd)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise self._refuse(name, SYMLINK) from None
            if exc.errno == errno.EISDIR:
                raise self._refuse(name, NOT_REGULAR) from None
            raise

    def _give(self, fd: int, mode: int) -> None:
        """Root's file goes to the directory's owner (the agent's user), with ``mode``."""
        if self.euid == 0 and self.uid != 0:
            os.fchown(fd, self.uid, self.gid)
        os.fchmod(fd, mode)

    def open(self, name: str, mode: int) -> int:
        """``name`` open for reading and writing, created with ``mode`` when missing (the lock,
        the agent's pid file); the caller closes the descriptor. A file root left behind is given
        to the directory's owner. OSError when it cannot be opened."""
        try:
            fd, created = self._open(name, os.O_RDWR | os.O_CREAT | os.O_EXCL, mode), True
        except FileExistsError:
            fd, created = self._open(name, os.O_RDWR), False
        try:
            st = os.fstat(fd)
            self._check(name, st)
            if created or (self.euid == 0 and st.st_uid != self.uid):
                self._give(fd, mode)
        except BaseException:
            os.close(fd)
            raise
        return fd

    def read(self, name: str) -> str | None:
        """The text of ``name``; None when there is none. StateDirError when it cannot be trusted
        or read."""
        try:
            fd = self._open(name, os.O_RDONLY)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise self._refuse(name, f"cannot be read: {exc.strerror or exc}") from None
        try:
            self._check(name, os.fstat(fd))  # before anything reads it: a directory, a FIFO
        except BaseException:
            os.close(fd)
            raise
        with os.fdopen(fd, encoding="utf-8") as f:
            try:
                return f.read()
            except OSError as exc:
                raise self._refuse(name, f"cannot be read: {exc.strerror or exc}") from None

    def replace(self, name: str, text: str, mode: int, fsync: bool = True) -> None:
        """Replace ``name`` with ``text`` so that readers see the old file or the new one, never
        half: a new file written, synced, given to the directory's owner and renamed over it
        (``fsync``: and the directory synced, so it survives a power cut). An entry that cannot
        be trusted is refused, not replaced. OSError or StateDirError; the old file stays whole."""
        self.check_entry(name)
        tmp = f".tmp-{name}-{secrets.token_hex(4)}"
        fd = self._open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
                f.flush()
                if fsync:
                    os.fsync(fd)
                self._give(fd, mode)
            os.replace(tmp, name, src_dir_fd=self.fd, dst_dir_fd=self.fd)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp, dir_fd=self.fd)
            raise
        if fsync:
            os.fsync(self.fd)

    def check_entry(self, name: str) -> None:
        """StateDirError when ``name`` is there and cannot be trusted (it is not followed)."""
        try:
            st = os.stat(name, dir_fd=self.fd, follow_symlinks=False)
        except FileNotFoundError:
            return
        self._check(name, st)

    def remove(self, name: str) -> None:
        """Unlink ``name`` (a link is removed, never followed); OSError."""
        with contextlib.suppress(FileNotFoundError):
            os.unlink(name, dir_fd=self.fd)

    def holder(self, name: str, locks: str = LOCKS) -> int | None:
        """The pid holding an flock on ``name``: None when none does or there is no such file
        (0 when one does whose pid cannot be told). From /proc/locks first; where it does not
        say (a file system whose device /proc/locks names otherwise, as btrfs does; a holder in
        another pid namespace), a shared lock tried and let go at once on another open of the
        file: an agent starting at that moment retries its own (``agent/pidfile.py``). OSError
        when it cannot be told."""
        try:
            st = os.stat(name, dir_fd=self.fd, follow_symlinks=False)
        except FileNotFoundError:
            return None
        if not stat.S_ISREG(st.st_mode):
            return None
        pid = locked_by(st, locks)
        return pid if pid is not None else self._probe(name)

    def _probe(self, name: str) -> int | None:
        fd = self._open(name, os.O_RDONLY)
        try:
            self._check(name, os.fstat(fd))
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                first = os.pread(fd, 32, 0).decode(errors="replace").split("\n")[0].strip()
                return int(first) if first.isdigit() else 0
            fcntl.flock(fd, fcntl.LOCK_UN)
            return None
        finally:
            os.close(fd)


@contextlib.contextmanager
def opened(state_dir: str, create: bool = False) -> typing.Iterator[StateDir]:
    """The state directory, its path resolved once, checked; created (mode 0750) with ``create``.
    OSError when it cannot be opened, StateDirError when it cannot be trusted."""
    path = os.path.realpath(state_dir)
    if create:
        os.makedirs(path, mode=0o750, exist_ok=True)
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | _FLAGS)
    try:
        st = os.fstat(fd)
        problem = directory_problem(st.st_mode, st.st_uid, os.geteuid())
        if problem:
            raise StateDirError(path, problem)
        yield StateDir(path, fd, st)
    finally:
        os.close(fd)


def reason(exc: OSError | StateDirError) -> str:
    """Why, as the rest of a sentence: the file and the system's error, or the problem."""
    if isinstance(exc, OSError) and exc.filename:
        return f"{exc.filename}: {exc.strerror or exc}"
    return str(exc.strerror or exc)


def open_entry(state_dir: str, name: str, mode: int) -> int:
    """``StateDir.open`` in ``state_dir``, created when missing (the lock, the agent's pid file):
    a ConfigError naming the directory when it cannot be used, a StateDirError when it cannot be
    trusted."""
    try:
        with opened(state_dir, create=True) as directory:
            return directory.open(name, mode)
    except OSError as exc:
        raise errors.ConfigError(
            f"[agent]state_dir: cannot use {state_dir}: {exc.strerror or exc} "
            "(run as the service's user, or point state_dir at a writable directory)") from exc


def read_entry(state_dir: str, name: str) -> str | None:
    """The text of ``name`` in ``state_dir``; None when it (or the directory) is not there.
    StateDirError naming it when it cannot be read or trusted."""
    try:
        with opened(state_dir) as directory:
            return directory.read(name)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StateDirError(os.path.join(state_dir, name), f"cannot be read: {reason(exc)}") from None


def replace_entry(state_dir: str, name: str, text: str, mode: int, fsync: bool = True,
                  create: bool = False) -> None:
    """``StateDir.replace`` in ``state_dir`` (created with ``create``); OSError or StateDirError."""
    with opened(state_dir, create) as directory:
        directory.replace(name, text, mode, fsync)


def write_atomically(path: str, text: str, mode: int = 0o640, fsync: bool = True) -> None:
    """Replace ``path``, outside the state directory (the metrics file, a status file configured
    elsewhere), so that readers see the old or the new file, never half.

    ``fsync`` also makes it survive a power cut once this returns.
    """
    directory = os.path.dirname(path) or "."
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            if fsync:
                os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    if fsync:  # the rename itself, so that it survives a power cut
        dir_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
