"""DINO: self-distillation from a momentum teacher with centring and multi-crop."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from app.core.ssl.heads import DINOProjectionHead
from app.core.ssl.losses import DINOLoss
from app.core.ssl.methods.base import (
    Method,
    MethodDefaults,
    StepOutput,
    check_multi_crop,
    fp32_loss,
)
from app.core.ssl.methods.momentum import cosine_schedule, frozen_copy, update_momentum
from app.core.ssl.methods.multicrop import forward_by_resolution


class DINO(Method):
    """DINO as in lightly's example.

    Student head DINOProjectionHead(D, 512, 64, 2048, freeze_last_layer=1); the teacher starts as
    a copy of the student and follows it with momentum on a cosine from 0.996 to 1 over all steps.
    The teacher sees the 2 global views, the student all views; DINOLoss(output_dim=2048,
    warmup_teacher_temp_epochs=5) keeps the centre as a buffer. Same-sized views run as one batch.
    Defaults follow the DINO paper: AdamW at lr 5e-4 per 256 images, weight decay 0.04, 10 warmup
    epochs. One deliberate difference: the centre starts at the first batch's mean teacher
    output instead of zero (option ``center_from_first_batch``; 0 restores lightly's behaviour).
    """

    name = "dino"
    summary = "Self-distillation: a student matches a momentum teacher across image crops."
    defaults = MethodDefaults("adamw", 5e-4, 0.04, 10, "dino")
    options = {
        "output_dim": 2048,
        "hidden_dim": 512,
        "bottleneck_dim": 64,
        "freeze_last_layer": 1,
        "warmup_teacher_temp": 0.04,
        "teacher_temp": 0.04,
        "warmup_teacher_temp_epochs": 5,
        "student_temp": 0.1,
        "center_momentum": 0.9,
        "momentum_start": 0.996,
        "center_from_first_batch": 1,
    }

    def __init__(self, backbone: nn.Module, **config: Any) -> None:
        super().__init__(backbone, **config)
        h = self.hparams
        self.projection_head = DINOProjectionHead(
            self.feature_dim,
            int(h["hidden_dim"]),
            int(h["bottleneck_dim"]),
            int(h["output_dim"]),
            freeze_last_layer=int(h["freeze_last_layer"]),
        )
        self.teacher_backbone = frozen_copy(self.backbone)
        self.teacher_head = frozen_copy(self.projection_head)
        self.criterion = DINOLoss(
            output_dim=int(h["output_dim"]),
            warmup_teacher_temp=float(h["warmup_teacher_temp"]),
            teacher_temp=float(h["teacher_temp"]),
            warmup_teacher_temp_epochs=int(h["warmup_teacher_temp_epochs"]),
            student_temp=float(h["student_temp"]),
            center_momentum=float(h["center_momentum"]),
            center_from_first_batch=bool(h["center_from_first_batch"]),
        )

    def _student(self, x: Tensor) -> Tensor:
        return self.projection_head(self.backbone(x))

    @torch.no_grad()
    def _teacher(self, x: Tensor) -> Tensor:
        return self.teacher_head(self.teacher_backbone(x))

    def forward(self, views: list[Tensor], epoch: int, step: int) -> StepOutput:
        """Cross-entropy between teacher outputs of the global views and student outputs."""
        check_multi_crop(self.name, views)
        teacher_out = forward_by_resolution(self._teacher, views[:2])
        student_out = forward_by_resolution(self._student, views)
        loss = fp32_loss(self.criterion, teacher_out, student_out, epoch=epoch)
        return StepOutput(loss, student_out[0].detach().float())

    def before_optimizer_step(self, epoch: int, step: int) -> None:
        """Keep the student's last layer fixed during the first ``freeze_last_layer`` epochs."""
        self.projection_head.cancel_last_layer_gradients(epoch)

    def after_optimizer_step(self, epoch: int, step: int) -> None:
        """Move the teacher towards the student."""
        momentum = cosine_schedule(
            step, self.total_steps, float(self.hparams["momentum_start"]), 1.0
        )
        update_momentum(self.backbone, self.teacher_backbone, momentum)
        update_momentum(self.projection_head, self.teacher_head, momentum)
