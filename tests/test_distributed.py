"""Data-parallel training and evaluation: 2 processes (gloo, each given the environment torchrun
sets) with the global batch split between them compute the same gradients and losses and end
with the same weights as 1 process on the whole batch; a run written by 2 processes resumes in
1; sharded evaluation ranks as 1 process does. Also the input pipeline (keyed flips, the image
file cache) and activation checkpointing. No GPU needed."""
import json
import os
import socket

import numpy as np
import pandas as pd
import pytest
import torch
from safetensors.torch import load_file

from glalign import PARTS
from glalign.checkpoint import completed_epochs
from glalign.config import TrainConfig
from glalign.data.torchdata import GlobalBatchSampler, PairDataset
from glalign.errors import DataError
from glalign.model.task import GLAlignTask
from glalign.train import train


def _settings(data, out):
    # the full model (global and local losses: every embedding, mask and id goes through the gather)
    return dict(data=[str(data)], lang="en", out=str(out), epochs=2, batch_size=16, region_mode="pool")


def _process(rank: int, settings: dict, port: int) -> None:
    """One of two training processes, with the environment torchrun would give it. Forked from
    the test process, so it starts without importing torch and transformers again."""
    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE="2", MASTER_ADDR="127.0.0.1",
                      MASTER_PORT=str(port))
    torch.set_num_threads(1)  # as torchrun's OMP_NUM_THREADS=1 (and GNU OpenMP after a fork)
    train(TrainConfig.for_profile("tiny", device="cpu", **settings), progress=False, stop_after_epoch=1)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _weight_diffs(a, b) -> tuple[float, float]:
    """(max abs difference, max relative norm difference of a tensor) over the parameters. Adam
    divides each gradient by its own running size, so an entry whose gradient is all but 0 moves a
    full step whichever way float rounding tips it: a max abs difference of a few learning rates
    says nothing; the gradients themselves are compared in test_two_processes_same_gradients. The
    attention key biases are left out: adding q·b_k to a whole row of attention logits leaves the
    softmax unchanged, so their gradient is 0 in exact arithmetic and float noise only."""
    wa, wb = load_file(str(a / "model.safetensors")), load_file(str(b / "model.safetensors"))
    assert wa.keys() == wb.keys()
    keys = [k for k in wa if not k.endswith("k_proj.bias")]
    return (max(float((wa[k] - wb[k]).abs().max()) for k in keys),
            max(float((wa[k] - wb[k]).norm() / wa[k].norm().clamp(min=1e-12)) for k in keys))


def test_sampler_slices_are_the_one_process_batches():
    one = list(GlobalBatchSampler(70, 16, seed=5))
    two = [list(GlobalBatchSampler(70, 16, rank=r, world_size=2, seed=5)) for r in range(2)]
    assert len(one) == 64 and all(len(t) == 32 for t in two)  # the partial batch is dropped
    for b in range(4):  # batch b of one process == rank 0's slice then rank 1's
        assert one[16 * b:16 * (b + 1)] == two[0][8 * b:8 * (b + 1)] + two[1][8 * b:8 * (b + 1)]
    # one process: the permutation of torch.randperm seeded with seed + epoch
    assert [i for i, _ in one] == torch.randperm(70, generator=torch.Generator().manual_seed(5))[:64].tolist()
    s = GlobalBatchSampler(70, 16, seed=5)
    s.set_epoch(1)
    assert [i for i, _ in s] != [i for i, _ in one] and len(s) == 64
    assert len(list(GlobalBatchSampler(10, 16))) == 10  # smaller than one batch: one partial batch
    with pytest.raises(DataError, match="multiple of 3"):
        GlobalBatchSampler(70, 16, world_size=3)
    with pytest.raises(DataError, match="fewer than one global batch"):
        GlobalBatchSampler(10, 16, world_size=2)


