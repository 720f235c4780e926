"""One seed's unit of work: train (or reuse verified weights) → predict every pruning method
→ mark. `execute_unit` is the function the study gives its executor (core/executors): a pure
function of (config, study folder, seed) that reopens the shared caches `prepare` wrote, so it
runs the same wherever it runs. See core/study/__init__.py for the resume rules."""
from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import torch

from core import models, predictions, pruning, store
from core.config import StudyConfig
from core.data import images
from core.errors import StudyError
from core.executors.unit import Unit, check_study_folder
from core.predict import predict_dense, predict_grid
from core.pruning.cost import Collector
from core.store import StudyPaths
from core.study.markers import mark, say, spec_dict, unit_is_done, verified_files
from core.study.prepare import image_size_of
from core.threads import torch_threads
from core.train import resolve_device, train_seed

__all__ = ["UNIT_MODULES", "execute_unit", "open_data", "run_unit"]

# What a unit imports on its way: loaded at once in a Ray worker's warm-up
# (core.executors.ray_backend.RayExecutor.warm_up), so that its start-up can be paid, and
# timed, before its first unit. Architectures or methods with their own packages
# (torchvision models, torch_pruning) still load on first use.
UNIT_MODULES = ("torch", "core.study.seed_unit", "core.train", "core.predict", "core.pruning",
                "core.models", "core.predictions", "core.data.images", "safetensors.torch",
                "torch.utils.flop_counter", "tqdm.auto")


def open_data(paths: StudyPaths) -> dict:
    """The image caches and labels a unit needs, reopened from the folder `prepare` filled.

    Args:
        paths (StudyPaths): the study's paths.

    Returns:
        dict: {split: (uint8 memmap ``[n, H, W]``, float32 labels ``[n, C]``)}.

    Raises:
        StudyError: when a cache or its labels are missing, or their lengths differ.
    """
    data = {}
    for split in StudyPaths.SPLIT_CACHES:
        npy, lab = paths.cache(split), paths.cache_labels(split)
        if not (npy.is_file() and lab.is_file()):
            raise StudyError(f"{npy.parent}: the {split} image cache or its labels are missing; "
                             "run the study command once (it prepares them) before its units")
        arr, y = images.open_cache(npy), store.open_npy(lab, mmap=False)
        if len(arr) != len(y):
            raise StudyError(f"{npy}: {len(arr)} cached images but {len(y)} label rows in "
                             f"{lab.name}; rerun the study command to rebuild the cache")
        data[split] = (arr, y)
    return data


def run_unit(cfg: StudyConfig, paths: StudyPaths, classes, data: dict, *, seed: int,
             device, progress: bool, placement: dict | None = None) -> dict:
    """One seed: train (or reuse verified trained weights) → predict every method → mark.

    Args:
        cfg (StudyConfig): the config.
        paths (StudyPaths): the study's paths.
        classes (list[str]): the class names.
        data (dict): `open_data`'s result.
        seed (int): the seed.
        device (torch.device | str): where to train and predict.
        progress (bool): show progress bars.
        placement (dict | None): where the unit ran (executor, host, GPU ids, start time);
            recorded in the unit's marker, never in a result file, so it cannot change what a
            unit computes.

    Returns:
        dict: the training info (epochs, best epoch, validation loss, seconds, and each
        regime's seconds).
    """
    spec = models.spec(cfg.model)
    t0 = time.perf_counter()
    trained = paths.trained_marker(seed)
    if unit_is_done(paths, seed, trained):
        say(f"seed {seed}: reusing trained weights")
        model = models.load_model(paths.weights(seed))[0]
        info = store.read_json(trained).get("info", {})
    else:
        (tx, ty), (vx, vy) = data["train"], data["val"]
        model, history, info = train_seed(cfg, classes=classes, train_images=tx,
                                           train_labels=ty, val_images=vx, val_labels=vy,
                                           seed=seed, device=device, progress=progress)
        meta = {"architecture": cfg.model, "classes": list(classes), "seed": seed,
                "input_size": image_size_of(cfg), "best_epoch": info["best_epoch"],
                "best_val_loss": info["best_val_loss"]}
        dtype = getattr(torch, cfg.weights_dtype)
        if dtype != torch.float32:
            models.round_weights_(model, dtype)  # predictions use exactly the stored weights
        models.save_model(paths.weights(seed), model, meta, dtype=dtype)
        mark(paths, trained, seed,
             [paths.weights(seed), *_write_trained(paths, seed, meta, spec, history, info)],
             {"info": info})
        say(f"seed {seed}: trained {info['epochs_run']} epochs, best epoch "
            f"{info['best_epoch']} (val loss {info['best_val_loss']:.4f}) in "
            f"{info['seconds']:.1f} s")
        _test_kill_point()
    # The study's encoding, not today's default: a study begun by an older version keeps its
    # own (study.json has no "predictions" record → float16 probabilities).
    encoding = predictions.study_encoding(paths.root)
    earlier = verified_files(paths, paths.unit_done(seed))
    val_path = paths.val_predictions(seed)
    if earlier is not None:   # grid done before validation predictions existed: keep it
        say(f"seed {seed}: adding the dense model's validation predictions")
        outputs = [paths.root / rel for rel in earlier if rel != paths.rel(val_path)]
    else:
        ex, _ = data["eval"]
        # cost of every pruned model, measured where it is used; latency on the first seed
        costs = Collector(models.preprocess(torch.from_numpy(np.array(ex[:1])), spec),
                          cfg.weights_dtype, latency=seed == cfg.seeds[0])
        grid_options = {"seed": seed, "device": device, "batch_size": cfg.predict_batch_size,
                        "progress": progress, "on_model": costs, "encoding": encoding}
        # regimes (gradual pruning) fine-tune with training data: run after the others, and
        # predicted in float32 without autocast, as they always were
        regimes = [m for m in cfg.methods if pruning.method_kind(m) == "regime"]
        regime_seconds = {}
        grid = predict_grid(model, spec, ex, [m for m in cfg.methods if m not in regimes],
                            cfg.sparsities, amp=cfg.train.amp,
                            channels_last=cfg.train.channels_last, **grid_options)
        training = pruning.TrainingData(*data["train"], config=cfg, device=device,
                                        progress=progress)
        for method in regimes:
            t_method = time.perf_counter()
            grid.update(predict_grid(model, spec, ex, [method], cfg.sparsities, amp=False,
                                     channels_last=False, training=training, **grid_options))
            seconds = time.perf_counter() - t_method
            info = {**info, f"{method}_seconds": seconds}
            regime_seconds[method] = seconds
            say(f"seed {seed}: {method} in {seconds:.1f} s")
        outputs = [paths.weights(seed), paths.model_meta(seed), paths.history(seed)]
        if paths.train_timings(seed).is_file():   # absent in a unit trained by schema 1
            outputs.append(paths.train_timings(seed))
        for method, (preds, measured) in grid.items():
            store.write_npy(paths.predictions(method, seed), preds)
            store.write_json(paths.measured_sparsity(method, seed), {
                "method": method, "seed": seed, "sparsities": list(cfg.sparsities),
                "measured": measured})
            outputs += [paths.predictions(method, seed), paths.measured_sparsity(method, seed)]
        outputs += costs.write(paths.cost_json(seed), paths.predict_timings(seed), seed,
                               regime_seconds)
    # Dense model on the validation split: operating thresholds are chosen there, not on
    # the evaluation images.
    val_logits = predict_dense(model, spec=spec, images=data["val"][0], seed=seed, device=device,
                               batch_size=cfg.predict_batch_size, amp=cfg.train.amp,
                               channels_last=cfg.train.channels_last)
    store.write_npy(val_path, predictions.encode(val_logits, encoding))
    outputs.append(val_path)
    seconds = time.perf_counter() - t0
    extra = {"seconds": seconds, "training": info}
    if placement is not None:
        extra["placement"] = {**placement, "end": time.time()}
    mark(paths, paths.unit_done(seed), seed, outputs, extra)
    say(f"seed {seed}: done in {seconds:.1f} s")
    return info


