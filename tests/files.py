"""Copies that share checkpoint bytes between tests.

A ResNet-18 checkpoint with its optimiser state is ~130 MB; dozens of tests copy the same
session-trained ones, which filled CI's disk. Checkpoints are only ever read or replaced
(never written in place), so a hard link is as good as a copy and costs no space. Every
other file is copied: event logs and metric files are appended to.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path


def share_file(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> str:
    """Hard-link ``*.ckpt`` files (copy when linking is impossible); copy everything else."""
    if str(src).endswith(".ckpt"):
        try:
            os.link(src, dst)
            return str(dst)
        except OSError:
            pass
    return str(shutil.copy2(src, dst))


def copy_tree(src: Path, dst: Path) -> None:
    """``shutil.copytree`` with checkpoints shared by hard link."""
    shutil.copytree(src, dst, copy_function=share_file)