def test_flips_come_with_the_samples(synth_a):
    from glalign.data.records import load_dataset
    from glalign.data.torchdata import ImageStore, image_item

    keys = list(GlobalBatchSampler(70, 16, seed=5))
    # one draw per place in the global order (the slices test: the same whatever the processes)
    draws = torch.rand(70, generator=torch.Generator().manual_seed(5)) < 0.5
    assert [f for _, f in keys] == draws[:64].tolist() and 0 < sum(f for _, f in keys) < 64
    recs = load_dataset(synth_a, lang="en", check_images=False).split("train")[:3]
    ds = PairDataset(recs, ImageStore(32, (4, 4)), {}, {r.pid: 0 for r in recs}, "pool")
    plain = image_item(ds.store, recs[ds.items[1][0]], False, "pool")["pixels"]
    torch.manual_seed(0)  # the global RNG plays no part
    assert torch.equal(ds[(1, True)]["pixels"], plain.flip(-1)) and not torch.equal(plain.flip(-1), plain)
    assert torch.equal(ds[(1, False)]["pixels"], plain) and torch.equal(ds[1]["pixels"], plain)
    ds.flip = False  # --no-flip wins over the key
    assert torch.equal(ds[(1, True)]["pixels"], plain)


def _grad_process(rank: int, port: int, out: str) -> None:
    """One of two processes: half of a fixed batch each, one DDP step; rank 0 saves the gradients."""
    from safetensors.torch import save_file

    from glalign import distributed

    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE="2", MASTER_ADDR="127.0.0.1",
                      MASTER_PORT=str(port))
    torch.set_num_threads(1)
    ctx = distributed.init("cpu")
    model, batch = _model_and_batch()
    half = len(batch["labels"]) // 2
    task = GLAlignTask(model, 0.5, gather=distributed.gather_batch)
    ddp = torch.nn.parallel.DistributedDataParallel(task)
    ddp(_rows(batch, rank * half, (rank + 1) * half))["loss"].backward()
    if ctx.is_main:
        save_file({n: p.grad for n, p in model.named_parameters()}, out)
    distributed.cleanup()


def _model_and_batch():
    from glalign.bench import RandomVocab as _RandomVocab, random_batch
    from glalign.model.factory import build_model

    cfg = TrainConfig.for_profile("tiny", region_mode="crop")
    torch.manual_seed(0)
    model = build_model(cfg, _RandomVocab())
    torch.manual_seed(1)
    batch = random_batch(cfg, 12)
    batch["labels"] = torch.arange(12) // 2  # two pairs per person: shared positives across the ranks' halves
    batch["present"][::3, 1] = False  # some absent regions and phrases
    batch["phrase_present"][1::4, 3] = False
    return model, batch


def _rows(batch: dict, lo: int, hi: int) -> dict:
    """Rows lo:hi of a random_batch (its phrases are row-major, one per part)."""
    n = len(PARTS)
    out = {k: v[lo:hi] for k, v in batch.items() if k not in ("phrase_ids", "phrase_mask", "phrase_slots")}
    out.update(phrase_ids=batch["phrase_ids"][lo * n:hi * n], phrase_mask=batch["phrase_mask"][lo * n:hi * n],
               phrase_slots=batch["phrase_slots"][:(hi - lo) * n])
    return out


def test_two_processes_same_gradients(tmp_path):
    """One step: the gradients DDP averages over 2 processes, each with half the batch and the
    gathered negatives, are those of 1 process with the whole batch (crop mode, shared ids)."""
    out = tmp_path / "grads.safetensors"
    torch.multiprocessing.start_processes(_grad_process, args=(_free_port(), str(out)), nprocs=2,
                                          start_method="fork")
    model, batch = _model_and_batch()
    GLAlignTask(model, 0.5).train()(batch)["loss"].backward()
    two = load_file(str(out))
    one = {n: p.grad for n, p in model.named_parameters()}
    assert one.keys() == two.keys()
    worst = max(float((one[n] - two[n]).abs().max() / one[n].abs().max().clamp(min=1e-8)) for n in one
                if not n.endswith("k_proj.bias"))
    print(f"1 vs 2 processes, one step: gradients differ by at most {worst:.1e} of each tensor's largest entry")
    assert worst < 1e-4
    assert float(one["logit_scale"].abs()) > 0 and float(one["phrase_proj.weight"].abs().max()) > 0


