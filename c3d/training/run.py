"""``c3d train`` in-process: C3D-BN from scratch or the Sports-1M C3D fine-tuned.

A run lives in one folder, RUN_DIR:

- ``config.json``   model kind, input shape, class names and every option (read back
                    by ``--resume`` and by ``c3d evaluate``);
- ``classes.txt``, ``train_list.txt``, ``val_list.txt``  the classes and the exact
                    split, in UCF101's list formats (absolute paths);
- ``checkpoint-epochNNNN.keras``  model + optimizer state after the last epoch;
- ``best.weights.h5``  the weights of the epoch with the best validation accuracy;
- ``log.csv``, ``tensorboard/``  per-epoch metrics (with learning rate and skipped videos);
- ``evaluation.json``, ``confusion_matrix.{csv,png}``  the best weights scored on the
                    validation set the way ``c3d evaluate`` scores them.
"""

import contextlib
import dataclasses
import importlib.util
import json
import logging
import math
import os
import sys

from c3d.atomic import atomic_output
from c3d.errors import C3DError
from c3d.model.loader import MODEL_KINDS
from c3d.video.clip_format import ClipFormat

log = logging.getLogger(__name__)

# Fine-tuning Sports-1M weights takes small steps; C3D-BN starts at the paper's rate for
# training C3D from scratch (BatchNorm keeps it stable without the paper's care).
# res3d18: fine-tuning the authors' Sports-1M weights, as C3D's (the lr C3D's fine-tuning uses)
DEFAULT_LR = {"c3d": 0.001, "c3d_bn": 0.003, "res3d18": 0.001}
CONFIG_FILE = "config.json"
CONFIG_FORMAT = "c3d-train-run/1"
BEST_WEIGHTS = "best.weights.h5"


OPTION_NAMES = {"clip_shape": "--input-shape"}  # option fields not named as their option


@dataclasses.dataclass
class TrainOptions:
    """Every option that shapes a run; saved in config.json and fixed for its lifetime."""

    model: str = "c3d_bn"
    weights: str | None = None
    freeze_until: str | None = None
    epochs: int = 20
    batch_size: int = 16
    lr: float | None = None  # None: DEFAULT_LR of the model
    schedule: str = "step"
    lr_step_epochs: int = 8
    lr_gamma: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 5e-4
    # (T, H, W): --input-shape; the model's is (T, H, W, 3). None: the model's own clip
    # (C3D 16x112x112, Res3D-18 8x112x112).
    clip_shape: tuple | None = None
    mixed_precision: bool = False
    flip: bool = True
    seed: int = 0

    def resolved(self):
        """A copy with defaults that depend on other options filled in, and checked."""
        if self.model not in MODEL_KINDS:
            raise C3DError(f"--model must be one of {', '.join(MODEL_KINDS)}, got {self.model!r}")
        if self.schedule not in ("step", "cosine"):
            raise C3DError(f"--schedule must be step or cosine, got {self.schedule!r}")
        for name in ("epochs", "batch_size", "lr_step_epochs"):
            if getattr(self, name) < 1:
                raise C3DError(f"--{name.replace('_', '-')} must be at least 1")
        lr = DEFAULT_LR[self.model] if self.lr is None else float(self.lr)
        if self.weights is not None:
            from c3d.model.loader import resolve_weights

            # a name (sports1m) or a path; saved as the file's absolute path
            weights = os.path.abspath(resolve_weights(self.weights))
        else:
            weights = None
        from c3d.model.architectures import architecture

        given = architecture(self.model).plan.CLIP_SHAPE if self.clip_shape is None else None
        shape = tuple(int(d) for d in (given or self.clip_shape))[:3]
        return dataclasses.replace(self, lr=lr, weights=weights, clip_shape=shape)


# --- model --------------------------------------------------------------------------


def build_model(kind, num_classes, input_shape, weights=None):
    """C3D, C3D-BN or Res3D-18 for (T, H, W) clips; ``weights`` loads all layers but a
    resized fc8."""
    shape = (*tuple(input_shape)[:3], 3)
    if weights is not None:
        from c3d.model.loader import load_model

        return load_model(
            weights,
            kind=kind,
            num_classes=num_classes,
            input_shape=shape,
            new_head=True,
            hint=" (is --input-shape right?)",
        )
    from c3d.model.builder import C3D
    from c3d.model.res3d18 import Res3D18

    try:
        if kind == "res3d18":
            return Res3D18(num_classes=num_classes, input_shape=shape)
        return C3D(num_classes=num_classes, input_shape=shape, batch_norm=kind == "c3d_bn")
    except ValueError as exc:  # an input shape too small for C3D's pools
        raise C3DError(f"--input-shape: {exc}") from None


