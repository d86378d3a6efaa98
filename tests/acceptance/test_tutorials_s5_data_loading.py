"""Acceptance: data loading tutorials run on ember.

- intermediate_source/customize_data_loading.py: TensorDataset and ConcatDataset over
  per-molecule arrays, a custom batch sampler and a custom collate function around
  ``default_collate``; its printout is PyTorch's. Unchanged but for prose and comments.
- intermediate_source/advanced_data_loading_tutorial.py: worker processes, prefetch_factor,
  persistent workers and a dataset's batched ``__getitems__``, each feeding a conv+transformer
  training loop (the CUDA-only cells skip themselves). Reduced: images 224 -> 32 pixels a side,
  data sets 500 -> 16 and 1000 -> 64 samples, batch size 32 -> 8, ``max_batches`` 150 -> 2,
  ``num_workers`` 4 -> 2, the simulated transform delay 5 ms -> 1 ms.

Code from pytorch/tutorials (BSD-3-Clause).
``ANI-1-simplified/`` holds 100 small molecules the test writes in the tutorial's format (``i.xyz.npy``
of shape (N, atoms, 3) and ``i.energy.npy`` of shape (N,)).
"""
# The tutorial's code is kept verbatim, long lines and trailing spaces included.
# ruff: noqa: E501, W291, W293

import re

import numpy as np
import pytest
from acceptance_runner import run
from torch_runner import run_torch

import ember

CUSTOMIZE_DATA_LOADING = r'''
from __future__ import print_function, division
from torch import tensor, full_like, long
from itertools import islice
from os.path import join
from numpy import load
from torch.utils.data import TensorDataset, ConcatDataset
from torch.utils.data.dataloader import default_collate, DataLoader
from math import ceil

def load_dataset(root_dir):
    molecules = []
    for i in range(100):
        xyz_file = join(root_dir, '{}.xyz.npy'.format(i))
        energy_file = join(root_dir, '{}.energy.npy'.format(i))
        xyz = tensor(load(xyz_file))
        energy = tensor(load(energy_file))
        molecule_id = full_like(energy, i).type(long)
        molecules.append(TensorDataset(molecule_id, xyz, energy))
    return ConcatDataset(molecules)

dataset = load_dataset('ANI-1-simplified/')
print('Length of data set:', len(dataset))
for molecule_id, xyz, energy in islice(dataset, 5):
    print(molecule_id.item(), xyz.shape, energy.shape)

class ANIBatchSampler(object):

    def __init__(self, concat_source):
        self.concat_source = concat_source

    def _concated_index(self, molecule, conformation):
        """
        Get the index in the  dataset of the specified conformation
        of the specified molecule.
        """
        src = self.concat_source
        cumulative_sizes = [0] + src.cumulative_sizes
        return cumulative_sizes[molecule] + conformation

    def __iter__(self):
        src = self.concat_source
        sizes = [len(x) for x in src.datasets]
        """Number of conformations of each molecule"""
        unfinished = list(zip(range(100), [0] * 100))
        """List of pairs (molecule, progress) storing the current progress
        of iterating each molecules."""
        
        batch = []
        batch_molecules = 0
        """The number of molecules already in batch"""
        while len(unfinished) > 0:
            new_unfinished = []
            for molecule, progress in unfinished:
                size = sizes[molecule]
                # the last incomplete chunk is not dropped
                end = min(progress + 64, size)
                if end < size:
                    new_unfinished.append((molecule, end))
                batch += [self._concated_index(molecule, x) for x in range(progress, end)]
                batch_molecules += 1
                if batch_molecules >= 4:
                    yield batch
                    batch = []
                    batch_molecules = 0
            unfinished = new_unfinished

        # the last incomplete batch is not dropped
        if len(batch) > 0:
            yield batch

    def __len__(self):
        sizes = [len(x) for x in self.concat_source.datasets]
        chunks = [ceil(x/64) for x in sizes]
        chunks = sum(chunks)
        return ceil(chunks / 4)

def pretty_print(indices):
    """Pretty print indices"""
    pretty_list = [indices[0], indices[0]]
    for i in indices[1:] + [None]:
        last = pretty_list.pop()
        if i != last + 1:
            first = pretty_list.pop()
            s = '{}...{}'.format(first,last) if first != last else first
            pretty_list += [s, i, i]
        else:
            pretty_list.append(i)
    pretty_list = pretty_list[:-2]
    print(pretty_list)

batch_sampler = ANIBatchSampler(dataset)
for i in islice(batch_sampler, 5):
    pretty_print(i)

def collate(batch):
    by_molecules = {}
    for molecule_id, xyz, energy in batch:
        molecule_id = molecule_id.item()
        if molecule_id not in by_molecules:
            by_molecules[molecule_id] = []
        by_molecules[molecule_id].append((xyz, energy))
    for i in by_molecules:
        by_molecules[i] = default_collate(by_molecules[i])
    return by_molecules

dataloader = DataLoader(dataset, batch_sampler=batch_sampler, collate_fn=collate)

for i in islice(dataloader, 3):
    print('Batch:')
    for j in i:
        print('molecule', j, i[j][0].shape, i[j][1].shape)
'''


