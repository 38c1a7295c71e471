"""Atomic outputs: everything is written into a staging folder, then renamed into place.

A run that fails before ``commit`` leaves the previous ``reports/``, ``models/`` and ``figures/``
exactly as they were. Rename is atomic per file on one file system, and the staging folder lives
inside the output directory so it is on the same one.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import tempfile
from pathlib import Path

from shopper_bayes.errors import UserError


class Staging:
    """Collect output files under a temporary folder, then move them all into ``root``."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        if self.root.exists() and not self.root.is_dir():
            raise UserError(self.root, "is a file, not a folder", "choose a folder with --output")
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            self.folder = Path(tempfile.mkdtemp(prefix=".shopper-bayes-", dir=self.root))
        except OSError as exc:
            raise UserError(self.root, f"output directory cannot be written ({exc.strerror})",
                            "choose a writable folder with --output") from None
        self.files: list[Path] = []

    def path(self, relative: str) -> Path:
        """Where to write ``relative`` (for example ``reports/summary.json``) for now.

        Output names are fixed by the code, never taken from data; this checks they stay inside.
        """
        if Path(relative).is_absolute() or ".." in Path(relative).parts:
            raise ValueError(f"output name {relative!r} would leave the output folder")
        target = self.folder / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        if Path(relative) not in self.files:  # written twice (a table both an analysis and the report save): once
            self.files.append(Path(relative))
        return target

    def write_json(self, relative: str, data: dict) -> None:
        self.path(relative).write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")

    def commit(self) -> list[Path]:
        """Rename every staged file into place and remove the staging folder.

        Folders are made and targets checked before the first rename, so the usual failures (a
        file where a folder should be, or a folder where a file should be) replace nothing.
        """
        try:
            for relative in self.files:
                final = self.root / relative
                final.parent.mkdir(parents=True, exist_ok=True)
                if final.is_dir():
                    raise IsADirectoryError(errno.EISDIR, "a folder is in the way", str(final))
            for relative in self.files:
                os.replace(self.folder / relative, self.root / relative)
        except OSError as exc:
            raise UserError(exc.filename or self.root, f"outputs could not be moved into place ({exc.strerror})",
                            "move that file or folder out of the way, or check permissions and free space") from None
        finally:
            self.discard()
        return [self.root / relative for relative in self.files]

    def discard(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> Staging:
        return self

    def __exit__(self, *exc_info) -> None:
        self.discard()
