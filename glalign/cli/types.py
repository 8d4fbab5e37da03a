"""Argument types of the command line: each refuses a bad value with one line naming it."""
from __future__ import annotations

import argparse


def whole(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None


def positive_int(text: str) -> int:
    value = whole(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {value}")
    return value


def _number(text: str, what: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None


def finite_float(text: str) -> float:
    value = _number(text, "a number")
    if value != value or value in (float("inf"), float("-inf")):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text}")
    return value


def command_group(sub, name: str, help: str, dest: str):
    """A command with its own actions (`glalign NAME ACTION ...`): the subparsers to add them to."""
    group = sub.add_parser(name, help=help)
    return group.add_subparsers(dest=dest, metavar="ACTION", required=True)


def seed(text: str) -> int:
    """A seed every generator accepts (numpy's and torch's: [0, 2**32 - 1])."""
    from glalign.config import MAX_SEED

    value = whole(text)
    if not 0 <= value <= MAX_SEED:
        raise argparse.ArgumentTypeError(f"a seed must be in [0, {MAX_SEED}], got {value}")
    return value


def unit_float(text: str) -> float:
    value = _number(text, "a number in [0, 1]")
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1], got {value}")
    return value
