"""The training floor: metrics, one epoch with the NaN guard, evaluation, training checkpoints."""
from __future__ import annotations

import os
import re

import numpy as np
import pytest

import chainrule as cr
from chainrule.data import DataLoader, TensorDataset
from chainrule.io import CheckpointError, load_checkpoint, save_checkpoint
from chainrule.models import MLP, LeNet5
from chainrule.training import (NonFiniteLossError, accuracy, confusion_matrix, evaluate,
                                model_from_checkpoint, per_class_accuracy, predict_proba,
                                read_metrics_csv, read_training_checkpoint,
                                restore_training_state, save_training_checkpoint,
                                train_one_epoch, write_metrics_csv)


@pytest.fixture(autouse=True)
def seed():
    cr.manual_seed(0)


def toy_loader(n=96, seed=0, shuffle=True, loader_seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 4)).astype(np.float32)
    y = (x[:, 0] + x[:, 1] > 0).astype(np.int64) + 2 * (x[:, 2] > 0)
    return DataLoader(TensorDataset(x, y), batch_size=16, shuffle=shuffle, seed=loader_seed)


# -- metrics ---------------------------------------------------------------------------------

def test_confusion_matrix_and_accuracies():
    cm = confusion_matrix([0, 0, 1, 2, 2, 2], [0, 1, 1, 2, 2, 0], 4)
    assert cm.tolist() == [[1, 1, 0, 0], [0, 1, 0, 0], [1, 0, 2, 0], [0, 0, 0, 0]]
    assert cm.dtype == np.int64
    assert accuracy(cm) == pytest.approx(4 / 6)
    assert per_class_accuracy(cm) == [0.5, 1.0, pytest.approx(2 / 3), None]
    assert accuracy(np.zeros((2, 2))) == 0.0


@pytest.mark.parametrize("t,p,match", [([0, 1], [0], "2 targets but 1 predictions"),
                                       ([0, 3], [0, 1], r"targets must be in \[0, 3\)"),
                                       ([0, 1], [-1, 1], "predictions must be")])
def test_confusion_matrix_errors(t, p, match):
    with pytest.raises(ValueError, match=match):
        confusion_matrix(t, p, 3)


def test_metrics_csv_roundtrip_exact_and_atomic(tmp_path):
    rows = [{"epoch": 1, "train_loss": 0.1 + 0.2, "train_acc": 0.5, "test_loss": 1 / 3,
             "test_acc": 0.25, "seconds": 1.5, "images_per_second": 100.0},
            {"epoch": 2, "train_loss": 0.2, "train_acc": 0.75}]
    path = tmp_path / "metrics.csv"
    write_metrics_csv(rows, path)
    back = read_metrics_csv(path)
    assert back[0] == rows[0]  # floats written with repr: exact
    assert back[1]["test_loss"] is None
    write_metrics_csv(rows[:1], path)  # rewrite replaces
    assert len(read_metrics_csv(path)) == 1
    assert os.listdir(tmp_path) == ["metrics.csv"]  # no temporary file left behind
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask


# -- the loop --------------------------------------------------------------------------------

def test_train_one_epoch_learns_and_reports():
    model = MLP((4, 32, 4), activation="tanh")
    opt = cr.optim.SGD(model.parameters(), lr=0.2, momentum=0.9)
    loss_fn = cr.nn.CrossEntropyLoss()
    loader = toy_loader()
    first = train_one_epoch(model, loader, loss_fn, opt, epoch=1, progress=False)
    for e in range(2, 6):
        last = train_one_epoch(model, loader, loss_fn, opt, epoch=e, progress=False)
    assert first.images == last.images == 96
    assert last.loss < first.loss and last.accuracy > first.accuracy
    assert first.seconds > 0 and first.images_per_second > 0
    ev = evaluate(model, toy_loader(shuffle=False), loss_fn)
    assert ev.images == 96 and ev.confusion.sum() == 96 and ev.accuracy > 0.7
    assert ev.loss == pytest.approx(last.loss, rel=0.5)
    assert all(p.dtype == np.float32 for p in model.parameters())


def test_progress_bar_runs(capsys):
    model = MLP((4, 8, 4))
    opt = cr.optim.SGD(model.parameters(), lr=0.1)
    train_one_epoch(model, toy_loader(), cr.nn.CrossEntropyLoss(), opt, epoch=2, epochs=3,
                    progress=True)
    err = capsys.readouterr().err
    assert "epoch 2/3" in err


