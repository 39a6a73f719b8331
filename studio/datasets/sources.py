"""Where an import's files come from: a server folder, an uploaded zip, uploaded files.

Every source ends up as one resolved folder (the import root) that the format
importers read. Contracts:

- :func:`resolve_folder`: an absolute path that exists and that the
  :class:`FolderPolicy` allows: after resolving symlinks it is inside one of the
  import roots (the GUI/API: ``<workspace>/import/`` plus ``STUDIO_IMPORT_ROOTS``;
  the command line: anywhere), it is not Studio's workspace, inside it (except its
  ``import/`` folder) nor a folder that contains it, and not under ``/proc``,
  ``/sys`` or ``/dev``. A CSV/JSON file path is accepted too and means "this
  annotation file, in its folder" (the folder is checked the same way).
- :func:`check_zip` / :func:`extract_zip`: a zip is refused as a whole — before
  anything is written — when an entry would escape the folder (``../``, absolute
  or drive paths, symlink entries), is encrypted, or when the entry count, an
  entry's size, the total uncompressed size or the expansion ratio (of an entry,
  or of the whole zip) is over the caps. Extraction counts the bytes it really
  writes against the same caps, so a header that lies cannot exceed them either;
  a refused extraction deletes everything it wrote.
- :func:`upload_relpath`: a client-supplied relative name, cleaned, or refused.
"""

from __future__ import annotations

import shutil
import stat
import zipfile
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from studio.errors import StudioError, ValidationFailed
from studio.storage.paths import resolve_inside

MiB = 1024**2
GiB = 1024**3
ANNOTATION_SUFFIXES = (".csv", ".json")
# Kernel pseudo-filesystems: never a dataset, and their files describe the server's processes.
SYSTEM_FOLDERS = (Path("/proc"), Path("/sys"), Path("/dev"))


class UploadTooLarge(StudioError):
    status = 413
    code = "upload_too_large"


@dataclass(frozen=True)
class ZipCaps:
    """Limits of an uploaded zip. The ratio applies to entries (and to the whole zip) larger
    than ``ratio_floor_bytes``, so a small, very compressible CSV is always fine."""

    max_upload_bytes: int = 4 * GiB  # the zip file itself (enforced while streaming it to disk)
    max_entries: int = 200_000
    max_uncompressed_bytes: int = 16 * GiB
    max_entry_bytes: int = 512 * MiB  # one entry, uncompressed
    max_ratio: float = 100.0  # uncompressed / compressed, per entry and for the whole zip
    ratio_floor_bytes: int = 8 * MiB


@dataclass(frozen=True)
class FolderPolicy:
    """Which server folders an import may read.

    ``roots``: the folders imports must be inside (after resolving symlinks); ``None``
    means anywhere (the command line, run by the server's operator). ``workspace`` is
    never imported from, nor anything inside it, nor any folder that contains it, with
    one exception: ``import_dir`` (``<workspace>/import/``), where users drop folders.
    """

    roots: tuple[Path, ...] | None
    workspace: Path | None = None
    import_dir: Path | None = None

    def root_names(self) -> list[str]:
        return [str(r) for r in self.roots or ()]


def _within(path: Path, folder: Path) -> bool:
    return path.is_relative_to(folder)  # both resolved: a lexical check is the real one


