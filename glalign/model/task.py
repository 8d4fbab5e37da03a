"""GLAlignTask: the model and its losses in one module, whose forward(batch) returns the losses.

Distributed data parallel wraps this module, so the forward it sees is the one that computes
the loss and gradients are all-reduced (calling model.encode_* directly would bypass it). The
training loop and `glalign bench train` both step through it. Losses are computed in fp32
outside autocast, whatever precision the encoders ran in."""
from __future__ import annotations

import torch
from torch import nn

from glalign.device import autocast_for
from glalign.model.losses import local_loss, symmetric_ce, total_loss


class GLAlignTask(nn.Module):
    def __init__(self, model, alpha: float, gather=None):
        """gather: None, or a function dict -> dict that all-gathers embeddings, ids and masks
        across ranks (glalign.distributed), so the loss sees the whole global batch."""
        super().__init__()
        self.model, self.alpha, self.gather = model, alpha, gather

    def forward(self, batch: dict) -> dict:
        model, use_local = self.model, self.alpha < 1.0
        with autocast_for(batch["pixels"].device):
            img_g, regions = model.encode_image(batch["pixels"], batch.get("weights"), batch.get("crops"),
                                                batch["present"], local=use_local)
            txt_g = model.encode_text(batch["input_ids"], batch["attention_mask"])
            phr = None
            if use_local and "phrase_ids" in batch:
                phr = model.encode_phrases(batch["phrase_ids"], batch["phrase_mask"], batch["phrase_slots"],
                                           len(img_g))
            elif use_local and self.gather is not None:  # no phrase on this rank: every rank must still
                # hand the gather the same keys, each requiring grad (its backward is a collective), and
                # use the same parameters (DDP reduces each parameter's gradient once per step)
                phr = img_g.new_zeros(len(img_g), batch["phrase_present"].shape[1], model.phrase_proj.out_features,
                                      dtype=torch.float32) + 0.0 * model.phrase_proj.weight.sum()
        out = {"image": img_g.float(), "text": txt_g.float(), "labels": batch["labels"]}
        if phr is not None:
            out.update(regions=regions.float(), region_present=batch["present"], phrases=phr.float(),
                       phrase_present=batch["phrase_present"])
            if "phrase_weight" in batch:  # mined supervision: each pair weighed by its reliability
                out["phrase_weight"] = batch["phrase_weight"].float()
        if self.gather is not None:
            out = self.gather(out)
        scale = model.scale().float()
        g_loss = symmetric_ce(out["image"], out["text"], scale, out["labels"])
        if "phrases" in out:
            l_loss, _ = local_loss(out["regions"], out["region_present"], out["phrases"], out["phrase_present"],
                                   scale, out["labels"], out.get("phrase_weight"))
        else:
            l_loss = g_loss * 0.0
        return {"loss": total_loss(g_loss, l_loss, self.alpha), "global": g_loss, "local": l_loss}


def enable_grad_checkpointing(model) -> None:
    """Both towers recompute their layers' activations in backward instead of keeping them: less
    memory, one more forward. transformers 5.2x names it activation checkpointing, earlier
    releases gradient checkpointing; non-reentrant either way (works under DDP and autocast)."""
    kwargs = {"use_reentrant": False}
    if hasattr(model, "activation_checkpointing_enable"):
        model.activation_checkpointing_enable(activation_checkpointing_kwargs=kwargs)
    else:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs=kwargs)
