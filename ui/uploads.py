"""Saving uploaded article files into the corpus folder under safe names, never overwriting."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import qa
from ui.limits import MAX_UPLOAD_BYTES

ALLOWED_SUFFIXES = qa.SUPPORTED_SUFFIXES  # what the corpus reader reads, nothing else
_MAX_NAME_BYTES = 200  # well under the usual 255-byte filename limit, leaving room for "-N"
_UNSAFE_CHARS = re.compile(r'[<>:"|?*\\/]')


class UploadRejected(ValueError):
    """An uploaded file that cannot be saved; the message says why, for the user."""


@dataclass(frozen=True)
class SavedUpload:
    """Where one upload went: ``status`` is "saved", "renamed" or "unchanged"."""

    original: str
    name: str
    status: str

    def __str__(self) -> str:
        if self.status == "renamed":
            return f"{self.original}: saved as {self.name} (a different file has that name)"
        if self.status == "unchanged":
            return f"{self.original}: already in the corpus as {self.name}"
        return f"{self.original}: saved"


def safe_name(name: str) -> str:
    """Reduce an uploaded file name to a plain, allowed file name inside one folder.

    Args:
        name: The name the browser sent; may hold folders, control characters or anything.

    Returns:
        The base name without path components, control characters or shell-hostile
        characters, NFC-normalized and at most about 200 bytes long.

    Raises:
        UploadRejected: The name is empty, hidden (starts with "."), or has a file type
            the corpus does not read.
    """
    text = unicodedata.normalize("NFC", name.replace("\\", "/"))
    base = text.rsplit("/", 1)[-1]
    base = "".join(ch for ch in base if unicodedata.category(ch) not in ("Cc", "Cf", "Cs"))
    base = " ".join(_UNSAFE_CHARS.sub("_", base).split()).rstrip(". ")
    shown = base or name
    if not base:
        raise UploadRejected(f"{name!r}: not a usable file name")
    if base.startswith("."):
        raise UploadRejected(f"{shown}: hidden file names (starting with '.') are not accepted")
    stem, dot, suffix = base.rpartition(".")
    if not dot or not stem or f".{suffix.lower()}" not in ALLOWED_SUFFIXES:
        raise UploadRejected(
            f"{shown}: unsupported file type; accepted: {', '.join(ALLOWED_SUFFIXES)}"
        )
    return _shorten(stem) + "." + suffix.lower()


def save_upload(src: str | Path, original_name: str, corpus_dir: str | Path) -> SavedUpload:
    """Copy one uploaded file into ``corpus_dir`` without ever replacing a different file.

    A same-named file with identical content makes this a no-op; with different content
    (or another file that would give the same article id, like ``x.md`` beside ``x.txt``)
    the new file gets a "-1", "-2", ... suffix.

    Args:
        src: The uploaded temporary file.
        original_name: The name the user gave it.
        corpus_dir: The corpus folder (created if missing).

    Returns:
        What happened, for the summary shown to the user.

    Raises:
        UploadRejected: Bad name, empty file, or over the size limit.
    """
    name = safe_name(original_name)
    data = read_checked(Path(src), name)
    folder = Path(corpus_dir)
    folder.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256(data).hexdigest()
    stem, _, suffix = name.rpartition(".")
    for n in range(1000):
        candidate = name if n == 0 else f"{stem}-{n}.{suffix}"
        clash = _clash(folder, candidate, digest)
        if clash == "same":
            return SavedUpload(original_name, candidate, "unchanged")
        if clash is None and _write_new(folder, candidate, data):
            return SavedUpload(original_name, candidate, "saved" if n == 0 else "renamed")
    raise UploadRejected(f"{name}: too many files with this name already")


def _shorten(stem: str) -> str:
    encoded = stem.encode("utf-8")
    if len(encoded) <= _MAX_NAME_BYTES:
        return stem
    return encoded[:_MAX_NAME_BYTES].decode("utf-8", errors="ignore").rstrip(". ")


def read_checked(src: Path, name: str) -> bytes:
    """The bytes of one uploaded file, refused when empty or over MAX_UPLOAD_BYTES."""
    size = src.stat().st_size
    if size > MAX_UPLOAD_BYTES:
        raise UploadRejected(
            f"{name}: {size / 1e6:.1f} MB is over the {MAX_UPLOAD_BYTES / 1e6:g} MB limit; "
            "split it into smaller files"
        )
    if size == 0:
        raise UploadRejected(f"{name}: the file is empty")
    return src.read_bytes()


def _clash(folder: Path, candidate: str, digest: str) -> str | None:
    """ "same" if ``candidate`` exists with this content, "other" if it or a file giving the
    same article id (same stem, other extension) exists with other content, else None."""
    stem = candidate.rpartition(".")[0]
    for existing in (folder / candidate, *folder.glob(f"{_glob_escape(stem)}.*")):
        if existing.name.rpartition(".")[0] != stem or not existing.exists():
            continue
        if existing.name == candidate and existing.is_file() and _sha256(existing) == digest:
            return "same"
        return "other"
    return None


def _write_new(folder: Path, name: str, data: bytes) -> bool:
    """Create folder/name with ``data`` only if that name is still free (never overwrites)."""
    dest = folder / name
    try:
        with open(dest, "xb") as out:
            try:
                out.write(data)
            except BaseException:
                dest.unlink(missing_ok=True)
                raise
    except FileExistsError:
        return False
    return True


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _glob_escape(text: str) -> str:
    return re.sub(r"([*?\[])", r"[\1]", text)
