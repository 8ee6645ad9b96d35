"""Reading a shipped weights file: its bytes, only when they have the sha256 recorded for them."""

from __future__ import annotations

import hashlib
from pathlib import Path

from qa.errors import ModelError


def read_weights(path: Path, sha256: str | None, *, what: str, script: str) -> tuple[bytes, str]:
    """The bytes of ``path`` and their sha256; with ``sha256``, only if they have that digest.

    ``what`` names the weights in errors ("the reader's"), ``script`` the training script that
    makes them again.

    Raises:
        ModelError: the file is missing or altered.
    """
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ModelError(f"cannot read {what} weights {path}: {exc}") from exc
    digest = hashlib.sha256(raw).hexdigest()
    if sha256 and digest != sha256:
        raise ModelError(
            f"{what} weights {path} have sha256 {digest[:12]}, not the recorded "
            f"{sha256[:12]}; reinstall the package or retrain with {script}"
        )
    return raw, digest
