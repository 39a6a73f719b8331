"""Where an import's files come from: a server folder, an uploaded zip, uploaded files.

Every source ends up as one resolved folder (the import root) that the format
importers read. Contracts:

- :func:`resolve_folder`: an absolute path that exists, optionally inside one of
  the allowed roots (``STUDIO_IMPORT_ROOTS``); a CSV/JSON file path is accepted too
  and means "this annotation file, in its folder".
- :func:`check_zip` / :func:`extract_zip`: a zip is refused as a whole — before
  anything is written — when an entry would escape the folder (``../``, absolute
  or drive paths, symlink entries), is encrypted, or when the entry count or
  total uncompressed size is over the caps. Extraction counts the bytes it really
  writes, so a header that lies about sizes cannot exceed the caps either.
- :func:`upload_relpath`: a client-supplied relative name, cleaned, or refused.
"""

from __future__ import annotations

import shutil
import stat
import zipfile
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from studio.errors import StudioError, ValidationFailed
from studio.storage.paths import resolve_inside

GiB = 1024**3
ANNOTATION_SUFFIXES = (".csv", ".json")


class UploadTooLarge(StudioError):
    status = 413
    code = "upload_too_large"


@dataclass(frozen=True)
class ZipCaps:
    max_upload_bytes: int = 4 * GiB  # the zip file itself (enforced while streaming it to disk)
    max_entries: int = 200_000
    max_uncompressed_bytes: int = 16 * GiB


def resolve_folder(
    path: str, roots: Sequence[Path] | None = None, refused: Sequence[Path] = ()
) -> tuple[Path, Path | None]:
    """(import root, annotation file or None) for a server path typed by the user.

    ``refused``: folders that may not be imported from, nor anything inside them
    (Studio passes its workspace).
    """
    if not isinstance(path, str) or not path.strip() or "\x00" in path:
        raise ValidationFailed("Give the path of a folder on the server", code="path_required",
                               details={"path": ["This field is required."]})  # fmt: skip
    candidate = Path(path.strip()).expanduser()
    if not candidate.is_absolute():
        raise ValidationFailed(f"{path!r} is not an absolute path; give the full path of a folder on the server",
                               code="path_not_absolute", details={"path": ["Use an absolute path."]})  # fmt: skip
    real = candidate.resolve()
    if roots:
        allowed = [Path(r).resolve() for r in roots]
        if not any(real == r or r in real.parents for r in allowed):
            raise ValidationFailed(
                f"{real} is outside the folders this server imports from ({', '.join(map(str, allowed))})",
                code="path_not_allowed",
                details={"path": ["Outside STUDIO_IMPORT_ROOTS."]},
            )
    for folder in refused:
        blocked = Path(folder).resolve()
        if real == blocked or blocked in real.parents:
            raise ValidationFailed(f"{real} is inside Studio's workspace; import from a folder outside it",
                                   code="path_not_allowed", details={"path": ["Inside the workspace."]})  # fmt: skip
    if not real.exists():
        raise ValidationFailed(f"{real} does not exist on the server", code="path_not_found",
                               details={"path": ["No such folder."]})  # fmt: skip
    if real.is_file() and real.suffix.lower() in ANNOTATION_SUFFIXES:
        return real.parent, real
    if not real.is_dir():
        raise ValidationFailed(f"{real} is not a folder", code="path_not_a_folder",
                               details={"path": ["Not a folder."]})  # fmt: skip
    return real, None


def resolve_annotations(root: Path, name: str | None, anywhere: bool = False) -> Path | None:
    """An annotation file named by the user, which must be inside the import folder.

    Relative names are taken from the folder. Rows of an annotation file are quoted
    in the report, so a file outside the folder is refused (its content could be
    read back through the report); ``anywhere`` lifts that for the command line,
    whose user already has the server's shell.
    """
    if not name:
        return None
    try:
        real = (
            Path(name).resolve()
            if anywhere and Path(name).is_absolute()
            else resolve_inside(root, name)
        )
    except ValidationFailed:
        raise ValidationFailed(
            f"The annotation file {name!r} is outside the import folder; put it in the folder",
            code="path_outside_import", details={"annotations": ["Outside the import folder."]},
        ) from None  # fmt: skip
    if not real.is_file():
        raise ValidationFailed(f"The annotation file {name!r} does not exist", code="annotations_missing",
                               details={"annotations": ["No such file."]})  # fmt: skip
    return real


