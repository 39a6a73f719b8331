"""Streaming uploads straight into the workspace, with a size cap.

Django's default handlers keep small files in memory and big ones in the system
temp folder; an import upload instead goes to ``dataset/.uploads/<import_id>/incoming/``
(same filesystem as the dataset) and is refused with a 413 as soon as the total
passes ``STUDIO_IMPORT_MAX_UPLOAD_BYTES``. The handler is installed by
:func:`install_upload_handler` before anything reads the body — once the
project is known to exist; DRF refuses an anonymous caller before reading the body,
so an anonymous client cannot make the server store anything.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import FileUploadHandler
from django.http import HttpRequest

from apps.datasets import conf, selectors, services
from studio.datasets.sources import UploadTooLarge, human_bytes
from studio.errors import StudioError


class StoredUpload(UploadedFile):
    """What ``request.FILES`` holds for a file already written to ``path`` (nothing held open)."""

    def __init__(self, path: Path, name: str, size: int) -> None:
        super().__init__(file=None, name=name, size=size)
        self.path = path

    def close(self) -> None:  # Django closes request files at the end of the response
        return None


class WorkspaceUploadHandler(FileUploadHandler):
    """Writes every uploaded file to ``folder/000001``, ``000002``…; keeps a running total."""

    def __init__(self, folder: Path, max_bytes: int) -> None:
        super().__init__()
        self.folder = folder
        self.max_bytes = max_bytes
        self.total = 0
        self.uploads: list[services.Upload] = []
        self._fh: Any = None
        self._path: Path | None = None

    def _refuse(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None
        raise UploadTooLarge(
            f"The upload is larger than the limit of {human_bytes(self.max_bytes)}"
        )

    def handle_raw_input(self, input_data: Any, META: Any, content_length: int, boundary: Any,
                         encoding: str | None = None) -> None:  # fmt: skip
        if content_length and content_length > self.max_bytes + 1024 * 1024:
            self._refuse()

    def new_file(self, *args: Any, **kwargs: Any) -> None:
        super().new_file(*args, **kwargs)
        self.folder.mkdir(parents=True, exist_ok=True)
        self._path = self.folder / f"{len(self.uploads) + 1:06d}"
        self._fh = self._path.open("wb")

    def receive_data_chunk(self, raw_data: bytes, start: int) -> None:
        self.total += len(raw_data)
        if self.total > self.max_bytes:
            self._refuse()
        self._fh.write(raw_data)

    def file_complete(self, file_size: int) -> StoredUpload | None:
        if self._fh is None or self._path is None:
            return None
        self._fh.close()
        self._fh = None
        name = str(self.file_name or self._path.name)
        self.uploads.append(services.Upload(name=name, path=self._path, size=file_size))
        return StoredUpload(self._path, name, file_size)

    def upload_interrupted(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None


def install_upload_handler(request: HttpRequest, project_id: str) -> None:
    """For a multipart POST, route uploaded files into the project's workspace folder.

    Called from the view's ``initialize_request``, before DRF authenticates: an
    anonymous request is refused by DRF without its body ever being read, and
    the session-CSRF check (which reads the form) already goes through this handler.
    """
    if request.method != "POST" or not (request.content_type or "").startswith("multipart/"):
        return
    cap = conf.zip_caps().max_upload_bytes
    try:
        selectors.project_check(project_id)
    except StudioError as exc:
        request.upload_handlers = [RefuseUploads(exc)]
        return
    import_id = services.new_import_id()
    handler = WorkspaceUploadHandler(services.upload_dir(project_id, import_id) / "incoming", cap)
    request.upload_handlers = [handler]
    request.studio_import_id = import_id  # type: ignore[attr-defined]
    request.studio_uploads = lambda: list(handler.uploads)  # type: ignore[attr-defined]


class RefuseUploads(FileUploadHandler):
    """For a request that will be refused anyway (unknown project): store nothing."""

    def __init__(self, error: StudioError) -> None:
        super().__init__()
        self.error = error

    def handle_raw_input(self, *args: Any, **kwargs: Any) -> None:
        raise self.error

    def receive_data_chunk(self, raw_data: bytes, start: int) -> None:
        raise self.error

    def file_complete(self, file_size: int) -> None:
        return None
