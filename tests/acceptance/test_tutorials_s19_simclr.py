"""Acceptance: the SimCLR tutorial (advanced_source/simclr_tutorial.py, stored verbatim under
data/tutorials_s19/) runs on ember: its augmentation pipeline (RandomResizedCrop, ColorJitter,
RandomGrayscale, GaussianBlur under RandomApply), STL10 and random_split, a ResNet-18 encoder
trained with the NT-Xent loss, then a frozen-encoder linear classifier and its test accuracy.

Edits: STL10 reads small binary files the test writes (``tiny_stl10.STL10``, the dataset with
its MD5 check waived, since the files are not the published ones) from a temporary folder;
images 224 -> 16 pixels (blur kernel 21 -> 3, ``Resize(255)``/``CenterCrop(224)`` -> 18/16),
batches of 128 -> 4, a split of 8 + 4 unlabeled images instead of 1,000 + 99,000, one epoch
instead of 50 and 30, data loading in the main process, matplotlib stubbed.
"""

import numpy as np
from acceptance_runner import MATPLOTLIB, run
from tutorial_source import load

ROOT = '"/content/drive/MyDrive/Colab Notebooks/SimCLR"'
EDITS = (
    ("from torchvision.datasets import STL10", "from tiny_stl10 import STL10"),
    (f"root={ROOT}", "root=STL10_ROOT", 3),
    ("output_shape = [224,224]", "output_shape = [16,16]"),
    ("kernel_size = [21,21]", "kernel_size = [3,3]"),
    ("random.randint(0,100000)", "random.randint(0,11)"),
    ("BATCH_SIZE = 128", "BATCH_SIZE = 4", 2),
    ("[1_000, 99_000]", "[8, 4]"),
    ("num_workers=os.cpu_count()", "num_workers=0", 3),
    ("EPOCHS = 50", "EPOCHS = 1"),
    ("EPOCHS = 30", "EPOCHS = 1"),
    ("Resize(255)", "Resize(18)"),
    ("CenterCrop(224)", "CenterCrop(16)"),
)

TINY_STL10 = '''
from torchvision.datasets import STL10 as _STL10


class STL10(_STL10):
    """STL10 on the test's own small files, which cannot match the published MD5 sums."""

    def _check_integrity(self):
        return True
'''


def _write_stl10(root, n_train: int = 8, n_test: int = 8, n_unlabeled: int = 12) -> None:
    """STL10's binary layout: 3x96x96 uint8 images stored channel by channel, column-major,
    labels 1..10 one byte each; each class a colour of its own plus noise."""
    folder = root / "stl10_binary"
    folder.mkdir()
    rng = np.random.default_rng(0)
    colours = rng.integers(0, 200, (10, 3))

    def images(labels):
        data = rng.integers(0, 56, (len(labels), 3, 96, 96)) + colours[labels][:, :, None, None]
        return data.astype(np.uint8).transpose(0, 1, 3, 2)

    for split, n in (("train", n_train), ("test", n_test)):
        labels = np.arange(n) % 10
        images(labels).tofile(folder / f"{split}_X.bin")
        (labels + 1).astype(np.uint8).tofile(folder / f"{split}_y.bin")
    images(np.arange(n_unlabeled) % 10).tofile(folder / "unlabeled_X.bin")
    names = ["airplane", "bird", "car", "cat", "deer", "dog", "horse", "monkey", "ship", "truck"]
    (folder / "class_names.txt").write_text("\n".join(names) + "\n")


def _nt_xent_numpy(z1: np.ndarray, z2: np.ndarray, temp: float) -> float:
    """SimCLR's loss: cross-entropy of each view's positive among the other 2N - 1 views."""
    z = np.concatenate([z1, z2]).astype(np.float64)
    z /= np.linalg.norm(z, axis=1, keepdims=True)
    sim = z @ z.T / temp
    n = len(z1)
    losses = []
    for i in range(2 * n):
        others = np.delete(sim[i], i)
        positive = sim[i, (i + n) % (2 * n)]
        losses.append(np.log(np.exp(others).sum()) - positive)
    return float(np.mean(losses))


def test_simclr_tutorial(tmp_path):
    _write_stl10(tmp_path)
    ns = run(load("tutorials_s19/simclr_tutorial.py.txt", *EDITS),
             modules={**MATPLOTLIB, "tiny_stl10": TINY_STL10}, STL10_ROOT=str(tmp_path))
    torch, out = ns["torch"], ns["_stdout"]

    # the augmentation pipeline: two different views of one image, clipped to [0, 1]
    views = ns["ContrastiveLearningViewGenerator"](ns["base_transforms"])(
        np.full((96, 96, 3), 128, np.uint8))
    assert [tuple(v.shape) for v in views] == [(3, 16, 16), (3, 16, 16)]
    assert all(0.0 <= float(v.min()) and float(v.max()) <= 1.0 for v in views)

    # both trainings ran their epoch on finite losses
    assert out.count("EPOCH: 1 LOSS:") == 2
    assert len(ns["epoch_loss"]) == 1 and np.isfinite(ns["epoch_loss"]).all()
    assert ns["nu_classes"] == 10 and len(ns["train_dl"]) == 2

    # the frozen encoder and the accuracy the tutorial prints
    model = ns["classification_model"]
    assert not any(p.requires_grad for p in model.simclr.parameters())
    assert model.linear.weight.grad is not None
    accuracy = float(out.rsplit("Accuracy: ", 1)[1].split("%")[0])
    assert abs(accuracy - 100 * ns["correct"] / (ns["BATCH_SIZE"] * ns["total"])) < 0.01
    assert ns["total"] == 2

    # the tutorial's NT-Xent loss against NumPy
    rng = np.random.default_rng(1)
    z1, z2 = rng.standard_normal((2, 4, 6)).astype(np.float32)
    logits, labels = ns["contrastive_loss"]([torch.tensor(z1), torch.tensor(z2)], 0.1,
                                            ns["LABELS"], ns["MASK"])
    assert tuple(logits.shape) == (8, 7) and labels.tolist() == [0] * 8
    loss = torch.nn.CrossEntropyLoss()(logits, labels)
    np.testing.assert_allclose(loss.item(), _nt_xent_numpy(z1, z2, 0.1), rtol=1e-5)
