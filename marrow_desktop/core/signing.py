"""Signed sign-offs: an Ed25519 key pair per reviewer (not per OS account, since clinic PCs
often share one), the private key passphrase-protected and readable only by its OS user.

A sign-off or reopening signs the case's audit head right after its entry (case id, entry
number, action and head hash), so a rewritten chain fails the check unless the forger holds
the signer's key and passphrase. Keys live in `user_data_dir()/keys`: NAME's `.key` (encrypted
PKCS#8 PEM) and `.pub` (JSON: name, public key, fingerprint). A lab copies reviewers' `.pub`
files to the PCs that check cases (`marrow keys import`).

Library: `cryptography` (Ed25519, PKCS#8 with the best available encryption): well kept,
already a wheel on every platform we ship, no hand-written crypto.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
import sys
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from marrow_desktop.core.errors import MarrowError
from marrow_desktop.core.paths import user_data_dir

#: The shortest passphrase accepted for a new key.
MIN_PASSPHRASE = 8


class SigningError(MarrowError):
    """A key is missing, locked with another passphrase, or not readable (the message says)."""


@dataclass(frozen=True)
class SignatureRecord:
    """One signature of a case's trail: entry `seq` (a sign-off or reopening) signed."""

    case_id: str
    seq: int
    key_fingerprint: str
    public_key: str  # raw Ed25519 public key, hex
    signature: str  # hex


@dataclass(frozen=True)
class PublicKey:
    """A reviewer's public key as kept in a `.pub` file."""

    name: str
    public_key: str
    fingerprint: str
    created: str = ""


def fingerprint(public_hex: str) -> str:
    """A key's short, printable identity: the first 16 bytes of SHA-256 of the raw key, in
    groups of four hex digits."""
    digest = hashlib.sha256(bytes.fromhex(public_hex)).hexdigest()[:32]
    return " ".join(digest[i:i + 4] for i in range(0, 32, 4))


def signed_message(case_id: str, seq: int, action: str, head: str) -> bytes:
    """What a signature covers: the case, the entry and the audit head hash after it."""
    return f"marrow-desktop audit signature v1\n{case_id}\n{seq}\n{action}\n{head}".encode()


def check_signature(record: SignatureRecord, action: str, head: str) -> str:
    """'' when `record` is a valid signature of that entry with its own key, else why not."""
    if fingerprint(record.public_key) != record.key_fingerprint:
        return "the key fingerprint does not belong to the key stored with it"
    try:
        key = Ed25519PublicKey.from_public_bytes(bytes.fromhex(record.public_key))
        key.verify(bytes.fromhex(record.signature),
                   signed_message(record.case_id, record.seq, action, head))
    except (ValueError, InvalidSignature):
        return "the signature does not match the entry (the trail was changed or rewritten)"
    return ""


def _slug(name: str) -> str:
    readable = re.sub(r"[^A-Za-z0-9]+", "-", name).strip("-")[:40] or "reviewer"
    return f"{readable}-{hashlib.sha256(name.encode()).hexdigest()[:8]}"


def _private(path: Path) -> None:
    if sys.platform != "win32":
        os.chmod(path, stat.S_IRUSR | stat.S_IWUSR)


