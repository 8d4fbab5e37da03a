"""The command line, the top layer: one module per command group (data and text, train, evaluate,
search, reproduce / sweep / bench / paper, pretrain and rsm), each a thin shell that parses its
arguments and calls one package function, so notebooks and the CLI share one code path. The
parser is assembled and errors become messages in glalign.cli.main (the `glalign` entry point)."""
from glalign.cli.main import PEER_FAILED, build_parser, main
from glalign.cli.train import strip_nproc

__all__ = ["PEER_FAILED", "build_parser", "main", "strip_nproc"]