def _refused(real: Path, typed: str, policy: FolderPolicy) -> ValidationFailed | None:
    """Why ``real`` (resolved) may not be an import folder, or None when it may."""
    roots = policy.root_names()

    def refuse(message: str, why: str) -> ValidationFailed:
        return ValidationFailed(message, code="path_not_allowed",
                                details={"path": [why], "roots": roots})  # fmt: skip

    if any(_within(real, folder) for folder in SYSTEM_FOLDERS):
        return refuse(f"{typed} is a system folder; Studio never imports from it", "System folder.")
    ws = policy.workspace.resolve() if policy.workspace is not None else None
    imp = policy.import_dir.resolve() if policy.import_dir is not None else None
    # import/ is the exception, unless it is (a link to) the workspace or a folder above it
    exempt = ws is not None and imp is not None and _within(real, imp) and not _within(ws, imp)
    if ws is not None and not exempt:
        if real == ws:
            return refuse(f"{typed} is Studio's workspace; put the folder in "
                          f"{policy.import_dir or 'an import folder'}", "The workspace.")  # fmt: skip
        if _within(real, ws):
            return refuse(
                f"{typed} is inside Studio's workspace; put the folder in {policy.import_dir or 'an import folder'}",
                "Inside the workspace.",
            )  # fmt: skip
        if real in ws.parents:
            return refuse(f"{typed} contains Studio's workspace; choose a folder inside it",
                          "Contains the workspace.")  # fmt: skip
    if policy.roots is not None:
        allowed = [Path(r).resolve() for r in policy.roots]
        if not any(_within(real, r) for r in allowed):
            where = ", ".join(roots) if roots else "none configured"
            return refuse(
                f"{typed} is outside the folders this server imports from ({where}); "
                "put the folder in one of them",
                "Outside the import folders.",
            )
    return None


def resolve_folder(path: str, policy: FolderPolicy) -> tuple[Path, Path | None]:
    """(import root, annotation file or None) for a server path typed by the user.

    Symlinks are resolved before any check, and the policy is checked before the path's
    existence, so a refused path tells nothing about what is there.
    """
    if not isinstance(path, str) or not path.strip() or "\x00" in path:
        raise ValidationFailed("Give the path of a folder on the server", code="path_required",
                               details={"path": ["This field is required."]})  # fmt: skip
    typed = path.strip()
    candidate = Path(typed).expanduser()
    if not candidate.is_absolute():
        raise ValidationFailed(f"{typed!r} is not an absolute path; give the full path of a folder on the server",
                               code="path_not_absolute", details={"path": ["Use an absolute path."]})  # fmt: skip
    try:
        real = candidate.resolve()
    except (OSError, RuntimeError):  # a symlink loop, an unreadable component
        raise ValidationFailed(f"{typed} cannot be resolved on the server", code="path_not_found",
                               details={"path": ["No such folder."]}) from None  # fmt: skip
    problem = _refused(real, typed, policy)
    if problem is not None:
        raise problem
    if not real.exists():
        raise ValidationFailed(f"{typed} does not exist on the server", code="path_not_found",
                               details={"path": ["No such folder."]})  # fmt: skip
    if real.is_file() and real.suffix.lower() in ANNOTATION_SUFFIXES:
        problem = _refused(real.parent, str(real.parent), policy)  # the folder is the import root
        if problem is not None:
            raise problem
        return real.parent, real
    if not real.is_dir():
        raise ValidationFailed(f"{typed} is not a folder", code="path_not_a_folder",
                               details={"path": ["Not a folder."]})  # fmt: skip
    return real, None


