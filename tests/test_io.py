"""io.atomic_dir, the one staging-and-rename publisher: all or nothing, old folder or new."""
import os

import pytest

from glalign.io import atomic_dir


def test_a_folder_appears_whole_and_replaces_the_old_one(tmp_path):
    out = tmp_path / "pub"
    with atomic_dir(out) as stage:
        (stage / "a.txt").write_text("1")
        assert not out.exists()  # nothing visible before the block ends
    assert (out / "a.txt").read_text() == "1" and oct(out.stat().st_mode & 0o777) != oct(0o700)
    with atomic_dir(out) as stage:
        (stage / "b.txt").write_text("2")
    assert sorted(p.name for p in out.iterdir()) == ["b.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pub"]  # no stage, no old copy left


def test_a_failure_keeps_the_old_folder_and_removes_the_stage(tmp_path):
    out = tmp_path / "pub"
    out.mkdir()
    (out / "old.txt").write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_dir(out) as stage:
            (stage / "half.txt").write_text("x")
            raise RuntimeError("killed")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pub"] and (out / "old.txt").exists()


def test_keep_leaves_another_process_folder_and_keep_on_error_the_stage(tmp_path):
    out = tmp_path / "cache"
    with atomic_dir(out, exists="keep") as stage:
        (stage / "mine").write_text("mine")
        out.mkdir()
        (out / "theirs").write_text("theirs")  # published by someone else meanwhile
    assert os.listdir(out) == ["theirs"] and sorted(os.listdir(tmp_path)) == ["cache"]
    with pytest.raises(ValueError):
        with atomic_dir(tmp_path / "res", prefix=".staging-", keep_on_error=lambda s: True) as stage:
            raise ValueError
    assert stage.exists() and stage.name.startswith(".staging-")
    with pytest.raises(ValueError, match="exists"):
        with atomic_dir(tmp_path / "x", exists="merge"):
            pass
