"""Reading untrusted image files safely, hashing them, and making thumbnails.

Contract of :func:`process_image`: it either returns a :class:`ProcessedImage`
(the bytes were fully decoded, so the file is neither corrupt nor truncated, and
the staged copy + thumbnail exist) or raises :class:`BadImage` with a sentence
saying why the file was refused. It never raises anything else for bad input.

Decompression bombs: Pillow's ``MAX_IMAGE_PIXELS`` stays in force, and an image
over ``min(max_pixels, Image.MAX_IMAGE_PIXELS)`` pixels is refused *before* any
pixel is decoded. Pool workers also turn ``DecompressionBombWarning`` into an
error process-wide (:func:`harden_process`); that is not done in a threaded
process because ``warnings`` filters are process-global and not thread-safe.
"""

from __future__ import annotations

import hashlib
import io
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageFile, UnidentifiedImageError

# Stored format (Pillow's name) -> (file extension, content type served for it).
FORMATS: dict[str, tuple[str, str]] = {
    "JPEG": ("jpg", "image/jpeg"),
    "MPO": ("jpg", "image/jpeg"),  # camera JPEGs with extra frames
    "PNG": ("png", "image/png"),
    "BMP": ("bmp", "image/bmp"),
    "GIF": ("gif", "image/gif"),
    "TIFF": ("tif", "image/tiff"),
    "WEBP": ("webp", "image/webp"),
}
OPENERS = ["JPEG", "PNG", "BMP", "GIF", "TIFF", "WEBP"]  # Pillow plugins tried (MPO comes via JPEG)
IMAGE_SUFFIXES = frozenset(
    {".jpg", ".jpeg", ".jpe", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp"}
)
THUMB_SIZE = 256
THUMB_QUALITY = 85
MAX_FILE_BYTES = 512 * 1024 * 1024

ImageFile.LOAD_TRUNCATED_IMAGES = False  # a truncated file is an error, never a grey half-image


class BadImage(Exception):
    """A file that cannot be imported as an image; ``reason`` is a sentence for the report."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class ProcessedImage:
    sha256: str
    width: int
    height: int
    format: str
    ext: str
    bytes: int


def harden_process() -> None:
    """Pool initializer: decompression-bomb warnings become errors in this process."""
    warnings.simplefilter("error", Image.DecompressionBombWarning)


def is_image_name(name: str) -> bool:
    return Path(name).suffix.lower() in IMAGE_SUFFIXES


def content_type(fmt: str) -> str:
    """The content type Studio serves for a stored format (never guessed from a name)."""
    return FORMATS.get(fmt, ("bin", "application/octet-stream"))[1]


def extension(fmt: str) -> str:
    return FORMATS[fmt][0]


def staged_paths(staging: Path, sha: str, ext: str) -> tuple[Path, Path]:
    """Where a processed image and its thumbnail wait in the staging folder."""
    return staging / "images" / f"{sha}.{ext}", staging / "thumbs" / f"{sha}.jpg"


def _write_new(path: Path, data: bytes) -> None:
    """Write ``data`` under a temp name and rename it into place (identical content races are fine)."""
    if path.exists():
        return
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with tmp.open("wb") as fh:
        fh.write(data)
    os.replace(tmp, path)


def _open(data: bytes, max_pixels: int) -> Image.Image:
    limit = min(max_pixels, Image.MAX_IMAGE_PIXELS or max_pixels)
    try:
        img = Image.open(io.BytesIO(data), formats=OPENERS)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise BadImage(f"refused as a decompression bomb: {exc}") from None
    except UnidentifiedImageError:
        raise BadImage(
            "cannot be read as an image (corrupt, or not JPEG/PNG/BMP/GIF/TIFF/WebP)"
        ) from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise BadImage(f"corrupt image header: {exc}") from None
    width, height = img.size
    if width <= 0 or height <= 0:
        raise BadImage(f"invalid image size {width}x{height}")
    if width * height > limit:
        raise BadImage(
            f"refused as a decompression bomb: {width}x{height} = {width * height} pixels "
            f"is over the limit of {limit}"
        )
    return img


def _to_rgb(img: Image.Image) -> Image.Image:
    """Any Pillow mode to 8-bit RGB for the thumbnail (alpha over white, 16-bit scaled)."""
    if img.mode in ("I", "I;16", "I;16B", "I;16L", "F"):
        import numpy as np  # only for 16-bit / float images; keeps pool start-up light

        arr = np.asarray(img, dtype=np.float64)
        lo, hi = float(arr.min()), float(arr.max())
        scaled = (arr - lo) * (255.0 / (hi - lo)) if hi > lo else np.zeros_like(arr)
        return Image.fromarray(scaled.astype(np.uint8)).convert("RGB")
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return img if img.mode == "RGB" else img.convert("RGB")


def thumbnail_size(width: int, height: int, size: int = THUMB_SIZE) -> tuple[int, int]:
    scale = min(1.0, size / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def decode_and_thumbnail(
    data: bytes, max_pixels: int, size: int = THUMB_SIZE
) -> tuple[str, int, int, bytes]:
    """Verify and fully decode ``data``; return (format, width, height, JPEG thumbnail bytes).

    JPEGs are decoded with ``draft()`` at the smallest DCT scale that still covers
    the thumbnail, which is several times faster than a full decode and still reads
    every byte of the entropy-coded data (so truncation is detected).
    """
    img = _open(data, max_pixels)
    try:
        if img.format not in ("JPEG", "MPO"):  # Pillow's JPEG verify() checks nothing:
            img.verify()  # structure and checksums (PNG CRCs…) without decoding pixels
            img = _open(data, max_pixels)  # verify() leaves the image unusable
        fmt, (width, height) = str(img.format), img.size  # draft() changes img.size
        target = thumbnail_size(width, height, size)
        if img.format in ("JPEG", "MPO"):
            img.draft("RGB", target)
        img.load()
        thumb = _to_rgb(img)
        if thumb.size != target:
            thumb = thumb.resize(target, Image.Resampling.BILINEAR, reducing_gap=2.0)
        out = io.BytesIO()
        thumb.save(out, "JPEG", quality=THUMB_QUALITY)
    except BadImage:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise BadImage(f"refused as a decompression bomb: {exc}") from None
    except (OSError, SyntaxError, ValueError, IndexError, TypeError, EOFError) as exc:
        reason = str(exc) or type(exc).__name__
        if "truncated" in reason:
            raise BadImage(f"truncated image: {reason}") from None
        raise BadImage(f"corrupt image: {reason}") from None
    return fmt, width, height, out.getvalue()


def process_task(args: tuple[int, str, str, int]) -> tuple[int, ProcessedImage | str]:
    """Pool task: one image. Returns (index, result or the reason it was refused); never raises."""
    index, source, staging, max_pixels = args
    try:
        return index, process_image(Path(source), Path(staging), max_pixels)
    except BadImage as exc:
        return index, exc.reason
    except Exception as exc:  # one odd file must not stop the import
        return index, f"could not be processed: {type(exc).__name__}: {exc}"


def process_image(
    src: Path, staging: Path, max_pixels: int, size: int = THUMB_SIZE
) -> ProcessedImage:
    """Read, hash, verify, decode and thumbnail ``src``; stage the copy and the thumbnail."""
    try:
        n_bytes = src.stat().st_size
        if n_bytes > MAX_FILE_BYTES:
            raise BadImage(f"file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB")
        data = src.read_bytes()
    except FileNotFoundError:
        raise BadImage("file not found") from None
    except IsADirectoryError:
        raise BadImage("is a folder, not an image file") from None
    except OSError as exc:
        raise BadImage(f"cannot read the file: {exc.strerror or exc}") from None
    if not data:
        raise BadImage("empty file")
    sha = hashlib.sha256(data).hexdigest()
    fmt, width, height, thumb = decode_and_thumbnail(data, max_pixels, size)
    fmt = "JPEG" if fmt == "MPO" else fmt
    ext = extension(fmt)
    image_path, thumb_path = staged_paths(staging, sha, ext)
    _write_new(image_path, data)
    _write_new(thumb_path, thumb)
    return ProcessedImage(sha, width, height, fmt, ext, len(data))