def freeze_until(model, layer_name):
    """Make ``layer_name`` and every layer before it untrainable (fine-tune the rest)."""
    names = [layer.name for layer in model.layers]
    if layer_name not in names:
        raise C3DError(
            f"--freeze-until {layer_name}: no such layer in {model.name}; "
            f"layers are: {', '.join(names)}"
        )
    stop = names.index(layer_name) + 1
    if not any(layer.weights for layer in model.layers[stop:]):
        raise C3DError(f"--freeze-until {layer_name}: leaves no layer to train")
    for layer in model.layers[:stop]:
        layer.trainable = False


def learning_rate_schedule(options, steps_per_epoch):
    """The step (x gamma every N epochs) or cosine (over the planned epochs) schedule."""
    import keras

    if options.schedule == "cosine":
        return keras.optimizers.schedules.CosineDecay(
            options.lr, decay_steps=max(1, options.epochs * steps_per_epoch)
        )
    return keras.optimizers.schedules.ExponentialDecay(
        options.lr,
        decay_steps=max(1, options.lr_step_epochs * steps_per_epoch),
        decay_rate=options.lr_gamma,
        staircase=True,
    )


def make_optimizer(options, steps_per_epoch):
    """SGD with momentum; weight decay on kernels only (not on biases or BN offsets/scales)."""
    import keras

    optimizer = keras.optimizers.SGD(
        learning_rate=learning_rate_schedule(options, steps_per_epoch),
        momentum=options.momentum,
        weight_decay=options.weight_decay or None,
    )
    if options.weight_decay:
        optimizer.exclude_from_weight_decay(var_names=["bias", "gamma", "beta"])
    return optimizer


def compile_model(model, options, steps_per_epoch):
    model.compile(
        optimizer=make_optimizer(options, steps_per_epoch),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )


def use_mixed_precision():
    """Switch Keras to mixed_float16 when a GPU is present; on CPU it would be ~20x slower."""
    import keras

    from c3d.runtime import accelerator_present

    if not accelerator_present():
        log.warning("--mixed-precision ignored: no GPU (float16 on the CPU is ~20x slower)")
        return False
    keras.mixed_precision.set_global_policy("mixed_float16")
    return True


# --- run dir ------------------------------------------------------------------------


def write_json(path, data):
    with atomic_output(path) as tmp, open(tmp, "w", encoding="utf-8") as out:
        json.dump(data, out, indent=2)
        out.write("\n")


def read_run_config(run_dir):
    """The config.json of a run dir, or None when the folder holds none."""
    path = os.path.join(run_dir, CONFIG_FILE)
    if not os.path.isfile(path):
        return None
    try:
        with open(path, encoding="utf-8") as f:
            config = json.load(f)
    except (OSError, ValueError) as exc:
        raise C3DError(f"{path}: not a readable run config ({exc})") from None
    if not isinstance(config, dict) or config.get("format") != CONFIG_FORMAT:
        raise C3DError(f"{path}: not a c3d train run config")
    return config


def _new_run(run_dir, options, data_options):
    """The config and video sets of a new run; nothing is written yet."""
    from c3d.training.datasets import check_trainable, resolve_training_data

    if os.path.isdir(run_dir) and os.listdir(run_dir):
        hint = "add --resume to continue it" if read_run_config(run_dir) else "it is not empty"
        raise C3DError(f"{run_dir}: holds files already ({hint}, or choose another -o)")
    train_set, val_set = resolve_training_data(**data_options, seed=options.seed)
    source = data_options.get("train_list") or data_options.get("data")
    check_trainable(train_set, source)
    config = {
        "format": CONFIG_FORMAT,
        "model": options.model,
        "input_shape": list(options.clip_shape),  # (T, H, W), as runs have always saved it
        "resize_hw": list(
            ClipFormat.for_model(options.model, input_shape=options.clip_shape).resize_hw
        ),
        "mean": "Sports-1M mean cube, resized to resize_hw and sampled at T frames",
        "class_names": list(train_set.class_names),
        "train_videos": len(train_set),
        "val_videos": len(val_set),
        "data": {key: _abspath(value) for key, value in data_options.items()},
        "options": _options_json(options),
    }
    return config, train_set, val_set


