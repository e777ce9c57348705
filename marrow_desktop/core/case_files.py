"""Where a case lives: a case file inside its folder, so it travels with the folder.

A case is the folder a pathologist opened. Its reviews, sign-off, details and audit trail are
kept in `FOLDER/.marrow/case.sqlite` when the folder is writable (the same layout as the user's
results store, holding one case and no results; a rollback journal, which works on network
shares). Opened from another drive letter, network path or OS account, the case is found again.
A read-only folder's case stays in the user's store, found by the folder's path or, after a
move, by a fingerprint of its images (names and sizes).

Case files are made on the first change, not when a folder is merely opened. A case recorded in
the user's store by an earlier version (keyed by the folder's path) is copied verbatim into the
case file then (its trail hashes are unchanged) and marked as moved.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
from collections.abc import Iterable
from pathlib import Path

from marrow_desktop.core.paths import app_root
from marrow_desktop.core.review import case_id_for
from marrow_desktop.core.store import CaseInfo, ResultStore, StoreError
from marrow_desktop.core.text import printable

CASE_DIR = ".marrow"
CASE_FILE = "case.sqlite"


def case_file_path(folder: str | Path) -> Path:
    return Path(folder) / CASE_DIR / CASE_FILE


def folder_writable(folder: str | Path) -> bool:
    """A case file can be made here (not the application's own folders, e.g. the samples)."""
    folder = Path(folder)
    try:
        if folder.resolve().is_relative_to(app_root().resolve()):
            return False
    except OSError:
        return False
    return folder.is_dir() and os.access(folder, os.W_OK | os.X_OK)


def fingerprint(paths: Iterable[str | Path], folder: str | Path) -> str:
    """SHA-256 of the images' paths relative to the folder and their sizes (sorted)."""
    folder = os.path.abspath(folder)
    items = []
    for path in paths:
        try:
            size = os.stat(path).st_size
        except OSError:
            continue
        rel = os.path.relpath(os.path.abspath(path), folder).replace(os.sep, "/")
        items.append(f"{rel}\t{size}")
    return hashlib.sha256("\n".join(sorted(items)).encode("utf-8", "surrogateescape")
                          ).hexdigest() if items else ""


def new_case_id(folder: str) -> str:
    """The id a case gets when its case file is made: from the folder's path, so that it is the
    same every time the folder is opened until then (the verification sample is drawn by it);
    stored in the case file from then on, wherever the folder goes."""
    digest = hashlib.sha256(os.path.normcase(folder).encode("utf-8", "surrogateescape"))
    return f"case-{digest.hexdigest()[:32]}"


class CaseHandle:
    """The open case: its id and the store that holds it (the folder's case file, made on the
    first change, or the user's store). Thread-safe; close() closes a case file it opened."""

    def __init__(self, folder: str, user_store: ResultStore | None, case_id: str,
                 case_path: Path | None, case_store: ResultStore | None = None,
                 legacy: CaseInfo | None = None) -> None:
        self.folder = folder
        self.case_id = case_id
        self.case_path = case_path  # the case file (None: the case lives in the user store)
        self._user = user_store
        self._store = case_store
        self._legacy = legacy  # a case of the user's store to move into the case file
        self._lock = threading.Lock()

    @property
    def in_folder(self) -> bool:
        return self.case_path is not None

    @property
    def where(self) -> str:
        return str(self.case_path) if self.case_path else (
            self._user.path if self._user is not None else "")

    def reader(self) -> ResultStore | None:
        """The store to read the case from (None: nothing recorded yet and no store)."""
        with self._lock:
            if self._store is not None:
                return self._store
            if self.case_path is not None and self._legacy is None:
                return None  # no case file yet: nothing recorded
            return self._user

    def writer(self) -> ResultStore:
        """The store to write the case to; makes the case file on the first change."""
        with self._lock:
            if self._store is not None:
                return self._store
            if self.case_path is None:
                if self._user is None:
                    raise StoreError("the results store is not available")
                return self._user
            self.case_path.parent.mkdir(exist_ok=True)
            store = ResultStore(self.case_path, private=False, wal=False)
            if self._legacy is not None and self._user is not None:
                if not store.case(self.case_id).exists:
                    self._user.copy_case_to(self.case_id, store)
                self._user.mark_moved(self.case_id, printable(str(self.case_path)))
                self._legacy = None
            store.note_case(self.case_id, folder=self.folder)
            self._store = store
            return store

    def case(self) -> CaseInfo:
        store = self.reader()
        return store.case(self.case_id) if store is not None else CaseInfo(self.case_id)

    def close(self) -> None:
        with self._lock:
            if self._store is not None and self._store is not self._user:
                self._store.close()
            self._store = None


def open_case(sources: Iterable[str], user_store: ResultStore | None,
              image_paths: Iterable[str] = ()) -> CaseHandle:
    """The case of what was opened (a folder, or the common folder of some files)."""
    folder = case_id_for(list(sources))
    path_key = printable(folder)  # a store key: undecodable bytes of a name escaped
    if not folder:
        return CaseHandle("", user_store, "", None)
    writable = folder_writable(folder)
    case_path = case_file_path(folder)
    if case_path.is_file():
        try:
            store = ResultStore(case_path, private=False, wal=False)
        except StoreError:
            raise
        cases = [c for c in store.cases() if not c.moved_to]
        if cases:
            return CaseHandle(folder, user_store, cases[0].case_id, case_path, store)
        store.close()
    prints = fingerprint(image_paths, folder) if image_paths else ""
    found = user_store.find_case(path_key, prints) if user_store is not None else None
    if found is not None and found.exists:
        if writable:
            return CaseHandle(folder, user_store, found.case_id, case_path, legacy=found)
        with contextlib.suppress(StoreError):
            user_store.note_case(found.case_id, folder=folder, fingerprint=prints)
        return CaseHandle(folder, user_store, found.case_id, None)
    if writable:
        return CaseHandle(folder, user_store, new_case_id(folder), case_path)
    # a read-only folder: the user's store, keyed by the folder's path as before
    handle = CaseHandle(folder, user_store, path_key, None)
    if user_store is not None and prints:
        with contextlib.suppress(StoreError):
            user_store.note_case(path_key, folder=folder, fingerprint=prints)
    return handle