def test_nan_loss_stops_before_the_step_and_names_epoch_and_step():
    model = MLP((4, 8, 4))
    opt = cr.optim.SGD(model.parameters(), lr=0.1)
    real = cr.nn.CrossEntropyLoss()
    calls = []

    def poisoned(logits, y):
        calls.append(1)
        loss = real(logits, y)
        return loss * float("nan") if len(calls) == 3 else loss

    steps = []
    original_step = opt.step

    def counting_step():
        steps.append(1)
        original_step()

    opt.step = counting_step
    with pytest.raises(NonFiniteLossError, match=r"loss is nan at epoch 4, step 3/6") as info:
        train_one_epoch(model, toy_loader(), poisoned, opt, epoch=4, progress=False)
    assert (info.value.epoch, info.value.step, info.value.steps) == (4, 3, 6)
    assert len(steps) == 2  # no optimizer step on the NaN batch
    assert all(np.isfinite(p._data).all() for p in model.parameters())


def test_huge_learning_rate_is_caught():
    model = MLP((4, 64, 4))
    opt = cr.optim.SGD(model.parameters(), lr=1e38)
    with pytest.raises(NonFiniteLossError, match="at epoch 1"):
        for e in (1, 2, 3):  # overflows within a few steps; NumPy warnings are silenced
            train_one_epoch(model, toy_loader(), cr.nn.CrossEntropyLoss(), opt, epoch=e,
                            progress=False)


def test_evaluate_and_predict_restore_mode():
    model = LeNet5()
    model.train()
    loader = DataLoader(TensorDataset(np.zeros((3, 1, 28, 28), np.float32), np.array([0, 1, 2])),
                        batch_size=2)
    ev = evaluate(model, loader, num_classes=10)
    assert ev.loss is None and ev.confusion.shape == (10, 10) and ev.images == 3
    p = predict_proba(model, cr.zeros(2, 1, 28, 28))
    assert p.shape == (2, 10) and p.dtype == np.float32
    np.testing.assert_allclose(p.sum(axis=1), 1, rtol=1e-5)
    assert model.training


# -- training checkpoints --------------------------------------------------------------------

def _setup():
    cr.manual_seed(3)
    model = MLP((4, 8, 4))
    opt = cr.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    loader = toy_loader()
    train_one_epoch(model, loader, cr.nn.CrossEntropyLoss(), opt, progress=False)
    return model, opt, loader


def _save(path, model, opt, loader, **kw):
    args = dict(model=model, optimizer=opt, loader=loader, model_name="mlp",
                model_config={"sizes": [4, 8, 4], "activation": "relu"},
                data={"name": "toy"}, train={"lr": 0.1}, epoch=1, metrics=[{"epoch": 1}])
    args.update(kw)
    return save_training_checkpoint(path, **args)


def test_training_checkpoint_roundtrip(tmp_path):
    model, opt, loader = _setup()
    _save(tmp_path / "ck", model, opt, loader)
    rng_after_save = cr.get_rng_state()
    state, meta = read_training_checkpoint(tmp_path / "ck")
    assert meta["epoch"] == 1 and meta["model"] == "mlp" and meta["kind"] == "chainrule.train"
    clone = model_from_checkpoint(state, meta)
    for (n, a), (_, b) in zip(model.state_dict().items(), clone.state_dict().items()):
        assert np.array_equal(a._data, b._data), n
    opt2 = cr.optim.SGD(clone.parameters(), lr=0.1, momentum=0.9)
    loader2 = toy_loader(loader_seed=5)  # the restored state replaces its generator
    cr.manual_seed(99)
    restore_training_state(meta, model=clone, optimizer=opt2, loader=loader2)
    assert cr.get_rng_state() == rng_after_save
    # the next epoch is identical on the original and the restored copies
    loss_fn = cr.nn.CrossEntropyLoss()
    cr.set_rng_state(rng_after_save)
    train_one_epoch(model, loader, loss_fn, opt, progress=False)
    cr.set_rng_state(rng_after_save)
    train_one_epoch(clone, loader2, loss_fn, opt2, progress=False)
    for (n, a), (_, b) in zip(model.state_dict().items(), clone.state_dict().items()):
        assert np.array_equal(a._data, b._data), n


def test_not_a_training_checkpoint(tmp_path):
    save_checkpoint(tmp_path / "plain", {"w": np.zeros(2, np.float32)}, {"epoch": 1})
    with pytest.raises(CheckpointError, match="not a training checkpoint"):
        read_training_checkpoint(tmp_path / "plain")