def test_two_processes_equal_one_and_resume_in_one(synth_a, tmp_path):
    two = tmp_path / "two"
    torch.multiprocessing.start_processes(_process, args=(_settings(synth_a, two), _free_port()), nprocs=2,
                                          start_method="fork")
    one = train(TrainConfig.for_profile("tiny", device="cpu", **_settings(synth_a, tmp_path / "one")),
                progress=False, stop_after_epoch=1)
    h1, h2 = pd.read_csv(one / "history.csv"), pd.read_csv(two / "history.csv")
    for col in ("loss", "global_loss", "local_loss", "logit_scale"):
        assert h2[col].tolist() == pytest.approx(h1[col].tolist(), rel=1e-5, abs=1e-6), col
    diff, rel = _weight_diffs(one, two)
    print(f"1 vs 2 processes after one epoch: loss {h1['loss'][0]:.7f} vs {h2['loss'][0]:.7f}; weights differ by "
          f"at most {diff:.2e} (relative {rel:.2e})")
    assert rel < 1e-3
    assert json.loads((two / "train_config.json").read_text())["world_size"] == 2
    s1, s2 = pd.read_csv(one / "steps.csv"), pd.read_csv(two / "steps.csv")  # written once, by rank 0
    assert s2.step.tolist() == s1.step.tolist() == list(range(1, int(h1.steps.iloc[-1]) + 1))
    assert s2.loss.tolist() == pytest.approx(s1.loss.tolist(), rel=1e-5, abs=1e-6)
    # the 2-process run, resumed by 1 process, ends where the 1-process run resumed ends
    after_one_epoch = load_file(str(one / "model.safetensors"))
    for run in (one, two):
        train(TrainConfig.for_profile("tiny", device="cpu", **_settings(synth_a, run)), resume=True, progress=False)
        assert completed_epochs(run) == 2
    assert json.loads((two / "train_config.json").read_text())["world_size"] == 1
    assert pd.read_csv(two / "history.csv")["loss"].tolist() == pytest.approx(
        pd.read_csv(one / "history.csv")["loss"].tolist(), rel=1e-5)
    diff, rel = _weight_diffs(one, two)
    print(f"after resuming both in 1 process: weights differ by at most {diff:.2e} (relative {rel:.2e})")
    assert rel < 1e-3
    moved = load_file(str(one / "model.safetensors"))
    assert max(float((moved[k] - after_one_epoch[k]).abs().max()) for k in moved) > 1e-3  # the check can fail


def test_nproc_shortcut_arguments(monkeypatch, tmp_path):
    import subprocess

    from glalign.cli import build_parser, main, strip_nproc

    launched = []
    monkeypatch.setattr(subprocess, "run", lambda cmd, **kw: launched.append(cmd) or subprocess.CompletedProcess(cmd, 3))
    data = str(tmp_path)  # a folder: --data is checked before torchrun starts
    assert main(["train", "--data", data, "--nproc", "2", "--lang", "en", "--out", "R"]) == 3  # torchrun's status
    assert launched[0][1:7] == ["-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m", "glalign"]
    assert launched[0][7:] == ["--", "train", "--data", data, "--lang", "en", "--out", "R"]

    argv = ["--data", "D", "--nproc", "2", "--lang", "en", "--nproc=2", "--out", "R"]
    assert strip_nproc(argv) == ["--data", "D", "--lang", "en", "--out", "R"]
    args = build_parser().parse_args(["train", "--data", "D", "--lang", "en", "--out", "R", "--nproc", "2",
                                      "--workers", "2", "--grad-checkpointing"])
    assert (args.nproc, args.workers, args.grad_checkpointing) == (2, 2, True)


def test_grad_checkpointing_gives_the_same_gradients():
    from glalign.bench import RandomVocab as _RandomVocab, random_batch
    from glalign.model.factory import build_model
    from glalign.model.task import GLAlignTask, enable_grad_checkpointing

    cfg = TrainConfig.for_profile("tiny", region_mode="crop")
    grads = []
    for checkpointing in (False, True):
        torch.manual_seed(0)
        model = build_model(cfg, _RandomVocab())
        if checkpointing:
            enable_grad_checkpointing(model)
            flags = [m.gradient_checkpointing for m in model.modules() if hasattr(m, "gradient_checkpointing")]
            assert flags and all(flags)
        torch.manual_seed(1)
        GLAlignTask(model, 0.5).train()(random_batch(cfg, 8))["loss"].backward()
        grads.append({n: p.grad for n, p in model.named_parameters() if p.grad is not None})
    assert grads[0].keys() == grads[1].keys() and len(grads[0]) > 10
    assert all(torch.allclose(grads[0][n], grads[1][n], atol=1e-6) for n in grads[0])