def _entry_problem(info: zipfile.ZipInfo) -> str:
    name = info.filename
    mode = info.external_attr >> 16
    if "\x00" in name:
        return "has a NUL byte in its name"
    if stat.S_ISLNK(mode):
        return "is a symbolic link (links are not allowed in uploads)"
    clean = name.replace("\\", "/")
    if clean.startswith("/") or (len(clean) > 1 and clean[1] == ":"):
        return "has an absolute path"
    if ".." in PurePosixPath(clean).parts:
        return "would be extracted outside the upload folder (../)"
    if info.flag_bits & 0x1:
        return "is encrypted"
    return ""


def check_zip(zip_path: Path, caps: ZipCaps = ZipCaps()) -> list[zipfile.ZipInfo]:
    """The zip's entries, or ``ValidationFailed`` (code ``zip_refused``/``bad_zip``) saying why not."""
    try:
        with zipfile.ZipFile(zip_path) as zf:
            entries = zf.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise ValidationFailed(
            f"The upload is not a readable zip file: {exc}", code="bad_zip"
        ) from None
    if len(entries) > caps.max_entries:
        raise ValidationFailed(
            f"The zip has {len(entries)} entries; at most {caps.max_entries} are allowed",
            code="zip_refused", details={"entries": len(entries), "max_entries": caps.max_entries},
        )  # fmt: skip
    total = sum(i.file_size for i in entries)
    if total > caps.max_uncompressed_bytes:
        raise ValidationFailed(
            f"The zip would unpack to {human_bytes(total)}; at most "
            f"{human_bytes(caps.max_uncompressed_bytes)} are allowed",
            code="zip_refused", details={"uncompressed_bytes": total},
        )  # fmt: skip
    for info in entries:
        problem = _entry_problem(info)
        if problem:
            raise ValidationFailed(
                f"The zip was refused: entry {info.filename!r} {problem}",
                code="zip_refused", details={"entry": info.filename, "reason": problem},
            )  # fmt: skip
    return entries


def extract_zip(zip_path: Path, dest: Path, caps: ZipCaps = ZipCaps()) -> Path:
    """Unpack a checked zip into ``dest`` (created) and return the import root.

    If the zip holds a single top-level folder (the usual "zip of a folder"),
    that folder is the root.
    """
    entries = check_zip(zip_path, caps)
    dest.mkdir(parents=True, exist_ok=True)
    written = 0
    try:
        with zipfile.ZipFile(zip_path) as zf:
            for info in entries:
                target = resolve_inside(dest, info.filename.replace("\\", "/"))
                if info.is_dir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(info) as src, target.open("wb") as out:
                    while chunk := src.read(1024 * 1024):
                        written += len(chunk)
                        if written > caps.max_uncompressed_bytes:
                            raise ValidationFailed("The zip unpacks to more than the allowed size",
                                                   code="zip_refused")  # fmt: skip
                        out.write(chunk)
    except (
        zipfile.BadZipFile,
        zlib.error,
        OSError,
        EOFError,
        NotImplementedError,
        RuntimeError,
    ) as exc:
        raise ValidationFailed(
            f"The zip file is damaged and cannot be unpacked: {exc}", code="bad_zip"
        ) from None
    return unwrap(dest)


def unwrap(folder: Path) -> Path:
    """``folder``, or its only sub-folder when it holds nothing else ("a zip of a folder")."""
    children = [p for p in folder.iterdir() if not p.name.startswith(".") and p.name != "__MACOSX"]
    if len(children) == 1 and children[0].is_dir():
        return children[0]
    return folder


def save_stream(chunks: Iterable[bytes], dest: Path, max_bytes: int) -> int:
    """Stream ``chunks`` into ``dest``; over ``max_bytes`` the file is removed and refused."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    size = 0
    with dest.open("wb") as out:
        for chunk in chunks:
            size += len(chunk)
            if size > max_bytes:
                break
            out.write(chunk)
    if size > max_bytes:
        dest.unlink(missing_ok=True)
        raise UploadTooLarge(f"The upload is larger than the limit of {human_bytes(max_bytes)}")
    return size


def upload_relpath(name: str, prefix: str = "") -> str:
    """A safe relative path for an uploaded file (``prefix/`` + its cleaned name)."""
    parts = [p for p in name.replace("\\", "/").split("/") if p not in ("", ".")]
    if not parts or any(p == ".." or "\x00" in p for p in parts):
        raise ValidationFailed(f"Refused the uploaded file name {name!r}", code="bad_file_name")
    parts = [p for p in parts if not p.startswith(".")] or ["file"]
    if prefix:
        clean_prefix = upload_relpath(prefix)
        return f"{clean_prefix}/{'/'.join(parts)}"
    return "/".join(parts)


def remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


def human_bytes(n: float) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"
