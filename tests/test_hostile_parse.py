"""Hostile inputs on `glalign data parse` (issue 24): damaged or mismatched parser folders, odd
images; one line naming what and where, exit 2, and no mask folder half-written."""
import json
import shutil

import numpy as np
import pytest
from PIL import Image

from glalign.cli import main
from test_parsing_model import LIP, _tiny_segformer


@pytest.fixture(scope="module")
def parser_dir(tmp_path_factory):
    return _tiny_segformer(tmp_path_factory.mktemp("parser") / "lip", LIP)


@pytest.fixture
def domain(tmp_path):
    from glalign.data.synth import generate_domain

    root = tmp_path / "A"
    generate_domain(root, "A", n_ids=4, seed=5, progress=False)
    return root


def _parse(capsys, root, parser, out):
    rc = main(["data", "parse", str(root), "--parser", str(parser), "--out", str(out), "--device", "cpu", "--quiet"])
    return rc, capsys.readouterr().err


def _damaged(parser_dir, tmp_path, edit):
    folder = tmp_path / "damaged"
    shutil.copytree(parser_dir, folder)
    edit(folder)
    return folder


def _truncate(folder):
    data = (folder / "model.safetensors").read_bytes()
    (folder / "model.safetensors").write_bytes(data[: len(data) // 2])


def _three_labels(folder):
    cfg = json.loads((folder / "config.json").read_text())
    cfg["id2label"] = {"0": "background", "1": "head", "2": "upperbody"}  # names glalign maps, 20 in the weights
    cfg["label2id"] = {v: int(k) for k, v in cfg["id2label"].items()}
    (folder / "config.json").write_text(json.dumps(cfg))


# -- causes: a truncated model.safetensors (SafetensorError), a config whose num_labels disagrees with
# the weights (transformers' ignore_mismatched_sizes RuntimeError), an unreadable preprocessor_config.json
# (silently replaced by SegFormer's defaults: other pixels)
@pytest.mark.parametrize("edit, message", [
    (_truncate, "its weights file (model.safetensors) is damaged"),
    (lambda f: (f / "model.safetensors").write_bytes(b""), "its weights file (model.safetensors) is damaged"),
    (_three_labels, "its weights do not match its config.json (2 weight(s), e.g. decode_head.classifier.bias is "
                    "(20,) in the weights but (3,) by the config)"),
    (lambda f: (f / "preprocessor_config.json").write_text("{"), "preprocessor_config.json cannot be read"),
])
def test_damaged_parser_folder_is_named(capsys, domain, parser_dir, tmp_path, edit, message):
    folder = _damaged(parser_dir, tmp_path, edit)
    rc, err = _parse(capsys, domain, folder, tmp_path / "masks")
    assert rc == 2 and message in err and str(folder) in err, err
    assert err.count("\n") == 1 and not (tmp_path / "masks").exists()


# -- cause: an image that opens but does not decode (truncated) reached cli.main as PIL's bare OSError
def test_truncated_image_is_named(capsys, domain, parser_dir, tmp_path):
    rel = json.loads((domain / "reid_raw.json").read_text())[2]["file_path"]
    image = domain / "imgs" / rel
    image.write_bytes(image.read_bytes()[:200])
    rc, err = _parse(capsys, domain, parser_dir, tmp_path / "masks")
    assert rc == 2 and f"image {image} cannot be decoded" in err, err
    assert not (tmp_path / "masks" / rel).exists()


def test_images_of_odd_modes_and_sizes_are_parsed(capsys, domain, parser_dir, tmp_path):
    """1x1, CMYK, 16-bit, LA, palette, an animated GIF and extreme aspect ratios: one mask each, of the
    image's own size (already fine; held here)."""
    entries = json.loads((domain / "reid_raw.json").read_text())
    odd = [Image.new("RGB", (1, 1), "red"), Image.new("CMYK", (32, 64)),
           Image.fromarray(np.full((64, 32), 40000, np.uint16)), Image.new("LA", (20, 40)), Image.new("P", (20, 40)),
           Image.new("RGB", (2000, 2), "blue"), Image.new("RGB", (1, 1500), "blue")]
    for entry, im in zip(entries, odd):
        im.save(domain / "imgs" / entry["file_path"], format="JPEG" if im.mode == "CMYK" else "PNG")
    frames = [Image.new("RGB", (32, 64), c) for c in ("red", "green")]
    frames[0].save(domain / "imgs" / entries[len(odd)]["file_path"], format="GIF", save_all=True,
                   append_images=frames[1:])
    rc, err = _parse(capsys, domain, parser_dir, tmp_path / "masks")
    assert rc == 0, err
    for entry in entries[: len(odd) + 1]:
        with Image.open(domain / "imgs" / entry["file_path"]) as im, \
                Image.open(tmp_path / "masks" / entry["file_path"]) as mask:
            assert mask.size == im.size and np.asarray(mask).max() <= 5
