"""Train LeNet-5 on MNIST: ember's main job.

    python -m ember.examples.mnist [--epochs 3] [--batch-size 64] [--lr 0.01] [--workers 0]
                                   [--data ./data] [--limit-train N] [--out ./mnist-run]

The IDX files are read from ``<data>/MNIST/raw``; when they are not there, the copies in
``/work/shared/data/mnist`` or ``../shared/data/mnist`` (next to the repository) are linked
in, and otherwise the official mirrors are tried. Each epoch prints the test loss and accuracy;
at the end a loss/accuracy plot (PNG) and a checkpoint (state_dict) are written to ``--out``.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import ember
import ember.nn.functional as F
from ember.utils.data import DataLoader, TensorDataset
from ember.vision.datasets import MNIST
from ember.vision.models import LeNet5

MNIST_FILES = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
               "t10k-labels-idx1-ubyte"]
# The mean and standard deviation of the MNIST training pixels (PyTorch's example uses them).
MNIST_MEAN, MNIST_STD = 0.1307, 0.3081


def _candidate_sources() -> list:
    repo = Path(__file__).resolve().parents[2]
    return [Path("/work/shared/data/mnist"), repo.parent / "shared" / "data" / "mnist",
            Path.cwd().parent / "shared" / "data" / "mnist"]


def _has_files(folder: Path) -> bool:
    return all((folder / n).is_file() or (folder / (n + ".gz")).is_file() for n in MNIST_FILES)


def prepare_data(root: str) -> None:
    """Make ``root/MNIST/raw`` hold the IDX files, linking a local copy in if one exists."""
    raw = Path(root) / "MNIST" / "raw"
    if _has_files(raw):
        return
    for source in _candidate_sources():
        if _has_files(source):
            raw.mkdir(parents=True, exist_ok=True)
            for name in os.listdir(source):
                target = raw / name
                if not target.exists():
                    try:
                        target.symlink_to(source.resolve() / name)
                    except OSError:
                        import shutil
                        shutil.copy(source / name, target)
            print(f"Using the MNIST files in {source}")
            return


def load_split(root: str, train: bool, limit: int | None = None) -> TensorDataset:
    """The split as normalised float32 images (N, 1, 28, 28) and int64 labels."""
    try:
        ds = MNIST(root, train=train, download=not _has_files(Path(root) / "MNIST" / "raw"))
    except RuntimeError as e:
        raise SystemExit(
            f"{e}\nMNIST is not available: put the four files "
            f"{', '.join(n + '.gz' for n in MNIST_FILES)} into {Path(root) / 'MNIST' / 'raw'} "
            "(or pass --data to a folder that has MNIST/raw/).") from e
    images, labels = ds.data, ds.targets
    if limit is not None:
        images, labels = images[:limit], labels[:limit]
    x = (images.float().div_(255.0).sub_(MNIST_MEAN).div_(MNIST_STD)).unsqueeze(1)
    return TensorDataset(x.contiguous(), labels)


def train_epoch(model, loader, optimizer, epoch: int, progress: bool = True,
                device="cpu") -> float:
    """One pass over ``loader`` (batches moved to ``device``); returns the mean training loss."""
    model.train()
    bar = _progress(loader, f"epoch {epoch}", progress)
    total, count = 0.0, 0
    for data, target in bar:
        data, target = data.to(device, non_blocking=True), target.to(device, non_blocking=True)
        optimizer.zero_grad()
        loss = F.cross_entropy(model(data), target)
        loss.backward()
        optimizer.step()
        total += loss.item() * len(target)
        count += len(target)
        if hasattr(bar, "set_postfix"):
            bar.set_postfix(loss=f"{loss.item():.4f}", refresh=False)
    return total / max(count, 1)


def evaluate(model, loader, device="cpu") -> tuple[float, float]:
    """Mean loss and accuracy (in %) of ``model`` on ``loader`` (batches moved to ``device``)."""
    model.eval()
    loss, correct, count = 0.0, 0, 0
    with ember.no_grad():
        for data, target in loader:
            data, target = data.to(device), target.to(device)
            output = model(data)
            loss += F.cross_entropy(output, target, reduction="sum").item()
            correct += int((output.argmax(1) == target).sum().item())
            count += len(target)
    return loss / count, 100.0 * correct / count


def _progress(iterable, desc: str, enabled: bool):
    if not enabled:
        return iterable
    try:
        from tqdm import tqdm
    except ImportError:
        return iterable
    return tqdm(iterable, desc=desc, leave=False, file=sys.stderr)


def save_plot(history: list, path: str) -> None:
    """Draw the per-epoch train/test loss and test accuracy as a PNG (Pillow only)."""
    from PIL import Image, ImageDraw
    width, height, margin = 640, 300, 40
    img = Image.new("RGB", (2 * width, height), "white")
    draw = ImageDraw.Draw(img)
    epochs = [h["epoch"] for h in history]
    panels = [("loss", [("train_loss", (31, 119, 180)), ("test_loss", (255, 127, 14))]),
              ("test accuracy (%)", [("test_acc", (44, 160, 44))])]
    for p, (title, series) in enumerate(panels):
        x0 = p * width
        values = [h[key] for key, _ in series for h in history]
        low, high = min(values), max(values)
        high = high if high > low else low + 1
        draw.rectangle([x0 + margin, margin, x0 + width - margin, height - margin],
                       outline="black")
        draw.text((x0 + margin, 10), f"{title}: {low:.4g} .. {high:.4g}", fill="black")
        for key, colour in series:
            points = []
            for i, h in enumerate(history):
                fx = i / max(len(history) - 1, 1)
                fy = (h[key] - low) / (high - low)
                points.append((x0 + margin + fx * (width - 2 * margin),
                               height - margin - fy * (height - 2 * margin)))
            if len(points) > 1:
                draw.line(points, fill=colour, width=2)
            for x, y in points:
                draw.ellipse([x - 3, y - 3, x + 3, y + 3], fill=colour)
            draw.text((x0 + margin + 5, height - margin + 5 + 12 * series.index((key, colour))),
                      key, fill=colour)
        draw.text((x0 + width // 2, height - 15), f"epochs 1..{max(epochs)}", fill="black")
    img.save(path)


def training_parser(description: str, epochs: int, out: str,
                    batch_help: str | None = None) -> argparse.ArgumentParser:
    """The options every MNIST example here takes (data, schedule, limits, seed, output)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--data", default="./data", help="folder holding MNIST/raw/")
    parser.add_argument("--epochs", type=int, default=epochs)
    parser.add_argument("--batch-size", type=int, default=64, help=batch_help)
    parser.add_argument("--test-batch-size", type=int, default=1000)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--momentum", type=float, default=0.9)
    parser.add_argument("--limit-train", type=int, default=None,
                        help="use only the first N training images (smoke runs)")
    parser.add_argument("--limit-test", type=int, default=None)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", default=out, help="folder for the outputs")
    parser.add_argument("--no-progress", action="store_true", help="no tqdm progress bar")
    parser.add_argument("--device", default="cuda" if ember.cuda.is_available() else "cpu",
                        help="where to train: cuda when a GPU is visible, else cpu")
    return parser


