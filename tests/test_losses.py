"""Losses against a hand-computed case and the masking of missing parts."""
import math

import torch
import torch.nn.functional as F

from glalign.model.losses import local_loss, symmetric_ce, total_loss


def test_symmetric_ce_by_hand():
    img = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    txt = F.normalize(torch.tensor([[1.0, 1.0], [0.0, 1.0]]), dim=1)
    s = torch.tensor(2.0)
    c = 1 / math.sqrt(2)
    logits = [[2 * c, 0.0], [2 * c, 2.0]]
    li = -(math.log(math.exp(logits[0][0]) / (math.exp(logits[0][0]) + math.exp(logits[0][1])))
           + math.log(math.exp(logits[1][1]) / (math.exp(logits[1][0]) + math.exp(logits[1][1])))) / 2
    col = list(zip(*logits))
    lt = -(math.log(math.exp(col[0][0]) / (math.exp(col[0][0]) + math.exp(col[0][1])))
           + math.log(math.exp(col[1][1]) / (math.exp(col[1][0]) + math.exp(col[1][1])))) / 2
    assert float(symmetric_ce(img, txt, s)) == __import__("pytest").approx((li + lt) / 2, rel=1e-6)


def test_same_identity_pairs_are_not_negatives():
    x = F.normalize(torch.randn(4, 8), dim=1)
    distinct = symmetric_ce(x, x, torch.tensor(10.0), torch.tensor([0, 1, 2, 3]))
    assert torch.allclose(distinct, symmetric_ce(x, x, torch.tensor(10.0)))
    grouped = symmetric_ce(x, x, torch.tensor(10.0), torch.tensor([0, 0, 1, 1]))
    assert not torch.allclose(grouped, distinct)


def test_local_loss_masks_missing_parts():
    torch.manual_seed(0)
    regions = F.normalize(torch.randn(3, 5, 4), dim=-1)
    phrases = F.normalize(torch.randn(3, 5, 4), dim=-1)
    present = torch.zeros(3, 5, dtype=torch.bool)
    present[:, 0] = True            # HEAD in all three
    present[0, 3] = True            # SHOES in one only: fewer than 2 pairs, no term
    loss, counts = local_loss(regions, present, phrases, present, torch.tensor(5.0))
    assert counts["HEAD"] == 3 and counts["SHOES"] == 1 and counts["OTHERS"] == 0
    expected = symmetric_ce(regions[:, 0], phrases[:, 0], torch.tensor(5.0))
    assert torch.allclose(loss, expected)
    # garbage in a missing slot does not change the loss
    regions2 = regions.clone()
    regions2[1:, 3] = 100.0
    assert torch.allclose(local_loss(regions2, present, phrases, present, torch.tensor(5.0))[0], loss)


def test_no_valid_part_gives_zero_with_gradient_path():
    r = torch.randn(2, 5, 4, requires_grad=True)
    none = torch.zeros(2, 5, dtype=torch.bool)
    loss, _ = local_loss(r, none, r, none, torch.tensor(1.0))
    assert float(loss.detach()) == 0.0
    loss.backward()


def test_total_loss_ends():
    g, loc = torch.tensor(2.0), torch.tensor(4.0)
    assert float(total_loss(g, loc, 1.0)) == 2.0
    assert float(total_loss(g, loc, 0.0)) == 4.0
    assert float(total_loss(g, loc, 0.5)) == 3.0
