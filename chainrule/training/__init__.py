"""The reusable training loop: epochs with a NaN guard, evaluation, metrics, resumable state.

This floor sits under ``cli/`` and over ``models/``, ``data/``, ``io/`` and ``viz/``; a
notebook can drive it directly::

    from chainrule.training import train_one_epoch, evaluate
    result = train_one_epoch(model, loader, nn.CrossEntropyLoss(), optimizer, epoch=1)
"""
from .config import TrainConfig, TrainConfigError
from .data import DATASETS, AddChannel, DatasetSpec, Limited, image_transform, load_split
from .loop import (EpochResult, EvalResult, NonFiniteLossError, check_parameters_finite,
                   cosine_schedule, evaluate, predict_proba, train_one_epoch)
from .metrics import (METRIC_FIELDS, accuracy, confusion_matrix, per_class_accuracy,
                      read_metrics_csv, write_metrics_csv)
from .state import (KIND, model_from_checkpoint, read_training_checkpoint,
                    restore_training_state, save_training_checkpoint)

__all__ = [
    "TrainConfig", "TrainConfigError",
    "DATASETS", "DatasetSpec", "AddChannel", "Limited", "image_transform", "load_split",
    "EpochResult", "EvalResult", "NonFiniteLossError", "check_parameters_finite",
    "cosine_schedule",
    "train_one_epoch", "evaluate", "predict_proba",
    "METRIC_FIELDS", "accuracy", "confusion_matrix", "per_class_accuracy",
    "read_metrics_csv", "write_metrics_csv",
    "KIND", "save_training_checkpoint", "read_training_checkpoint", "model_from_checkpoint",
    "restore_training_state",
]