def test_shape_mismatch_leaves_model_untouched(tmp_path):
    model, opt, loader = _setup()
    _save(tmp_path / "ck", model, opt, loader,
          model_config={"sizes": [4, 9, 4], "activation": "relu"})
    state, meta = read_training_checkpoint(tmp_path / "ck")
    with pytest.raises(CheckpointError, match=r"size mismatch for fc1.weight: copying a param "
                                              r"with shape \(8, 4\) from checkpoint, the shape "
                                              r"in current model is \(9, 4\)"):
        model_from_checkpoint(state, meta)


def test_unknown_model_in_meta(tmp_path):
    model, opt, loader = _setup()
    _save(tmp_path / "ck", model, opt, loader, model_name="resnet")
    state, meta = read_training_checkpoint(tmp_path / "ck")
    with pytest.raises(CheckpointError, match="unknown model 'resnet'"):
        model_from_checkpoint(state, meta)


@pytest.mark.parametrize("metrics", [[1], [{"loss": 0.5}], [{"epoch": "1"}], [{"epoch": True}]])
def test_malformed_metrics_rows_are_refused(tmp_path, metrics):
    model, opt, loader = _setup()
    _save(tmp_path / "ck", model, opt, loader, metrics=metrics)
    with pytest.raises(CheckpointError, match=r"ck\.json: meta 'metrics'\[0\] must be a dict "
                                              r"with an int 'epoch', got "):
        read_training_checkpoint(tmp_path / "ck")


def test_absurd_model_config_is_a_checkpoint_error(tmp_path):
    model, opt, loader = _setup()
    _save(tmp_path / "ck", model, opt, loader,
          model_config={"sizes": [4, 10**12, 4], "activation": "relu"})
    state, meta = read_training_checkpoint(tmp_path / "ck")
    with pytest.raises(CheckpointError, match="cannot rebuild the model of the checkpoint: "
                                              "Unable to allocate"):
        model_from_checkpoint(state, meta)


def test_optimizer_buffer_of_wrong_shape_is_refused(tmp_path):
    model, opt, loader = _setup()
    _save(tmp_path / "ck", model, opt, loader)
    state, meta = read_training_checkpoint(tmp_path / "ck")
    meta["optimizer"]["state"][0]["momentum_buffer"] = np.zeros((3, 3), np.float32)
    fresh = MLP((4, 8, 4))
    with pytest.raises(CheckpointError,
                       match=r"'momentum_buffer' of parameter 0 has shape \(3, 3\)"):
        restore_training_state(meta, model=fresh,
                               optimizer=cr.optim.SGD(fresh.parameters(), lr=0.1, momentum=0.9))


