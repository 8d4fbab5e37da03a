"""Disk full and read-only outputs for the commands that write (issue 24): exit 2 with one line naming
the place, and nothing empty or half-written left behind (a retry is never blocked by a leftover)."""
import errno
import tempfile

import pytest

from glalign.cli import main


def _full(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


# -- cause: a full disk while the first checkpoint was saved left RUN/checkpoints/ behind, and the retry was
# refused as "not empty and holds no glalign run"
def test_disk_full_on_the_first_checkpoint_leaves_no_run_folder(capsys, monkeypatch, synth_a, tmp_path):
    import glalign.checkpoint as ck

    out = tmp_path / "run"
    argv = ["train", "--data", str(synth_a), "--lang", "en", "--out", str(out), "--profile", "tiny", "--epochs", "1",
            "--device", "cpu", "--quiet"]
    monkeypatch.setattr(ck, "_optimizer_to_flat", _full)
    assert main(argv) == 2
    assert "No space left on device" in capsys.readouterr().err
    assert not out.exists()
    monkeypatch.undo()
    assert main(argv) == 0  # the retry is not blocked


# -- cause: data sheet wrote the PNG in place: a full disk left an empty sheet.png
def test_disk_full_while_a_sheet_is_saved(capsys, monkeypatch, synth_a, tmp_path):
    import matplotlib.figure

    def full_after_a_byte(self, fname, **kwargs):
        with open(fname, "wb") as f:
            f.write(b"\x89")
        _full()
    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", full_after_a_byte)
    out = tmp_path / "sheet.png"
    assert main(["data", "sheet", str(synth_a), "--out", str(out), "--ids", "2"]) == 2
    assert "No space left on device" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_read_only_output_is_named(capsys, monkeypatch, synth_a, tmp_path):
    """A read-only output (EROFS: root ignores permission bits, so the refusal is simulated)."""
    import glalign.io as gio

    def read_only(path):
        raise OSError(errno.EROFS, "Read-only file system", str(path))
    monkeypatch.setattr(gio, "atomic_path", read_only)
    out = tmp_path / "sheet.png"
    assert main(["data", "sheet", str(synth_a), "--out", str(out), "--ids", "2"]) == 2
    err = capsys.readouterr().err
    assert f"Read-only file system: {out}" in err and err.count("\n") == 1
    assert not out.exists()


# -- cause: a read-only dataset folder was named by atomic_path's temporary file (.rsm_pairs...tmp)
def test_read_only_folder_is_named_by_the_file_asked_for(monkeypatch, tmp_path):
    from glalign.io import write_json

    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system", str(tmp_path / ".x.json.abc.tmp"))
    monkeypatch.setattr(tempfile, "mkstemp", read_only)
    with pytest.raises(OSError) as err:
        write_json(tmp_path / "x.json", {})
    assert err.value.errno == errno.EROFS and err.value.filename == str(tmp_path / "x.json")
