"""User-facing errors: the CLI prints their message and exits non-zero, without a traceback."""


class GlalignError(Exception):
    """A problem the user can fix (bad path, bad data, unknown option, model not available offline)."""


class DataError(GlalignError):
    """A dataset file or entry is malformed; the message names the file and the entry."""


class ModelNotAvailableError(GlalignError):
    """A named pretrained model is not on this machine and the hub is off limits."""
