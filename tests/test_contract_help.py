"""Contract: the `--help` of every command and subcommand, byte for byte, against tests/golden/help/.

A change to the CLI's options shows up here as a diff to review, not silently. After an intended
change, regenerate with `GLALIGN_REGEN_GOLDEN=1 pytest tests/test_contract_help.py` and commit the
files it rewrites. The help is formatted at a fixed width (COLUMNS=100), in-process."""
import argparse
import os
from pathlib import Path

import pytest

GOLDEN = Path(__file__).parent / "golden" / "help"


def _commands(parser: argparse.ArgumentParser, prefix=()):
    """(command words, parser) for the parser and every subparser below it, in a fixed order."""
    yield prefix, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _commands(sub, prefix + (name,))


def _all_help(monkeypatch):
    monkeypatch.setenv("COLUMNS", "100")
    from glalign.cli import build_parser

    return {"_".join(words) or "glalign": p.format_help() for words, p in _commands(build_parser())}


def test_every_help_matches_its_golden_file(monkeypatch):
    helps = _all_help(monkeypatch)
    if os.environ.get("GLALIGN_REGEN_GOLDEN"):
        GOLDEN.mkdir(parents=True, exist_ok=True)
        for old in GOLDEN.glob("*.txt"):
            old.unlink()
        for name, text in helps.items():
            (GOLDEN / f"{name}.txt").write_text(text, encoding="utf-8")
    stored = {p.stem: p.read_text(encoding="utf-8") for p in GOLDEN.glob("*.txt")}
    assert sorted(stored) == sorted(helps), ("commands added or removed; regenerate with "
                                            "GLALIGN_REGEN_GOLDEN=1 and review the diff")
    changed = [name for name in helps if helps[name] != stored[name]]
    assert not changed, f"--help changed for {changed}; regenerate with GLALIGN_REGEN_GOLDEN=1 and review the diff"


def test_the_golden_set_covers_every_subcommand(monkeypatch):
    names = set(_all_help(monkeypatch))
    for expected in ("glalign", "data_synth", "data_check", "data_parse", "data_sheet", "text_phrases", "train",
                     "evaluate", "search", "reproduce", "sweep", "rsm_mine", "pretrain", "bench", "paper",
                     "paper_verify"):
        assert expected in names


@pytest.mark.parametrize("words", [("data", "synth"), ("search",), ("paper", "verify")])
def test_help_printed_by_the_command_is_the_golden_text(words, monkeypatch, capsys):
    """The golden text is what `glalign ... --help` prints, not only what format_help returns."""
    from glalign.cli import main

    monkeypatch.setenv("COLUMNS", "100")
    with pytest.raises(SystemExit) as exc:
        main([*words, "--help"])
    assert exc.value.code == 0
    assert capsys.readouterr().out == (GOLDEN / f"{'_'.join(words)}.txt").read_text(encoding="utf-8")
