"""Removing an article from the archive without deleting it: its file is moved into
``corpus/.removed/`` (a hidden folder, which the corpus loader skips) and back on restore.
Nothing is overwritten, and no path reaches outside the corpus folder."""

from __future__ import annotations

import shutil
from pathlib import Path

from ui import forms

REMOVED = ".removed"  # inside the corpus folder


class Removal:
    """Moves article files out of the corpus into ``.removed/`` and back."""

    def __init__(self, corpus: Path) -> None:
        self.corpus = corpus
        self.bin = corpus / REMOVED

    def remove(self, path: str) -> Path:
        """Move the corpus file ``path`` into the bin; returns where it went.

        Raises:
            forms.InputError: the file is not in the corpus folder.
        """
        source = self._inside(self.corpus, path)
        target = self._free(self.bin / path)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(source, target)
        return target

    def restore(self, name: str) -> Path:
        """Move ``name`` (a path inside the bin) back to its place in the corpus.

        Raises:
            forms.InputError: nothing of that name was removed, or its place is taken.
        """
        source = self._inside(self.bin, name)
        target = self.corpus / _original(name)
        if target.exists():
            raise forms.InputError(
                f"{_original(name)} is in the corpus again (a newer file of that name); "
                "rename one of them first"
            )
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(source, target)
        return target

    def removed(self) -> list[str]:
        """Files in the bin, as paths inside it."""
        if not self.bin.is_dir():
            return []
        files = (p for p in self.bin.rglob("*") if p.is_file())
        return sorted(p.relative_to(self.bin).as_posix() for p in files)

    def _inside(self, folder: Path, rel: str) -> Path:
        path = (folder / rel).resolve()
        if not path.is_file() or not path.is_relative_to(folder.resolve()):
            raise forms.InputError(f"{rel} is not a file in {_where(folder, self.corpus)}")
        if folder == self.corpus and path.is_relative_to(self.bin.resolve()):
            raise forms.InputError(f"{rel} was removed already")
        return path

    @staticmethod
    def _free(target: Path) -> Path:
        """``target``, or ``name~2.txt`` and so on when a removed file has that name."""
        n = 2
        free = target
        while free.exists():
            free = target.with_name(f"{target.stem}~{n}{target.suffix}")
            n += 1
        return free


def _original(name: str) -> str:
    """The corpus path of a removed file ("a~2.txt" was a second "a.txt")."""
    path = Path(name)
    stem, tilde, n = path.stem.rpartition("~")
    if tilde and n.isdigit():
        return path.with_name(stem + path.suffix).as_posix()
    return name


def _where(folder: Path, corpus: Path) -> str:
    return "the removed articles" if folder != corpus else "the corpus folder"