def _write_new_run(run_dir, config, train_set, val_set):
    """The run's classes, split and config.json (written last: it marks a run to resume)."""
    from c3d.training.datasets import write_class_index, write_split_list

    os.makedirs(run_dir, exist_ok=True)
    write_class_index(train_set.class_names, os.path.join(run_dir, "classes.txt"))
    write_split_list(train_set, os.path.join(run_dir, "train_list.txt"))
    write_split_list(val_set, os.path.join(run_dir, "val_list.txt"))
    write_json(os.path.join(run_dir, CONFIG_FILE), config)


def _resumed_run(run_dir, options, given):
    """The saved run; options given on the command line must agree with it (but epochs)."""
    from c3d.training.datasets import read_split_list

    config = read_run_config(run_dir)
    if config is None:
        raise C3DError(f"{run_dir}: no run to resume ({CONFIG_FILE} missing)")
    saved = config["options"]
    saved = _saved_options(saved)
    for name in sorted(given - {"epochs"}):
        value = _options_json(options)[name]
        if value != saved.get(name):
            option = OPTION_NAMES.get(name, "--" + name.replace("_", "-"))
            raise C3DError(
                f"{option} {value} differs from the run's {saved.get(name)} "
                f"({os.path.join(run_dir, CONFIG_FILE)}); a resumed run keeps its options"
            )
    merged = dataclasses.replace(
        TrainOptions(**{**saved, "clip_shape": tuple(saved["clip_shape"])}),
        epochs=options.epochs if "epochs" in given else saved["epochs"],
    )
    if merged.schedule == "cosine" and merged.epochs > saved["epochs"]:
        log.warning(
            "the cosine schedule was planned for %d epochs; later epochs keep its final rate",
            saved["epochs"],
        )
    class_names = config["class_names"]
    train_set = read_split_list(os.path.join(run_dir, "train_list.txt"), "", class_names)
    val_set = read_split_list(os.path.join(run_dir, "val_list.txt"), "", class_names)
    return config, merged, train_set, val_set


def _options_json(options):
    data = dataclasses.asdict(options)
    shape = data["clip_shape"]
    data["clip_shape"] = None if shape is None else list(shape)
    return data


def _saved_options(saved):
    """A run's saved options, from any version (before 1.1 ``clip_shape`` was
    ``input_shape``, the name the model's (T, H, W, 3) shape has everywhere else)."""
    saved = dict(saved)
    if "input_shape" in saved:
        saved["clip_shape"] = saved.pop("input_shape")
    return saved


def _abspath(value):
    return os.path.abspath(value) if isinstance(value, (str, os.PathLike)) and value else value


# --- training -----------------------------------------------------------------------


