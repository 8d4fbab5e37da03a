"""Hostile inputs and faults on `glalign pretrain clip|phobert|parser` (issue 24): one line naming
what and where, exit 2 for the user's mistake, and nothing earlier changed or half-written."""
import errno
import hashlib

import pytest

from glalign.cli import main
from glalign.errors import os_error_of


def _digest(folder):
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


# -- cause: a seed beyond the generators' range overflowed inside torch.manual_seed (a "bug")
@pytest.mark.parametrize("argv", [["pretrain", "clip", "--out", "OUT"], ["pretrain", "parser", "--out", "OUT"],
                                  ["data", "synth", "--out", "OUT", "--domain", "A"],
                                  ["train", "--data", "D", "--lang", "en", "--out", "OUT"]])
@pytest.mark.parametrize("seed", ["99999999999999999999", "-1"])
def test_seed_out_of_range_is_refused(capsys, tmp_path, argv, seed):
    argv = [str(tmp_path / a) if a in ("OUT", "D") else a for a in argv]
    with pytest.raises(SystemExit) as stop:
        main([*argv, "--seed", seed])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and f"a seed must be in [0, 4294967295], got {seed}" in err
    assert err.count("\n") == 1 and not (tmp_path / "OUT").exists()


# -- cause: disk full while saving reached cli.main as safetensors' SafetensorError, reported as a bug
def test_wrapped_file_system_errors_are_unwrapped():
    from safetensors import SafetensorError

    full = os_error_of(SafetensorError("Error while serializing: I/O error: No space left on device (os error 28)"))
    assert full.errno == errno.ENOSPC and full.strerror == "No space left on device"
    try:
        try:
            raise PermissionError(errno.EACCES, "Permission denied", "/x")
        except OSError as exc:
            raise RuntimeError("could not save") from exc
    except RuntimeError as exc:
        assert os_error_of(exc).filename == "/x"
    assert os_error_of(ValueError("a plain bug")) is None


def _disk_full(*args, **kwargs):
    from safetensors import SafetensorError

    raise SafetensorError("Error while serializing: I/O error: No space left on device (os error 28)")


@pytest.mark.parametrize("what", ["clip", "phobert", "parser"])
def test_disk_full_while_pretrain_saves(capsys, monkeypatch, synth_a, tmp_path, what):
    import transformers.modeling_utils as mu

    out = tmp_path / "models" / what
    monkeypatch.setattr(mu, "safe_save_file", _disk_full)
    assert main(["pretrain", what, "--corpus", str(synth_a), "--out", str(out), "--epochs", "1", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert f"No space left on device: {out} (nothing half-written was kept)" in err, err
    assert "bug" not in err and err.count("\n") == 1
    assert list((tmp_path / "models").iterdir()) == []  # no model, no staging folder


def test_disk_full_on_overwrite_keeps_the_model_there(capsys, monkeypatch, synth_a, tmp_path):
    import transformers.modeling_utils as mu

    out = tmp_path / "clip"
    argv = ["pretrain", "clip", "--corpus", str(synth_a), "--out", str(out), "--epochs", "1", "--quiet"]
    assert main(argv) == 0
    before = _digest(out)
    monkeypatch.setattr(mu, "safe_save_file", _disk_full)
    assert main([*argv, "--seed", "1", "--overwrite"]) == 2
    assert _digest(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip"]