def test_pytorch_loads_the_weights_file_of_a_lenet5_checkpoint_strictly(tmp_path):
    """The weights file holds LeNet-5's state dict and nothing else (the optimizer's buffers
    are in ``ck.meta.safetensors``): PyTorch's strict load takes it as it is."""
    import sys
    from pathlib import Path

    torch = pytest.importorskip("torch")
    ref = pytest.importorskip("safetensors.torch")
    repo = str(Path(__file__).resolve().parent.parent)
    if repo not in sys.path:  # torch's LeNet-5 mirror lives in benchmarks/, not installed
        sys.path.insert(0, repo)
    from benchmarks.cases import lenet5

    model = LeNet5()
    opt = cr.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    x, y = cr.randn(4, 1, 28, 28), cr.randint(0, 10, (4,))
    cr.nn.functional.cross_entropy(model(x), y).backward()
    opt.step()  # momentum buffers exist now
    paths = _save(tmp_path / "ck", model, opt, toy_loader(), model_name="lenet5",
                  model_config={"num_classes": 10})
    theirs = lenet5(torch)
    result = theirs.load_state_dict(ref.load_file(str(paths.weights)), strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    assert list(theirs.state_dict()) == list(model.state_dict())
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(theirs.state_dict()[name].numpy(), value.numpy())
    buffers = ref.load_file(str(paths.arrays))
    assert len(buffers) == len(list(model.parameters()))  # one momentum buffer per parameter
    _, meta = read_training_checkpoint(tmp_path / "ck")
    np.testing.assert_array_equal(meta["optimizer"]["state"][0]["momentum_buffer"],
                                  opt.state_dict()["state"][0]["momentum_buffer"])


def test_nan_weights_are_never_saved(tmp_path):
    model, opt, loader = _setup()
    _save(tmp_path / "ck", model, opt, loader)
    good = (tmp_path / "ck.safetensors").read_bytes()
    with cr.no_grad():
        model.fc1.weight._data[0, 0] = np.nan
    buffers = (tmp_path / "ck.meta.safetensors").read_bytes()
    with pytest.raises(ValueError, match="non-finite"):
        _save(tmp_path / "ck", model, opt, loader, epoch=2)
    assert (tmp_path / "ck.safetensors").read_bytes() == good
    assert (tmp_path / "ck.meta.safetensors").read_bytes() == buffers
    assert load_checkpoint(tmp_path / "ck")[1]["epoch"] == 1


def test_nan_momentum_buffers_are_never_saved(tmp_path):
    model, opt, loader = _setup()
    _save(tmp_path / "ck", model, opt, loader)
    next(iter(opt.state.values()))["momentum_buffer"][0, 0] = np.inf
    with pytest.raises(ValueError, match="tensor 'optimizer.state.0.momentum_buffer' holds 1 "
                                         "non-finite value"):
        _save(tmp_path / "ck", model, opt, loader, epoch=2)
    assert load_checkpoint(tmp_path / "ck")[1]["epoch"] == 1


# -- a tampered training checkpoint: refused before anything changes ---------------------------

def _edit_json(stem, edit):
    """Edit the meta of a saved checkpoint's JSON in place (the weights hash stays valid)."""
    import json

    path = stem.with_name(stem.name + ".json")
    doc = json.loads(path.read_text())
    edit(doc["meta"])
    path.write_text(json.dumps(doc))


def _state_of(model, opt, loader):
    return ({k: np.array(v._data) for k, v in model.state_dict().items()},
            repr(opt.param_groups), {id(p): {n: np.array(v) for n, v in s.items()}
                                     for p, s in opt.state.items()},
            loader.state_dict(), cr.get_rng_state())


def _assert_same(a, b):
    for x, y in zip(a, b):
        if isinstance(x, dict) and x and isinstance(next(iter(x.values())), np.ndarray):
            assert x.keys() == y.keys() and all(np.array_equal(x[k], y[k]) for k in x)
        else:
            assert repr(x) == repr(y)


def _restore_into_fresh(stem, make_optimizer=None):
    """Read the checkpoint at ``stem`` and restore it into a fresh model, optimizer and loader;
    return the error and whether they were left untouched."""
    state, meta = read_training_checkpoint(stem)
    clone = model_from_checkpoint(state, meta)
    opt = (make_optimizer or (lambda ps: cr.optim.SGD(ps, lr=0.1, momentum=0.9)))(
        clone.parameters())
    loader = toy_loader(loader_seed=5)
    cr.manual_seed(99)
    before = _state_of(clone, opt, loader)
    with pytest.raises(CheckpointError) as info:
        restore_training_state(meta, model=clone, optimizer=opt, loader=loader)
    _assert_same(_state_of(clone, opt, loader), before)
    return str(info.value)


def _group(**change):
    return lambda m: m["optimizer"]["param_groups"][0].update(change)


@pytest.mark.parametrize("edit, msg", [
    (_group(lr="fast"), r"cannot restore the optimizer state into SGD: loaded state dict: "
                        r"param_groups\[0\]\['lr'\] must be a finite number >= 0, got 'fast'"),
    (_group(lr=-1), r"\['lr'\] must be a finite number >= 0, got -1"),  # was gradient ascent
    (_group(momentum="0.9"), r"\['momentum'\] must be a finite number >= 0, got '0.9'"),
    (_group(weight_decay="0"), r"\['weight_decay'\] must be a finite number >= 0, got '0'"),
    (_group(nesterov="yes"), r"\['nesterov'\] must be true or false"),
    (lambda m: m["optimizer"]["param_groups"][0].pop("dampening"), r"lacks \['dampening'\]"),
    (lambda m: m["rng"]["state"].update(state=2 ** 200),
     r"the checkpoint's rng: state\['state'\] must be an int in \[0, 2\*\*128\), got 16069"),
    (lambda m: m["rng"]["state"].update(state=-5), r"rng: state\['state'\] must be an int in"),
    (lambda m: m["rng"]["state"].update(inc=1.5), r"rng: state\['inc'\] must be an int in"),
    (lambda m: m["rng"]["state"].update(inc=2), r"rng: state\['inc'\] must be odd"),
    (lambda m: m["rng"].update(uinteger=2 ** 40), r"rng: 'uinteger' must be an int in "
                                                  r"\[0, 2\*\*32\)"),
    (lambda m: m["rng"].update(has_uint32=5), r"rng: 'has_uint32' must be 0 or 1, got 5"),
    (lambda m: m["rng"].update(extra=1), r"rng must have the keys"),
    (lambda m: m["rng"].update(bit_generator="MT19937"),
     r"rng is not a PCG64 generator state \(its 'bit_generator' is 'MT19937'\)"),
    (lambda m: m.update(rng=[1]), r"rng is not a PCG64 generator state"),
    (lambda m: m["loader"]["generator"]["state"].update(state=2 ** 200),
     r"the checkpoint's loader generator: state\['state'\] must be an int in \[0, 2\*\*128\)"),
    (lambda m: m["loader"].update(batches_done=-1), "cannot restore the data loader state"),
])
def test_tampered_state_is_refused_and_nothing_changes(tmp_path, edit, msg):
    model, opt, loader = _setup()
    _save(tmp_path / "ck", model, opt, loader)
    _edit_json(tmp_path / "ck", edit)
    assert re.search(msg, _restore_into_fresh(tmp_path / "ck"))


def test_state_of_another_optimizer_is_refused(tmp_path):
    # the recipe switched to adam: the saved SGD state used to fail mid-step with KeyError
    model, opt, loader = _setup()
    _save(tmp_path / "ck", model, opt, loader)
    msg = _restore_into_fresh(tmp_path / "ck", lambda ps: cr.optim.Adam(ps, lr=1e-3))
    assert "cannot restore the optimizer state into Adam: loaded state dict: param_groups[0] " \
           "does not fit Adam: it lacks ['betas', 'eps', 'amsgrad', 'decoupled_weight_decay']" \
           in msg


@pytest.mark.parametrize("buffer, msg", [
    (np.array(0.5, np.float32), r"state 'momentum_buffer' of parameter 0 has shape \(\), but "
                                r"the parameter has shape \(8, 4\)"),
    (np.ones((8, 4), np.int32), r"'momentum_buffer' must be a float array, got dtype int32"),
])
def test_bad_momentum_buffer_in_the_meta_arrays_file_is_refused(tmp_path, buffer, msg):
    model, opt, loader = _setup()
    _save(tmp_path / "ck", model, opt, loader)
    state, meta = load_checkpoint(tmp_path / "ck")
    meta["optimizer"]["state"][0]["momentum_buffer"] = buffer
    save_checkpoint(tmp_path / "ck", state, meta)
    assert re.search(msg, _restore_into_fresh(tmp_path / "ck"))


@pytest.mark.parametrize("old, new, msg", [
    ('"epoch": 1}]', '"epoch": 1, "test_loss": NaN}]', "the file holds NaN"),
    ('"epoch": 1}]', '"epoch": 1, "test_loss": 1e999}]', "the file holds the number 1e999"),
    ('"epoch": 1,', '"epoch": ' + "1" * 5000 + ",", "the file holds an integer of 5000 digits"),
    ('"epoch": 1}]', '"epoch": 1, "test_loss": "low"}]',
     r"meta 'metrics'\[0\]\['test_loss'\] must be a finite number, got 'low'"),
    ('"epoch": 1}]', '"epoch": 1, "train_acc": true}]',
     r"meta 'metrics'\[0\]\['train_acc'\] must be a finite number, got True"),
    ('"metrics": [{"epoch": 1}]', '"metrics": [{"epoch": 2}]',
     r"meta 'metrics'\[0\] is for epoch 2, expected 1: one row per epoch, in order"),
    ('"metrics": [{"epoch": 1}]', '"metrics": [{"epoch": 1}, {"epoch": 2}]',
     r"meta 'metrics' has 2 rows but 'epoch' is 1"),
])
def test_bad_metrics_are_refused_when_read(tmp_path, old, new, msg):
    # a NaN used to be accepted: the resumed run trained an epoch, then its save failed
    model, opt, loader = _setup()
    _save(tmp_path / "ck", model, opt, loader)
    path = tmp_path / "ck.json"
    text = path.read_text().replace("\n", "").replace("  ", "")
    text = re.sub(r'"metrics": \[\s*\{\s*"epoch": 1\s*\}\s*\]', '"metrics": [{"epoch": 1}]', text)
    assert old in text
    path.write_text(text.replace(old, new, 1))
    with pytest.raises(CheckpointError, match=msg):
        read_training_checkpoint(tmp_path / "ck")


def test_recipe_seed_must_fit_manual_seed():
    from chainrule.training import TrainConfig, TrainConfigError

    meta = {"model": "mlp", "data": {"name": "mnist"},
            "train": {**TrainConfig().train_meta(), "seed": 2 ** 70}}
    with pytest.raises(TrainConfigError, match=r"seed must be an int in \[0, 2\*\*64\), got "
                                               r"1180591620717411303424") as info:
        TrainConfig.from_meta(meta)
    assert info.value.fields == ["seed"]
    meta["train"]["seed"] = 2 ** 64 - 1
    cr.manual_seed(TrainConfig.from_meta(meta).seed)  # the largest seed is a valid one
