"""User-facing errors: the CLI prints their message and exits non-zero, without a traceback."""


class GlalignError(Exception):
    """A problem the user can fix (bad path, bad data, unknown option, model not available offline)."""


class DataError(GlalignError):
    """A dataset file or entry is malformed; the message names the file and the entry."""


class ModelNotAvailableError(GlalignError):
    """A named pretrained model is not on this machine and the hub is off limits."""


def os_error_of(exc: BaseException):
    """The file-system error behind `exc`, or None: `exc` itself, one it was raised from, or one a
    library reports only inside its own exception (safetensors: "I/O error: No space left on device
    (os error 28)"; transformers and PIL re-raise with "[Errno 28] ..."). The one place that unwraps them."""
    import os
    import re

    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, OSError) and exc.errno is not None:
            return exc
        found = re.search(r"\(os error (\d+)\)|\[Errno (\d+)\]", str(exc))
        if found:
            code = int(found.group(1) or found.group(2))
            return OSError(code, os.strerror(code))
        exc = exc.__cause__ or exc.__context__
    return None
