"""PyTorch integration: a real ``LRScheduler`` for the LR and any other hyperparameter,
lengths from the trainers, tensor and device-side LRs, AdamW groups, gradient clipping and
logging. Needs the ``torch`` extra (:mod:`lrlab.torch.hf` also needs transformers)."""

from ._backend import TorchBackend, lr_tensor
from .finder import FinderResult, Suggestion, find_lr, find_lr_task
from .guard import Event, Guard, Plateau, RobustStats, Surgeon
from .loggers import CSVLogger, TensorBoardLogger
from .scheduler import Scheduler
from .sharpness import Sharpness, SharpnessProbe, sharpness
from .trainers import lightning_budget, onecycle_momentum
from .training import (
    ClipResult,
    DeviceLR,
    ParamGroups,
    clip_grad_norm,
    clipped_step,
    make_adamw,
    param_groups,
    use_tensor_lr,
)

__all__ = [
    "CSVLogger", "ClipResult", "DeviceLR", "ParamGroups", "Scheduler", "TensorBoardLogger",
    "TorchBackend", "clip_grad_norm", "clipped_step", "lightning_budget", "lr_tensor", "make_adamw",
    "onecycle_momentum", "param_groups", "use_tensor_lr",
]
__all__ += ["Event", "FinderResult", "Guard", "Plateau", "RobustStats", "Sharpness", "SharpnessProbe",
            "Suggestion", "Surgeon", "find_lr", "find_lr_task", "sharpness"]