def main(argv: list | None = None) -> list:
    """Parse options, train, and return the per-epoch history."""
    parser = training_parser("Train LeNet-5 on MNIST with ember", 3, "./mnist-run")
    parser.add_argument("--workers", type=int, default=0, help="DataLoader worker processes")
    args = parser.parse_args(argv)

    from ember import optim
    ember.manual_seed(args.seed)
    prepare_data(args.data)
    train_set = load_split(args.data, True, args.limit_train)
    test_set = load_split(args.data, False, args.limit_test)
    train_loader = DataLoader(train_set, batch_size=args.batch_size, shuffle=True,
                              num_workers=args.workers,
                              persistent_workers=args.workers > 0,
                              pin_memory=args.device != "cpu")
    test_loader = DataLoader(test_set, batch_size=args.test_batch_size)

    model = LeNet5(padding=2).to(args.device)
    optimizer = optim.SGD(model.parameters(), lr=args.lr, momentum=args.momentum)
    scheduler = optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.epochs) \
        if hasattr(optim, "lr_scheduler") else None
    print(f"LeNet-5 on MNIST ({args.device}): {len(train_set)} training / {len(test_set)} test "
          f"images, batch {args.batch_size}, SGD lr {args.lr} momentum {args.momentum}")
    history = []
    for epoch in range(1, args.epochs + 1):
        start = time.perf_counter()
        train_loss = train_epoch(model, train_loader, optimizer, epoch, not args.no_progress,
                                 args.device)
        seconds = time.perf_counter() - start
        test_loss, test_acc = evaluate(model, test_loader, args.device)
        if scheduler is not None:
            scheduler.step()
        history.append({"epoch": epoch, "train_loss": train_loss, "test_loss": test_loss,
                        "test_acc": test_acc, "seconds": seconds})
        print(f"epoch {epoch}: train loss {train_loss:.4f}, test loss {test_loss:.4f}, "
              f"test accuracy {test_acc:.2f}%, {seconds:.1f} s", flush=True)

    os.makedirs(args.out, exist_ok=True)
    checkpoint = os.path.join(args.out, "lenet5_mnist.pt")
    ember.save(model.state_dict(), checkpoint)
    plot = os.path.join(args.out, "mnist_history.png")
    save_plot(history, plot)
    print(f"checkpoint: {checkpoint}\nplot: {plot}")
    return history


if __name__ == "__main__":
    main()