def train(run_dir, options, data_options=None, resume=False, given=(), workers=None):
    """Train (or resume) a run in ``run_dir``; returns the summary written to evaluation.json.

    Args:
        options: TrainOptions. On ``resume`` the run's saved options are used; those
            named in ``given`` (set explicitly by the user) must agree, except ``epochs``.
        data_options: keyword arguments of ``c3d.training.datasets.resolve_training_data`` but
            ``seed`` (ignored on resume: the run's saved lists are used).
        workers: parallel video decoders (default: tf.data autotune).
    """
    run_dir = os.path.abspath(run_dir)
    options = options.resolved()
    # Bad options and data fail here, fast: before TensorFlow loads and anything is written.
    if resume:
        config, options, train_set, val_set = _resumed_run(run_dir, options, set(given))
    else:
        config, train_set, val_set = _new_run(run_dir, options, data_options or {})

    import keras

    from c3d.training.callbacks import (
        BestWeights,
        CSVLog,
        EpochCheckpoint,
        ExtraMetrics,
        StreamValidation,
        last_checkpoint,
        read_csv_log,
    )
    from c3d.training.datasets import DecodeFailures
    from c3d.training.input import ClipReader, batches_per_epoch, make_dataset

    class_names = config["class_names"]
    log.info(
        "%s: %d classes, %d training and %d validation videos, clips %s",
        run_dir,
        len(class_names),
        len(train_set),
        len(val_set),
        "x".join(map(str, options.clip_shape)),
    )
    if options.mixed_precision:
        use_mixed_precision()
    keras.utils.set_random_seed(options.seed)

    checkpoint = last_checkpoint(run_dir) if resume else None
    model = build_model(
        options.model,
        len(class_names),
        options.clip_shape,
        weights=None if checkpoint else options.weights,
    )
    if options.freeze_until:
        freeze_until(model, options.freeze_until)
    if not resume:  # the model, its weights and --freeze-until are valid: start the run
        _write_new_run(run_dir, config, train_set, val_set)
    steps = batches_per_epoch(len(train_set), options.batch_size)
    compile_model(model, options, steps)
    initial_epoch = 0
    if checkpoint:
        initial_epoch, path = checkpoint
        model.optimizer.build(model.trainable_variables)
        model.load_weights(path)  # weights and optimizer state: momentum, iteration count
        if int(keras.ops.convert_to_numpy(model.optimizer.iterations)) == 0:
            # Keras skips (with a mere warning) an optimizer state that does not fit.
            raise C3DError(f"{path}: its optimizer state does not fit the run's model")
        log.info("resuming after epoch %d from %s", initial_epoch, path)

    clip_format = ClipFormat.for_model(options.model, input_shape=options.clip_shape)
    failures = DecodeFailures()
    reader = ClipReader(clip_format, failures, flip=options.flip)
    # A resumed run draws other clips than the epochs it continues from did.
    seed = options.seed + initial_epoch
    train_data = make_dataset(train_set, reader, options.batch_size, seed=seed, workers=workers)
    validation = StreamValidation(val_set, reader, options.batch_size, workers=workers)

    csv_path = os.path.join(run_dir, "log.csv")
    best_path = os.path.join(run_dir, BEST_WEIGHTS)
    earlier = [r for r in read_csv_log(csv_path) if int(r["epoch"]) <= initial_epoch]
    best = max(earlier, key=lambda r: float(r.get("val_accuracy") or -1), default=None)
    best_weights = BestWeights(
        best_path,
        best=float(best["val_accuracy"]) if best else -math.inf,
        best_epoch=int(best["epoch"]) if best else None,
    )
    callbacks = [validation, ExtraMetrics(failures), CSVLog(csv_path, initial_epoch), best_weights]
    callbacks.append(EpochCheckpoint(run_dir))
    if importlib.util.find_spec("tensorboard") is not None:
        tensorboard_dir = os.path.join(run_dir, "tensorboard")
        callbacks.append(keras.callbacks.TensorBoard(tensorboard_dir, write_graph=False))
    else:  # TensorFlow >= 2.20 no longer installs it
        log.warning("no TensorBoard logs: the tensorboard package is not installed")
    if initial_epoch < options.epochs:
        if resume and options.epochs != config["options"]["epochs"]:
            config["options"]["epochs"] = options.epochs
            write_json(os.path.join(run_dir, CONFIG_FILE), config)
        # Keras prints its progress bar on stdout; stdout is for results (e.g. --json).
        with contextlib.redirect_stdout(sys.stderr):
            model.fit(
                train_data,
                epochs=options.epochs,
                initial_epoch=initial_epoch,
                steps_per_epoch=steps,
                callbacks=callbacks,
                shuffle=False,  # the dataset shuffles itself
                verbose=1 if sys.stderr.isatty() else 2,
            )
    else:
        log.info("the run has %d epochs already; nothing to train", initial_epoch)
    if len(failures):
        log.warning("%d videos could not be decoded and were skipped", len(failures))
    if not os.path.isfile(best_path):
        raise C3DError(
            f"{run_dir}: no epoch finished ({len(failures)} of the {len(train_set)} training "
            f"and {len(val_set)} validation videos could not be decoded)"
        )
    return _final_evaluation(model, run_dir, best_weights, val_set, clip_format, options)


def _final_evaluation(model, run_dir, best, val_set, clip_format, options):
    """Score the best weights on the validation set exactly as ``c3d evaluate`` does."""
    from c3d.model.inference import predict_fn
    from c3d.model.weights import load_weights_into
    from c3d.training.evaluation import evaluate_videos, save_confusion_matrix

    best_path = best.path
    load_weights_into(model, best_path)
    log.info("scoring %s on the validation videos (all stride-8 clips)", best_path)
    result = evaluate_videos(predict_fn(model), val_set, clip_format, batch_size=options.batch_size)
    csv_path, png_path = save_confusion_matrix(result, run_dir)
    summary = {
        **result.summary(),
        "best_epoch": best.best_epoch,
        "best_val_accuracy": best.best,
        "weights": best_path,
        "confusion_matrix_csv": csv_path,
        "confusion_matrix_png": png_path,
    }
    write_json(os.path.join(run_dir, "evaluation.json"), summary)
    return summary
