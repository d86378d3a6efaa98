"""Acceptance: PyTorch's "fuse the optimizer step into the backward pass" tutorial
(intermediate_source/optimizer_step_in_backward_tutorial.py) runs on ember.

Code from pytorch/tutorials (BSD-3-Clause), prose and comments removed. The tutorial needs a
GPU for its memory snapshots; here the ViT-L/16 is a small convolutional model, images are
16x16, ``.cuda()`` and the ``torch.cuda.memory`` snapshot calls are dropped. The technique
(``register_post_accumulate_grad_hook`` with one Adam per parameter) is unchanged.
"""

import numpy as np
from acceptance_runner import run

OPTIMIZER_STEP_IN_BACKWARD = """
import torch
from torch import nn

torch.manual_seed(0)
model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(),
                      nn.Linear(4 * 14 * 14, 10))
optimizer = torch.optim.Adam(model.parameters())

IMAGE_SIZE = 16

def train(model, optimizer):
  fake_image = torch.rand(1, 3, IMAGE_SIZE, IMAGE_SIZE)

  loss = model.forward(fake_image)
  loss.sum().backward()

  optimizer.step()
  optimizer.zero_grad()

for _ in range(3):
  train(model, optimizer)

optimizer_dict = {p: torch.optim.Adam([p], foreach=False) for p in model.parameters()}

def optimizer_hook(parameter) -> None:
  optimizer_dict[parameter].step()
  optimizer_dict[parameter].zero_grad()

for p in model.parameters():
   p.register_post_accumulate_grad_hook(optimizer_hook)

def train(model):
  fake_image = torch.rand(1, 3, IMAGE_SIZE, IMAGE_SIZE)

  loss = model.forward(fake_image)
  loss.sum().backward()

del optimizer

for _ in range(3):
  train(model)
"""

SPLIT = "for p in model.parameters():\n   p.register_post_accumulate_grad_hook"

# Before the hooks: a copy of the model and the RNG state that the fused loop's images come from.
CAPTURE = """
import copy
reference = copy.deepcopy(model)
rng = torch.get_rng_state()
"""

# The same three steps with one Adam stepped after backward: the oracle for the fused version.
REFERENCE = """
torch.set_rng_state(rng)
reference_optimizer = torch.optim.Adam(reference.parameters())
for _ in range(3):
    reference.forward(torch.rand(1, 3, IMAGE_SIZE, IMAGE_SIZE)).sum().backward()
    reference_optimizer.step()
    reference_optimizer.zero_grad()
"""


def test_optimizer_step_in_backward():
    before, after = OPTIMIZER_STEP_IN_BACKWARD.split(SPLIT)
    ns = run(before)
    ns = run(CAPTURE, ns)
    ns = run(SPLIT + after, ns)
    model = ns["model"]
    assert all(p.grad is None for p in model.parameters())  # each hook stepped, then zeroed
    assert all(len(opt.state[p]) == 3 and int(opt.state[p]["step"]) == 3
               for p, opt in ns["optimizer_dict"].items())
    start = [p.detach().numpy().copy() for p in ns["reference"].parameters()]
    ns = run(REFERENCE, ns)
    for p, r, s in zip(model.parameters(), ns["reference"].parameters(), start):
        assert not np.array_equal(p.detach().numpy(), s)  # the fused steps moved every weight
        np.testing.assert_allclose(p.detach().numpy(), r.detach().numpy(), rtol=1e-5,
                                   atol=1e-6)