@pytest.fixture
def ani_dir(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    folder = tmp_path / "ANI-1-simplified"
    folder.mkdir()
    for i in range(100):
        n, atoms = int(rng.integers(10, 150)), int(rng.integers(3, 10))
        np.save(folder / f"{i}.xyz.npy", rng.standard_normal((n, atoms, 3)).astype(np.float32))
        np.save(folder / f"{i}.energy.npy", rng.standard_normal(n))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_customize_data_loading_prints_what_torch_prints(ani_dir):
    ns = run(CUSTOMIZE_DATA_LOADING)
    assert ns["_stdout"] == run_torch(CUSTOMIZE_DATA_LOADING)["_stdout"]
    assert len(ns["dataset"]) == sum(len(d) for d in ns["dataset"].datasets)
    assert len(ns["dataloader"]) == len(ns["batch_sampler"])
    batches = list(ns["dataloader"])
    assert len(batches) == len(ns["batch_sampler"])
    first = batches[0]
    assert sorted(first) == [0, 1, 2, 3]
    xyz, energy = first[0]
    assert xyz.dtype == ember.float32 and energy.dtype == ember.float64
    assert xyz.shape[0] == energy.shape[0] <= 64
    # Every conformation is served exactly once.
    assert sum(e.shape[0] for b in batches for _, e in b.values()) == len(ns["dataset"])


ADVANCED_DATA_LOADING = r'''
import time

import torch
import torch.nn as nn
from torch.utils.data import DataLoader, Dataset

device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
print(f"Using device: {device}")

torch.manual_seed(42)


class SyntheticDataset(Dataset):
    """A synthetic dataset that simulates expensive data transformations."""

    def __init__(self, size=10000, feature_dim=32, transform_delay=0.001):
        self.size = size
        self.feature_dim = feature_dim
        self.transform_delay = transform_delay

    def __len__(self):
        return self.size

    def __getitem__(self, idx):
        # Generate data lazily to avoid pre-allocating large tensors
        data = torch.randn(3, self.feature_dim, self.feature_dim)
        label = torch.randint(0, 10, (1,)).item()
        if self.transform_delay > 0:
            time.sleep(self.transform_delay)
        return data, label


class SyntheticDatasetBatched(Dataset):
    """Same as SyntheticDataset but with __getitems__ for batched fetching."""

    def __init__(self, size=10000, feature_dim=32, transform_delay=0.001):
        self.size = size
        self.feature_dim = feature_dim
        self.transform_delay = transform_delay

    def __len__(self):
        return self.size

    def __getitem__(self, idx):
        data = torch.randn(3, self.feature_dim, self.feature_dim)
        label = torch.randint(0, 10, (1,)).item()
        if self.transform_delay > 0:
            time.sleep(self.transform_delay)
        return data, label

    def __getitems__(self, indices):
        """Fetch multiple items at once — enables vectorized generation.

        Instead of N individual __getitem__ calls (each with its own
        overhead), this generates the entire batch in one shot using
        vectorized tensor operations.
        """
        n = len(indices)
        # Vectorized generation: one call instead of N individual ones
        data = torch.randn(n, 3, self.feature_dim, self.feature_dim)
        labels = torch.randint(0, 10, (n,))
        # Simulate batch-level I/O: one sleep for the whole batch,
        # not one per sample (e.g., one DB query for N rows)
        if self.transform_delay > 0:
            time.sleep(self.transform_delay)
        return [(data[i], labels[i].item()) for i in range(n)]


benchmark_dataset = SyntheticDataset(size=16, feature_dim=32, transform_delay=0.001)


class SmallTransformerModel(nn.Module):
    """A model with conv + transformer layers for realistic GPU compute."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 32, kernel_size=7, stride=4, padding=3),
            nn.ReLU(),
            nn.Conv2d(32, 64, kernel_size=3, stride=2, padding=1),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d((7, 7)),
        )
        # Transformer encoder on flattened spatial tokens
        encoder_layer = nn.TransformerEncoderLayer(
            d_model=64, nhead=4, dim_feedforward=128, batch_first=True
        )
        self.transformer = nn.TransformerEncoder(encoder_layer, num_layers=2)
        self.classifier = nn.Linear(64, 10)

    def forward(self, x):
        x = self.features(x)  # (B, 64, 7, 7)
        B, C, H, W = x.shape
        x = x.view(B, C, H * W).permute(0, 2, 1)  # (B, 49, 64)
        x = self.transformer(x)  # (B, 49, 64)
        x = x.mean(dim=1)  # (B, 64)
        return self.classifier(x)


def create_model():
    """Create a conv+transformer model for benchmarking."""
    return SmallTransformerModel().to(device)


def train_and_benchmark(loader, max_batches=2, epochs=10, prefetch_device=None):
    """Train a model over multiple epochs and return elapsed time and average loss.

    Running multiple epochs (10) with a small dataset ensures many epoch
    boundaries, making persistent_workers' startup savings visible.

    Args:
        loader: A DataLoader to iterate over.
        max_batches: Maximum total number of batches to process across all epochs.
        epochs: Number of epochs to iterate (re-iterates the loader each epoch).
        prefetch_device: If set, wraps the loader in a DataPrefetcher each epoch
            for overlapping H2D transfers. Data arrives already on device.

    Returns:
        Tuple of (elapsed_seconds, average_loss).
    """
    model = create_model()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    criterion = nn.CrossEntropyLoss()

    start_time = time.perf_counter()
    total_loss = 0.0
    num_batches = 0

    for epoch in range(epochs):
        if prefetch_device is not None:
            data_iter = DataPrefetcher(loader, prefetch_device)
        else:
            data_iter = loader

        for data, labels in data_iter:
            if prefetch_device is None:
                data = data.to(device, non_blocking=True)
                labels = labels.to(device, non_blocking=True)

            output = model(data)
            loss = criterion(output, labels)

            optimizer.zero_grad()
            loss.backward()
            optimizer.step()

            total_loss += loss.item()
            num_batches += 1

            if num_batches >= max_batches:
                break
        if num_batches >= max_batches:
            break

    if torch.cuda.is_available():
        torch.cuda.synchronize()
    elapsed = time.perf_counter() - start_time

    return elapsed, total_loss / num_batches


baseline_loader = DataLoader(
    benchmark_dataset,
    batch_size=8,
    shuffle=True,
    num_workers=0,
    pin_memory=False,
)

print("\n=== Progressive Optimization Results ===")
print("\nBaseline (num_workers=0, pin_memory=False):")
baseline_time, baseline_loss = train_and_benchmark(baseline_loader)
print(f"  Time: {baseline_time:.4f}s | Loss: {baseline_loss:.4f}")
prev_time = baseline_time

batch_dataset = SyntheticDataset(size=64, transform_delay=0)


def benchmark_batch_size(batch_size, num_batches=10):
    """Benchmark data loading with a specific batch size."""
    loader = DataLoader(batch_dataset, batch_size=batch_size, shuffle=True)
    start = time.perf_counter()
    for i, (data, labels) in enumerate(loader):
        if i >= num_batches:
            break
        data = data.to(device)
        _ = data.sum()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    elapsed = time.perf_counter() - start
    return elapsed


print("\nBatch size comparison (isolated benchmark):")
for bs in [16, 32, 64, 128]:
    elapsed = benchmark_batch_size(bs)
    print(f"  Batch size {bs:3d}: {elapsed:.4f}s for 10 batches")

workers_loader = DataLoader(
    benchmark_dataset,
    batch_size=8,
    shuffle=True,
    num_workers=2,
    prefetch_factor=2,
    pin_memory=False,
)

print("\n+ num_workers=4, prefetch_factor=2:")
workers_time, workers_loss = train_and_benchmark(workers_loader)
print(f"  Time: {workers_time:.4f}s | Loss: {workers_loss:.4f}")
print(
    f"  Speedup vs baseline: {baseline_time / workers_time:.2f}x | vs previous: {prev_time / workers_time:.2f}x"
)
prev_time = workers_time

pinmem_loader = DataLoader(
    benchmark_dataset,
    batch_size=8,
    shuffle=True,
    num_workers=2,
    prefetch_factor=2,
    pin_memory=torch.cuda.is_available(),
)

if torch.cuda.is_available():
    print("\n+ pin_memory=True:")
    pinmem_time, pinmem_loss = train_and_benchmark(pinmem_loader)
    print(f"  Time: {pinmem_time:.4f}s | Loss: {pinmem_loss:.4f}")
    print(
        f"  Speedup vs baseline: {baseline_time / pinmem_time:.2f}x | vs previous: {prev_time / pinmem_time:.2f}x"
    )
    print(
        "  (pin_memory benefit is modest here because CPU transform time dominates H2D transfer)"
    )
    prev_time = pinmem_time
else:
    print("\n+ pin_memory: skipped (CUDA not available)")
    pinmem_time = workers_time

non_persistent_loader = DataLoader(
    benchmark_dataset,
    batch_size=8,
    shuffle=True,
    num_workers=2,
    prefetch_factor=2,
    pin_memory=torch.cuda.is_available(),
    persistent_workers=False,
)

persistent_loader = DataLoader(
    benchmark_dataset,
    batch_size=8,
    shuffle=True,
    num_workers=2,
    prefetch_factor=2,
    pin_memory=torch.cuda.is_available(),
    persistent_workers=True,
)

print("\n+ persistent_workers=True (5 epochs):")
non_persistent_time, _ = train_and_benchmark(non_persistent_loader)
persistent_time, persistent_loss = train_and_benchmark(persistent_loader)
print(f"  Without persistent_workers: {non_persistent_time:.4f}s")
print(f"  With persistent_workers:    {persistent_time:.4f}s")
print(
    f"  Speedup vs baseline: {baseline_time / persistent_time:.2f}x | vs previous: {prev_time / persistent_time:.2f}x"
)
prev_time = persistent_time


class DataPrefetcher:
    """Prefetches data to GPU while previous batch is being processed."""

    def __init__(self, loader, device):
        self.loader = iter(loader)
        self.device = device
        self.stream = torch.cuda.Stream() if torch.cuda.is_available() else None
        self.next_data = None
        self.next_labels = None
        self.preload()

    def preload(self):
        try:
            self.next_data, self.next_labels = next(self.loader)
        except StopIteration:
            self.next_data = None
            self.next_labels = None
            return

        if self.stream is not None:
            with torch.cuda.stream(self.stream):
                self.next_data = self.next_data.to(self.device, non_blocking=True)
                self.next_labels = self.next_labels.to(self.device, non_blocking=True)

    def __iter__(self):
        return self

    def __next__(self):
        if self.stream is not None:
            torch.cuda.current_stream().wait_stream(self.stream)

        data = self.next_data
        labels = self.next_labels

        if data is None:
            raise StopIteration

        # Ensure tensors are ready
        if self.stream is not None:
            data.record_stream(torch.cuda.current_stream())
            labels.record_stream(torch.cuda.current_stream())

        self.preload()
        return data, labels


if torch.cuda.is_available():
    print("\n+ DataPrefetcher (overlapping H2D transfer):")
    prefetch_time, prefetch_loss = train_and_benchmark(
        persistent_loader, prefetch_device=device
    )
    print(f"  Time: {prefetch_time:.4f}s | Loss: {prefetch_loss:.4f}")
    print(
        f"  Speedup vs baseline: {baseline_time / prefetch_time:.2f}x | vs previous: {prev_time / prefetch_time:.2f}x"
    )
    prev_time = prefetch_time
else:
    print("\n+ DataPrefetcher: skipped (CUDA not available)")
    prefetch_time = persistent_time

benchmark_dataset_batched = SyntheticDatasetBatched(
    size=16, feature_dim=32, transform_delay=0.001
)

batched_loader = DataLoader(
    benchmark_dataset_batched,
    batch_size=8,
    shuffle=True,
    num_workers=2,
    prefetch_factor=2,
    pin_memory=torch.cuda.is_available(),
    persistent_workers=True,
)

print("\n+ __getitems__ (batched dataset fetching):")
batched_time, batched_loss = train_and_benchmark(batched_loader)
print(f"  Time: {batched_time:.4f}s | Loss: {batched_loss:.4f}")
print(
    f"  Speedup vs baseline: {baseline_time / batched_time:.2f}x | vs previous: {prev_time / batched_time:.2f}x"
)
prev_time = batched_time
'''


def test_advanced_data_loading():
    ns = run(ADVANCED_DATA_LOADING)
    out = ns["_stdout"]
    assert out.startswith("Using device: cpu\n")
    assert "+ pin_memory: skipped (CUDA not available)" in out
    assert "+ DataPrefetcher: skipped (CUDA not available)" in out
    losses = [float(x) for x in re.findall(r"Loss: ([0-9.]+)", out)]
    assert len(losses) == 3 and all(1.0 < v < 4.0 for v in losses)  # about ln(10) at the start
    assert len(re.findall(r"Batch size +\d+: [0-9.]+s for 10 batches", out)) == 4
    assert "Without persistent_workers:" in out and "With persistent_workers:" in out
    # The batched dataset's __getitems__ serves a whole batch of (image, label) pairs.
    items = ns["benchmark_dataset_batched"].__getitems__([0, 1, 2])
    assert len(items) == 3 and items[0][0].shape == (3, 32, 32) and isinstance(items[0][1], int)
    batch = next(iter(ns["batched_loader"]))
    assert batch[0].shape == (8, 3, 32, 32) and batch[1].dtype == ember.int64