class Keyring:
    """The reviewers' keys of this computer (a folder; `user_data_dir()/keys` by default)."""

    def __init__(self, folder: str | Path | None = None) -> None:
        self.folder = Path(folder) if folder is not None else user_data_dir() / "keys"

    def _paths(self, name: str) -> tuple[Path, Path]:
        base = self.folder / _slug(name)
        return base.with_suffix(".key"), base.with_suffix(".pub")

    def public_keys(self) -> list[PublicKey]:
        """Every readable `.pub` file of the folder (others are skipped)."""
        out = []
        for path in sorted(self.folder.glob("*.pub")) if self.folder.is_dir() else []:
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
                key = PublicKey(str(data["name"]), str(data["public_key"]),
                                fingerprint(str(data["public_key"])), str(data.get("created", "")))
            except (OSError, ValueError, KeyError, TypeError):
                continue
            out.append(key)
        return out

    def known(self) -> dict[str, set[str]]:
        """Reviewer name -> the fingerprints of their keys known here."""
        out: dict[str, set[str]] = {}
        for key in self.public_keys():
            out.setdefault(key.name, set()).add(key.fingerprint)
        return out

    def public_path(self, name: str) -> Path:
        """Where NAME's own public key file is (to copy to other computers)."""
        return self._paths(name)[1]

    def has_private(self, name: str) -> bool:
        return self._paths(name)[0].is_file()

    def create(self, name: str, passphrase: str) -> PublicKey:
        """A new key pair for `name`; refuses to replace an existing one."""
        if not name.strip():
            raise SigningError("a signing key needs the reviewer's name")
        if len(passphrase) < MIN_PASSPHRASE:
            raise SigningError(f"the passphrase needs at least {MIN_PASSPHRASE} characters")
        key_path, pub_path = self._paths(name)
        if key_path.exists():
            raise SigningError(f"{name} already has a signing key ({key_path})")
        self.folder.mkdir(parents=True, exist_ok=True)
        if sys.platform != "win32":
            os.chmod(self.folder, stat.S_IRWXU)
        private = Ed25519PrivateKey.generate()
        pem = private.private_bytes(serialization.Encoding.PEM,
                                    serialization.PrivateFormat.PKCS8,
                                    serialization.BestAvailableEncryption(passphrase.encode()))
        fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(pem)
        _private(key_path)
        public_hex = private.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw).hex()
        public = PublicKey(name, public_hex, fingerprint(public_hex),
                           datetime.now(timezone.utc).isoformat(timespec="seconds"))
        self._write_public(pub_path, public)
        return public

    def _write_public(self, path: Path, key: PublicKey) -> None:
        path.write_text(json.dumps({"name": key.name, "public_key": key.public_key,
                                    "fingerprint": key.fingerprint, "created": key.created},
                                   indent=2) + "\n", encoding="utf-8")

    def import_public(self, path: str | Path) -> PublicKey:
        """Trust another computer's reviewer key (their `.pub` file)."""
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
            key = PublicKey(str(data["name"]), str(data["public_key"]),
                            fingerprint(str(data["public_key"])), str(data.get("created", "")))
            Ed25519PublicKey.from_public_bytes(bytes.fromhex(key.public_key))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise SigningError(f"{path}: not a marrow-desktop public key file ({exc})") from exc
        if key.fingerprint in self.known().get(key.name, set()):
            return key
        self.folder.mkdir(parents=True, exist_ok=True)
        target = self.folder / f"{_slug(key.name)}-{key.fingerprint.replace(' ', '')[:8]}.pub"
        self._write_public(target, key)
        return key

    def signer(self, name: str, passphrase: str) -> Signer:
        """NAME's private key, unlocked."""
        key_path, _ = self._paths(name)
        try:
            pem = key_path.read_bytes()
        except FileNotFoundError:
            raise SigningError(f"{name} has no signing key on this computer") from None
        except OSError as exc:
            raise SigningError(f"cannot read the signing key {key_path}: {exc.strerror}") from exc
        try:
            private = serialization.load_pem_private_key(pem, passphrase.encode())
        except (ValueError, TypeError):
            raise SigningError(f"wrong passphrase for {name}'s signing key") from None
        if not isinstance(private, Ed25519PrivateKey):
            raise SigningError(f"{key_path} is not an Ed25519 key")
        return Signer(name, private)


class Signer:
    """An unlocked key: signs a trail entry for the store."""

    def __init__(self, name: str, private: Ed25519PrivateKey) -> None:
        self.name = name
        self._private = private
        self.public_key = private.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw).hex()
        self.fingerprint = fingerprint(self.public_key)

    def sign(self, case_id: str, seq: int, action: str, head: str) -> SignatureRecord:
        signature = self._private.sign(signed_message(case_id, seq, action, head)).hex()
        return SignatureRecord(case_id, seq, self.fingerprint, self.public_key, signature)
