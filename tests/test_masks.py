"""Part masks: the label tables, the stripes fallback, boxes and patch weights."""
import numpy as np
import pytest
from PIL import Image

from glalign.errors import DataError
from glalign.parsing.masks import (ATR_TO_PART, LIP_TO_PART, load_label_map, part_boxes, patch_weights,
                                   stripes_label_map, to_vitaa)


def test_lip_and_atr_tables_cover_every_label():
    assert sorted(LIP_TO_PART) == list(range(20))
    assert sorted(ATR_TO_PART) == list(range(18))
    assert LIP_TO_PART[2] == 1 and LIP_TO_PART[18] == 4 and LIP_TO_PART[6] == 3  # hair, shoe, dress
    assert ATR_TO_PART[16] == 5 and ATR_TO_PART[3] == 1  # bag -> OTHERS, sunglasses -> HEAD


def test_mapping_and_unknown_ids():
    lip = np.array([[0, 2, 5], [9, 18, 19]], np.uint8)
    assert to_vitaa(lip, "lip").tolist() == [[0, 1, 2], [3, 4, 4]]
    with pytest.raises(DataError, match=r"label ids \[25\]"):
        to_vitaa(np.array([[25]], np.uint8), "lip")
    with pytest.raises(DataError, match="unknown parsing scheme"):
        to_vitaa(lip, "cihp")


def test_load_label_map_errors(tmp_path):
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(tmp_path / "rgb.png")
    with pytest.raises(DataError, match="single-channel"):
        load_label_map(tmp_path / "rgb.png")
    (tmp_path / "broken.png").write_bytes(b"xx")
    with pytest.raises(DataError, match="broken.png"):
        load_label_map(tmp_path / "broken.png")


def test_stripes_and_boxes():
    lab = stripes_label_map(100, 40)
    assert lab[0, 0] == 1 and lab[30, 5] == 2 and lab[70, 5] == 3 and lab[95, 5] == 4
    boxes = part_boxes(lab)
    assert boxes["HEAD"] == (0, 0, 18, 40)
    assert boxes["OTHERS"] is None  # missing part is explicit


def test_patch_weights_are_fractions():
    lab = np.zeros((8, 8), np.uint8)
    lab[:4, :4] = 1
    lab[:2, 4:] = 2
    w = patch_weights(lab, (2, 2))
    assert w.shape == (5, 4)
    assert w[0].tolist() == [1.0, 0.0, 0.0, 0.0]
    assert w[1].tolist() == [0.0, 0.5, 0.0, 0.0]
    assert (w.sum(0) <= 1.0 + 1e-6).all()