# Training facts that measure how fast a run went, not what it computed: they go to the
# seed's train_timings.json, never into model.json or history.parquet (results).
_TRAIN_TIMINGS = ("seconds", "train_images_per_s")


def _write_trained(paths: StudyPaths, seed: int, meta: dict, spec, history,
                   info: dict) -> list[Path]:
    """model.json, history.parquet and train_timings.json of a freshly trained seed."""
    store.write_json(paths.model_meta(seed), {
        **meta, "spec": spec_dict(spec),
        "training": {k: v for k, v in info.items() if k not in _TRAIN_TIMINGS}})
    store.write_parquet(paths.history(seed), history.drop(columns=["seconds"], errors="ignore"))
    epochs = history["seconds"].tolist() if "seconds" in history else []
    store.write_json(paths.train_timings(seed), {
        "seed": seed, **{k: info.get(k) for k in _TRAIN_TIMINGS}, "epoch_seconds": epochs})
    return [paths.model_meta(seed), paths.history(seed), paths.train_timings(seed)]


def _test_kill_point() -> None:
    """Fault injection for the executor tests: when PRUNELENS_TEST_KILL_AFTER_TRAINING names
    a flag file that does not exist yet, create it and SIGKILL this process — right after a
    unit's trained weights are written, once (the retried attempt finds the flag)."""
    flag = os.environ.get("PRUNELENS_TEST_KILL_AFTER_TRAINING")
    if flag and not os.path.exists(flag):
        Path(flag).touch()
        os.kill(os.getpid(), 9)


def execute_unit(unit: Unit, *, device=None, threads: int | None = None,
                 placement: dict | None = None) -> dict:
    """Run `unit` (skipped when already done); returns what the driver reports about it.

    Args:
        unit (Unit): the study folder, seed, config and progress flag.
        device (torch.device | str | None): None = the config's ``train.device``.
        threads (int | None): torch threads for the unit; None = unchanged.
        placement (dict | None): recorded in the unit's marker.

    Returns:
        dict: seed, placement, skipped, seconds, device, and torch_threads when it ran.

    Raises:
        StudyError: when the study folder or its caches are not visible here.
    """
    root = check_study_folder(unit.root)
    paths = StudyPaths(root)
    result = {"seed": unit.seed, "placement": placement}
    if unit_is_done(paths, unit.seed):
        return {**result, "skipped": True, "seconds": 0.0, "device": None}
    cfg = StudyConfig.from_dict(unit.config)
    classes = store.read_json(paths.study_json)["classes"]
    data = open_data(paths)
    device = device if device is not None else resolve_device(cfg.train.device)
    t0 = time.perf_counter()
    with torch_threads(threads):
        n_threads = torch.get_num_threads()  # what the unit really runs with (benchmarks)
        run_unit(cfg, paths, classes, data, seed=unit.seed, device=device,
                 progress=unit.progress, placement=placement)
    return {**result, "skipped": False, "seconds": time.perf_counter() - t0,
            "device": str(device), "torch_threads": n_threads}