def test_image_cache_reads_what_decoding_gives(synth_a, tmp_path):
    import dataclasses
    import pickle
    import shutil

    from glalign.data.image_cache import ImageCache, build, fingerprint
    from glalign.data.records import load_dataset
    from glalign.data.torchdata import ImageStore

    recs = load_dataset(synth_a, lang="en", check_images=False).split("train")[:5]
    store = ImageStore(32, (4, 4))
    cache = build(store, recs, tmp_path / "cache")
    assert len(cache) == 5 and cache.get("not/an/image.jpg") is None
    reader = ImageStore(32, (4, 4))
    reader.files.append(pickle.loads(pickle.dumps(ImageCache(tmp_path / "cache"))))  # as a spawned worker
    reader.decode = None  # a cache hit never decodes
    for r in recs:
        assert all(torch.equal(a, b) for a, b in zip(store.decode(r.image, r.mask), reader.get(r.image, r.mask)))
    copy = tmp_path / "image.png"
    shutil.copy(recs[0].image, copy)
    one = [dataclasses.replace(recs[0], image=copy)]
    before = fingerprint(one, 32, "vitaa")
    os.utime(copy, ns=(1, 1))  # an edited image: another cache
    assert fingerprint(one, 32, "vitaa") != before != fingerprint(one, 48, "vitaa")


def test_training_reads_the_image_cache(synth_a, tmp_path):
    """The same weights whether the images come from the files or from the cache (built by the
    first run, beside the dataset)."""
    runs = []
    for cached in (False, True):
        cfg = TrainConfig.for_profile("tiny", data=[str(synth_a)], lang="en", out=str(tmp_path / str(cached)),
                                      device="cpu", epochs=1, batch_size=32)
        cfg.image_cache = cached
        runs.append(train(cfg, progress=False))
    assert list((synth_a / ".glalign-cache").glob("images-48-vitaa-*/images.npy"))
    assert _weight_diffs(*runs) == (0.0, 0.0)


def _eval_model(synth_a):
    from glalign.data.records import load_dataset
    from glalign.model.factory import build_model
    from glalign.text.tokenizers import train_tokenizer

    recs = load_dataset(synth_a, lang="en", check_images=False).split("test")
    cfg = TrainConfig.for_profile("tiny")
    tok = train_tokenizer([c for r in recs for c in r.captions], "clip", 600)
    torch.manual_seed(0)
    return build_model(cfg, tok).eval(), tok, recs


def _eval_process(rank: int, port: int, synth_a, out: str) -> None:
    """One of two processes evaluating with the encoding shared out; rank 0 saves what it ranked."""
    from glalign import distributed
    from glalign.evaluate import evaluate
    from glalign.text.phrases import dataset_cache_dir

    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE="2", MASTER_ADDR="127.0.0.1",
                      MASTER_PORT=str(port))
    torch.set_num_threads(1)
    distributed.init("cpu")
    assert distributed.active()  # the encoding below is shared out
    model, tok, recs = _eval_model(synth_a)
    res = evaluate(model, tok, model.config, recs, "en", cache_dir=dataset_cache_dir(synth_a), progress=False)
    if distributed.is_main():
        np.save(out, res.fused(0.5))
        res.per_query.to_csv(out + ".csv", index=False)
    distributed.cleanup()


def test_sharded_evaluation_equals_one_process(synth_a, tmp_path):
    from glalign.evaluate import evaluate
    from glalign.text.phrases import dataset_cache_dir

    model, tok, recs = _eval_model(synth_a)
    one = evaluate(model, tok, model.config, recs, "en", cache_dir=dataset_cache_dir(synth_a), progress=False)
    out = str(tmp_path / "two.npy")
    torch.multiprocessing.start_processes(_eval_process, args=(_free_port(), synth_a, out), nprocs=2,
                                          start_method="fork")
    sim = np.load(out)
    print(f"sharded evaluation: similarities differ by at most {np.abs(sim - one.fused(0.5)).max():.1e}")
    assert np.allclose(sim, one.fused(0.5), atol=1e-5)
    two = pd.read_csv(out + ".csv")
    assert two["rank"].tolist() == one.per_query["rank"].tolist() and len(two) == one.n_queries > 20
