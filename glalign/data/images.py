"""Image reading, in one place: every image and part label map the package opens goes through
open_image's rule (inside the dataset, no dangling or looping link, a regular file, no
decompression bomb) and decodes through load_rgb."""
from __future__ import annotations

import errno
import os
import re
import stat
import warnings
from pathlib import Path

from glalign.errors import DataError


def outside_root(rel: str) -> bool:
    """True for a dataset file_path that would read outside the dataset folder: absolute (POSIX or
    Windows) or climbing with '..'. Judged on the text, so a symlinked imgs/ folder still works."""
    parts = re.split(r"[\\/]+", rel)
    return rel.startswith(("/", "\\")) or bool(re.match(r"^[A-Za-z]:", rel)) or ".." in parts


def open_image(path, what: str = "image", root=None):
    """Open an image (or part label map) lazily with PIL, or raise DataError saying why not. The one
    rule for every image file the package reads: inside `root` when given, not a dangling or looping
    symbolic link, a regular file, and at most PIL's MAX_IMAGE_PIXELS (a decompression bomb is
    refused from its header, before any pixel is decoded)."""
    from PIL import Image

    path = Path(path)
    if root is not None and outside_root(os.path.relpath(path, root)):
        raise DataError(f"{what} {path} is outside the dataset folder {root}")
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            problem = "is a symbolic link loop"
        elif path.is_symlink():
            problem = f"is a broken symbolic link (its target {os.readlink(path)} does not exist)"
        elif exc.errno in (errno.ENOENT, errno.ENOTDIR):
            problem = "is missing"
        else:
            problem = f"cannot be opened ({exc.strerror})"
        raise DataError(f"{what} {path} {problem}") from None
    if not stat.S_ISREG(mode):
        raise DataError(f"{what} {path} is not a file")
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            return Image.open(path)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise DataError(f"{what} {path} is refused as a possible decompression bomb ({exc})") from None
        except (OSError, ValueError, SyntaxError) as exc:
            raise DataError(f"{what} {path} cannot be read ({type(exc).__name__})") from None


def load_rgb(path, what: str = "image", root=None):
    """The image decoded as RGB (a PIL image), through open_image's rule; a file that opens but
    does not decode (truncated, damaged) is a DataError naming it, not PIL's bare OSError."""
    with open_image(path, what=what, root=root) as im:
        try:
            return im.convert("RGB")
        except (OSError, ValueError, SyntaxError) as exc:
            if isinstance(exc, OSError) and exc.errno is not None:
                raise  # the file system's own refusal (glalign.cli reports it)
            raise DataError(f"{what} {path} cannot be decoded ({exc}); replace the file or remove its entry") from None


def image_problem(path: Path) -> str | None:
    try:
        with open_image(path) as im:
            im.verify()
    except DataError as exc:
        return str(exc)
    except Exception as exc:  # PIL's verify raises many types for a broken file
        return f"image {path} cannot be read ({type(exc).__name__})"
    return None
