"""Where the state file lives, and creating it (and its folder) private to the user."""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Final

import platformdirs

from communal_sync.errors import ConfigError

log = logging.getLogger(__name__)

APP_NAME: Final = "communal-sync"
STATE_ENV_VAR: Final = "COMMUNAL_SYNC_STATE"
DEFAULT_STATE_FILENAME: Final = "state.db"
LOCK_SUFFIX: Final = ".lock"
PRIVATE_DIR_MODE: Final = 0o700
PRIVATE_FILE_MODE: Final = 0o600


def resolve_state_path(explicit: str | None, env: Mapping[str, str]) -> Path:
    """Pick the state file: ``--state PATH``, else ``$COMMUNAL_SYNC_STATE``, else the default.

    The default is ``state.db`` in the platform's user data directory for communal-sync.
    An empty value counts as unset, so ``COMMUNAL_SYNC_STATE=`` falls back to the default.
    Nothing is created here; ``open_state`` and ``acquire_lock`` create what they need.
    """
    if explicit:
        return Path(explicit).expanduser()
    from_env = env.get(STATE_ENV_VAR, "")
    if from_env:
        return Path(from_env).expanduser()
    return Path(platformdirs.user_data_dir(APP_NAME)) / DEFAULT_STATE_FILENAME


def lock_path_for(state_path: Path) -> Path:
    """Return the lock file that guards ``state_path``: the same name plus ``.lock``."""
    return state_path.with_name(state_path.name + LOCK_SUFFIX)


def ensure_private_dir(directory: Path) -> None:
    """Create ``directory`` and any missing parents with mode 0700.

    Folders that already exist are left as they are: they may be shared on purpose.
    """
    missing: list[Path] = []
    current = directory
    while not current.exists():
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=PRIVATE_DIR_MODE)
        except FileExistsError:
            continue
        except OSError as error:
            raise ConfigError(
                f"Cannot create the state folder {folder}: {error.strerror}. "
                f"Pass --state with a path in a writable folder, or set {STATE_ENV_VAR}."
            ) from None
        # mkdir's mode is filtered by the umask; the folder must be private regardless.
        folder.chmod(PRIVATE_DIR_MODE)


def create_private_file(path: Path) -> None:
    """Make sure ``path`` exists with mode 0600 before SQLite opens it.

    A new file is created 0600 so personal data is never readable by others, not even for
    a moment. An existing file that others can read or write is tightened to 0600 with a
    warning; when that is not allowed (someone else owns it) only the warning remains.
    """
    ensure_private_dir(path.parent)
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, PRIVATE_FILE_MODE)
    except OSError as error:
        raise ConfigError(
            f"Cannot open the state file {path}: {error.strerror}. "
            f"Pass --state with a writable file path, or set {STATE_ENV_VAR}."
        ) from None
    try:
        mode = stat.S_IMODE(os.fstat(fd).st_mode)
        if mode & ~PRIVATE_FILE_MODE:
            try:
                os.fchmod(fd, PRIVATE_FILE_MODE)
            except OSError:
                log.warning(
                    "The state file %s can be read by other users (mode %o); "
                    "run `chmod 600 %s` to keep its personal data private.",
                    path,
                    mode,
                    path,
                )
            else:
                log.warning(
                    "The state file %s could be read by other users (mode %o); it is now 0600.",
                    path,
                    mode,
                )
    finally:
        os.close(fd)