def resolve_annotations(root: Path, name: str | None, anywhere: bool = False) -> Path | None:
    """An annotation file named by the user, which must be inside the import folder.

    Relative names are taken from the folder. A file outside the folder is refused (after
    resolving links), so an import never reads a file the user could not put there;
    ``anywhere`` lifts that for the command line,
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


def _refuse_zip(message: str, **details: object) -> ValidationFailed:
    return ValidationFailed(f"The zip was refused: {message}", code="zip_refused", details=details)


def _over_ratio(uncompressed: int, compressed: int, caps: ZipCaps) -> bool:
    return uncompressed > caps.ratio_floor_bytes and uncompressed > caps.max_ratio * max(
        compressed, 1
    )


def check_zip(zip_path: Path, caps: ZipCaps = ZipCaps()) -> list[zipfile.ZipInfo]:
    """The zip's entries, or ``ValidationFailed`` (code ``zip_refused``/``bad_zip``) saying why not.

    Reads only the central directory: nothing is unpacked.
    """
    try:
        with zipfile.ZipFile(zip_path) as zf:
            entries = zf.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise ValidationFailed(
            f"The upload is not a readable zip file: {exc}", code="bad_zip"
        ) from None
    if len(entries) > caps.max_entries:
        raise _refuse_zip(f"it has {len(entries)} entries; at most {caps.max_entries} are allowed",
                          entries=len(entries), max_entries=caps.max_entries)  # fmt: skip
    total = sum(i.file_size for i in entries)
    if total > caps.max_uncompressed_bytes:
        raise _refuse_zip(
            f"it would unpack to {human_bytes(total)}; at most "
            f"{human_bytes(caps.max_uncompressed_bytes)} are allowed",
            uncompressed_bytes=total,
        )
    zip_bytes = zip_path.stat().st_size
    if _over_ratio(total, zip_bytes, caps):
        raise _refuse_zip(
            f"it would unpack to {human_bytes(total)} from {human_bytes(zip_bytes)}, more than "
            f"{caps.max_ratio:g} times its size",
            uncompressed_bytes=total, max_ratio=caps.max_ratio,
        )  # fmt: skip
    for info in entries:
        problem = _entry_problem(info, caps)
        if problem:
            raise _refuse_zip(f"entry {info.filename!r} {problem}", entry=info.filename,
                              reason=problem)  # fmt: skip
    return entries


def _entry_problem(info: zipfile.ZipInfo, caps: ZipCaps) -> str:
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
    if info.file_size > caps.max_entry_bytes:
        return (
            f"would unpack to {human_bytes(info.file_size)}; one file may be at most "
            f"{human_bytes(caps.max_entry_bytes)}"
        )
    if _over_ratio(info.file_size, info.compress_size, caps):
        return (
            f"would expand {human_bytes(info.compress_size)} into {human_bytes(info.file_size)}, "
            f"more than {caps.max_ratio:g} times"
        )
    return ""


class _Meter:
    """Counts the bytes an extraction really writes, per entry and in total, against the caps."""

    def __init__(self, caps: ZipCaps, zip_bytes: int) -> None:
        self.caps = caps
        self.zip_bytes = zip_bytes
        self.total = 0

    def add(self, info: zipfile.ZipInfo, entry_written: int, size: int) -> None:
        self.total += size
        caps, name = self.caps, info.filename
        if entry_written > info.file_size:
            raise _refuse_zip(f"entry {name!r} unpacks to more than its header says", entry=name)
        if entry_written > caps.max_entry_bytes:
            raise _refuse_zip(f"entry {name!r} unpacks to more than "
                              f"{human_bytes(caps.max_entry_bytes)}", entry=name)  # fmt: skip
        if _over_ratio(entry_written, info.compress_size, caps):
            raise _refuse_zip(f"entry {name!r} expands more than {caps.max_ratio:g} times",
                              entry=name)  # fmt: skip
        if self.total > caps.max_uncompressed_bytes or _over_ratio(
            self.total, self.zip_bytes, caps
        ):
            raise _refuse_zip("it unpacks to more than the allowed size")


def extract_zip(zip_path: Path, dest: Path, caps: ZipCaps = ZipCaps()) -> Path:
    """Unpack a checked zip into ``dest`` (created) and return the import root.

    If the zip holds a single top-level folder (the usual "zip of a folder"),
    that folder is the root. On any refusal or damage ``dest`` is removed.
    """
    entries = check_zip(zip_path, caps)
    dest.mkdir(parents=True, exist_ok=True)
    meter = _Meter(caps, zip_path.stat().st_size)
    try:
        with zipfile.ZipFile(zip_path) as zf:
            for info in entries:
                target = resolve_inside(dest, info.filename.replace("\\", "/"))
                if info.is_dir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                written = 0
                with zf.open(info) as src, target.open("wb") as out:
                    while chunk := src.read(1024 * 1024):
                        written += len(chunk)
                        meter.add(info, written, len(chunk))  # before the write: never over
                        out.write(chunk)
    except ValidationFailed:
        remove_tree(dest)
        raise
    except (
        zipfile.BadZipFile,
        zlib.error,
        OSError,
        EOFError,
        NotImplementedError,
        RuntimeError,
    ) as exc:
        remove_tree(dest)
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
