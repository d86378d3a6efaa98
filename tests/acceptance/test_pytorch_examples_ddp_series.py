"""Acceptance: pytorch/examples ``distributed/ddp-tutorial-series/single_gpu.py`` on ember.

The example (BSD-3-Clause) is the single-device baseline of the DDP tutorial series: a
``Trainer`` class over a ``DataLoader`` (``pin_memory``, shuffling) of its ``MyTrainDataset``
(``datautils.py``, run as a sibling module), saving ``state_dict`` checkpoints. Its device is
the constant ``0`` ("shorthand for cuda:0"), which PyTorch without CUDA refuses as well; it is
the one text substituted, to ``"cpu"``. (The series' multi-GPU scripts and ``ddp/example.py``
hard-code NCCL on CUDA devices, so they have no CPU run to check.)
"""

# The example's code is kept verbatim, long lines included.
# ruff: noqa: E501

import sys

from acceptance_runner import run

import ember

DATAUTILS = """
import torch
from torch.utils.data import Dataset

class MyTrainDataset(Dataset):
    def __init__(self, size):
        self.size = size
        self.data = [(torch.rand(20), torch.rand(1)) for _ in range(size)]

    def __len__(self):
        return self.size

    def __getitem__(self, index):
        return self.data[index]


class MyRandomDataset(Dataset):
    def __init__(self, size, input_shape, target_shape=(1000,)):
        self.size = size
        self.shape = input_shape
        self.target_shape = target_shape

    def __len__(self):
        return self.size

    def __getitem__(self, index):
        return (torch.rand(self.shape), torch.rand(self.target_shape))
"""

SINGLE_GPU = '''
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset, DataLoader
from datautils import MyTrainDataset


class Trainer:
    def __init__(
        self,
        model: torch.nn.Module,
        train_data: DataLoader,
        optimizer: torch.optim.Optimizer,
        gpu_id: int,
        save_every: int,
    ) -> None:
        self.gpu_id = gpu_id
        self.model = model.to(gpu_id)
        self.train_data = train_data
        self.optimizer = optimizer
        self.save_every = save_every

    def _run_batch(self, source, targets):
        self.optimizer.zero_grad()
        output = self.model(source)
        loss = F.cross_entropy(output, targets)
        loss.backward()
        self.optimizer.step()

    def _run_epoch(self, epoch):
        b_sz = len(next(iter(self.train_data))[0])
        print(f"[GPU{self.gpu_id}] Epoch {epoch} | Batch size: {b_sz} | Steps: {len(self.train_data)}")
        for source, targets in self.train_data:
            source = source.to(self.gpu_id)
            targets = targets.to(self.gpu_id)
            self._run_batch(source, targets)

    def _save_checkpoint(self, epoch):
        ckp = self.model.state_dict()
        PATH = "checkpoint.pt"
        torch.save(ckp, PATH)
        print(f"Epoch {epoch} | Training checkpoint saved at {PATH}")

    def train(self, max_epochs: int):
        for epoch in range(max_epochs):
            self._run_epoch(epoch)
            if epoch % self.save_every == 0:
                self._save_checkpoint(epoch)


def load_train_objs():
    train_set = MyTrainDataset(2048)  # load your dataset
    model = torch.nn.Linear(20, 1)  # load your model
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3)
    return train_set, model, optimizer


def prepare_dataloader(dataset: Dataset, batch_size: int):
    return DataLoader(
        dataset,
        batch_size=batch_size,
        pin_memory=True,
        shuffle=True
    )


def main(device, total_epochs, save_every, batch_size):
    dataset, model, optimizer = load_train_objs()
    train_data = prepare_dataloader(dataset, batch_size)
    trainer = Trainer(model, train_data, optimizer, device, save_every)
    trainer.train(total_epochs)


if __name__ == "__main__":
    import argparse
    parser = argparse.ArgumentParser(description='simple distributed training job')
    parser.add_argument('total_epochs', type=int, help='Total epochs to train the model')
    parser.add_argument('save_every', type=int, help='How often to save a snapshot')
    parser.add_argument('--batch_size', default=32, type=int, help='Input batch size on each device (default: 32)')
    args = parser.parse_args()

    device = 0  # shorthand for cuda:0
    main(device, args.total_epochs, args.save_every, args.batch_size)
'''


def _on_cpu(code: str) -> str:
    old = "    device = 0  # shorthand for cuda:0\n"
    assert code.count(old) == 1
    return code.replace(old, '    device = "cpu"\n')


def test_single_gpu_trains_and_checkpoints(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ["single_gpu.py", "3", "2", "--batch_size", "64"])
    ns = run(_on_cpu(SINGLE_GPU), __name__="__main__", modules={"datautils": DATAUTILS})
    lines = ns["_stdout"].splitlines()
    assert lines == ["[GPUcpu] Epoch 0 | Batch size: 64 | Steps: 32",
                     "Epoch 0 | Training checkpoint saved at checkpoint.pt",
                     "[GPUcpu] Epoch 1 | Batch size: 64 | Steps: 32",
                     "[GPUcpu] Epoch 2 | Batch size: 64 | Steps: 32",
                     "Epoch 2 | Training checkpoint saved at checkpoint.pt"], lines
    state = ember.load(tmp_path / "checkpoint.pt")
    assert state["weight"].shape == (1, 20) and state["bias"].shape == (1,)


def test_single_gpu_trainer_fits_a_classifier(tmp_path, monkeypatch):
    """The same ``Trainer`` on a learnable two-class problem (its loss is ``cross_entropy``)."""
    monkeypatch.chdir(tmp_path)
    ns = run(_on_cpu(SINGLE_GPU), modules={"datautils": DATAUTILS})
    torch = ns["torch"]
    torch.manual_seed(0)
    x = torch.randn(256, 20)
    y = (x[:, 0] > 0).long()
    dataset = torch.utils.data.TensorDataset(x, y)
    model = torch.nn.Linear(20, 2)
    trainer = ns["Trainer"](model, ns["prepare_dataloader"](dataset, 32),
                            torch.optim.SGD(model.parameters(), lr=0.5), "cpu", 10)

    def loss():
        with torch.no_grad():
            return torch.nn.functional.cross_entropy(model(x), y).item()

    before = loss()
    trainer.train(5)
    assert loss() < before / 2
    assert (model(x).argmax(1) == y).float().mean().item() > 0.9
