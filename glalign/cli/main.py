"""The `glalign` command: the parser assembled from each command group's module, and the one
place where errors become messages (user mistakes: one line, exit 2; bugs: a traceback, exit 1)."""
from __future__ import annotations

import argparse
import errno
import sys

from glalign.cli import data, evaluate, pretrain, repro, search, train
from glalign.errors import GlalignError, os_error_of


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="glalign",
        description="GLAlign for text-based person search: data, noun phrases, training, "
                    "evaluation, search and the paper's experiments.")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", required=True)

    for add in (data.add_data, data.add_text, train.add_train, evaluate.add_evaluate, search.add_search,
                repro.add_reproduce, pretrain.add_rsm, pretrain.add_pretrain, repro.add_bench_paper):
        add(sub)
    return p


class _Parser(argparse.ArgumentParser):
    """Argument mistakes: one line naming the problem and where to look, not the whole usage block."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def main(argv: list[str] | None = None) -> int:
    """The one place where errors become messages: a user mistake (GlalignError, a file the
    system refuses) prints one line and exits 2; anything else is a bug: its traceback is printed
    with a line asking to report it, and the exit code is 1. A process that `train --nproc`
    started leaves its exit code for the launcher (torchrun itself only says 1)."""
    import os

    from glalign.hub import offline_environment

    offline_environment()  # this process is glalign's: nothing it runs may reach a model hub
    if not os.environ.get("GLALIGN_RANK_STATUS_DIR"):
        return _main(argv)
    from glalign.distributed import record_exit

    code = 1
    try:
        code = _main(argv)
    except SystemExit as exc:  # argparse's refusal (2)
        code = exc.code
        raise
    finally:
        record_exit(code)
    return code


def _main(argv: list[str] | None) -> int:
    import os

    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[2:] if argv is None else argv[1:])  # after the subcommand (train --nproc)
    try:
        return args.func(args)
    except GlalignError as exc:
        print(f"glalign: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("glalign: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:
        fs = os_error_of(exc)  # also one that safetensors, transformers or PIL wrapped in their own
        if fs is not None and fs.errno in _USER_ERRNOS:
            where = fs.filename or getattr(args, "out", None) or "the output folder"
            kept = " (nothing half-written was kept)" if fs.errno in _NO_ROOM else ""
            print(f"glalign: error: {fs.strerror}: {where}{kept}", file=sys.stderr)
            return 2
        if _peer_left(exc):  # this process is fine: another one stopped (its own message says why)
            print(f"glalign: rank {os.environ.get('RANK')} stopped: another process of this run failed "
                  f"({str(exc).splitlines()[0][:160]})", file=sys.stderr)
            return PEER_FAILED
        if _out_of_memory(exc):  # the machine's limit, not a bug: sizes the user chose
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
            print(f"glalign: error: out of memory ({first}); lower --batch-size, the image size or the model's "
                  "sizes, or use a machine with more memory", file=sys.stderr)
            return 2
        import traceback

        traceback.print_exc()
        print("glalign: internal error: this is a bug in glalign, not a mistake of yours; please report it with "
              "the command line and the traceback above", file=sys.stderr)
        return 1


PEER_FAILED = 3  # a process of a torchrun job whose peer failed first (glalign.distributed.launch)


def _peer_left(exc: BaseException) -> bool:
    import os

    return int(os.environ.get("WORLD_SIZE", "1") or 1) > 1 and isinstance(exc, RuntimeError) and any(
        s in str(exc) for s in ("Connection closed by peer", "Connection reset by peer", "Broken pipe"))


def _out_of_memory(exc: BaseException) -> bool:
    oom = getattr(sys.modules.get("torch"), "OutOfMemoryError", ())
    return isinstance(exc, MemoryError) or (oom and isinstance(exc, oom)) or (
        isinstance(exc, RuntimeError) and any(s in str(exc) for s in ("can't allocate memory", "out of memory")))


# file-system refusals that are the user's to fix (a missing file that reaches here was not checked: a bug)
_NO_ROOM = (errno.ENOSPC, errno.EDQUOT, errno.EROFS)


_USER_ERRNOS = (errno.EACCES, errno.EPERM, errno.EISDIR, errno.ENOTDIR, errno.EEXIST, *_NO_ROOM)


if __name__ == "__main__":
    sys.exit(main())
