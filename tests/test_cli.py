"""The CLI's shape: every command has help, user mistakes exit non-zero with one clear line."""
import pytest


@pytest.mark.parametrize("args", [["--help"], ["data", "--help"], ["data", "synth", "--help"],
                                  ["data", "check", "--help"], ["text", "phrases", "--help"],
                                  ["train", "--help"], ["evaluate", "--help"], ["search", "--help"],
                                  ["reproduce", "--help"], ["bench", "--help"]])
def test_help(run_cli, args):
    res = run_cli(*args)
    assert res.returncode == 0, res.stderr
    assert "usage: glalign" in res.stdout


@pytest.mark.parametrize("args, needle", [
    (["data", "synth", "--out", "x", "--domain", "C"], "invalid choice: 'C'"),
    (["data", "synth", "--out", "x", "--domain", "A", "--ids", "-3"], "positive"),
    (["train", "--data", "d", "--lang", "fr", "--out", "r"], "invalid choice: 'fr'"),
    (["evaluate", "--run", "r", "--data", "d", "--alpha", "1.5"], "[0, 1]"),
])
def test_bad_option_values(run_cli, args, needle):
    res = run_cli(*args)
    assert res.returncode != 0
    assert needle in res.stderr
    assert "Traceback" not in res.stderr


def test_paper_command_lists_findings(run_cli):
    res = run_cli("paper")
    assert res.returncode == 0
    assert "[reference-swap]" in res.stdout
