"""``SummaryWriter``: PyTorch's writer of TensorBoard event files, over the ``tensorboard``
package's own event-file writer and protos (``pip install tensorboard``)."""
from __future__ import annotations

import os
import socket
import time
from datetime import datetime

import numpy as np
from tensorboard.compat.proto.event_pb2 import Event
from tensorboard.summary.writer.event_file_writer import EventFileWriter

from ember.utils.tensorboard import summary as S
from ember.utils.tensorboard.graph import model_graph


class SummaryWriter:
    """Writes scalars, histograms, images, text, figures, embeddings and PR curves to event
    files in ``log_dir`` (default ``runs/<date>_<host><comment>``) for TensorBoard.

    Example::

        writer = SummaryWriter()
        for step in range(100):
            writer.add_scalar("loss/train", loss, step)
        writer.close()
    """

    def __init__(self, log_dir: str | None = None, comment: str = "", purge_step=None,
                 max_queue: int = 10, flush_secs: int = 120, filename_suffix: str = ""):
        if log_dir is None:
            stamp = datetime.now().strftime("%b%d_%H-%M-%S")
            log_dir = os.path.join("runs", f"{stamp}_{socket.gethostname()}{comment}")
        self.log_dir = str(log_dir)
        self._options = dict(max_queue_size=max_queue, flush_secs=flush_secs,
                             filename_suffix=filename_suffix)
        self._writer = EventFileWriter(self.log_dir, **self._options)
        self._children: dict = {}  # add_scalars' writers, one per series
        if purge_step is not None:  # TensorBoard drops what a crashed run wrote from here on
            self._writer.add_event(Event(step=purge_step, file_version="brain.Event:2"))

    def get_logdir(self) -> str:
        return self.log_dir

    def _file_writer(self) -> EventFileWriter:
        """The event file writer; after ``close()`` the next write opens a new event file, as
        PyTorch's writer does (tutorials log again after closing)."""
        if self._writer is None:
            self._writer = EventFileWriter(self.log_dir, **self._options)
        return self._writer

    def _add(self, summary, global_step=None, walltime=None, writer=None) -> None:
        event = Event(summary=summary, wall_time=time.time() if walltime is None else walltime)
        if global_step is not None:
            event.step = int(global_step)
        (writer or self._file_writer()).add_event(event)

    def add_scalar(self, tag: str, scalar_value, global_step=None, walltime=None,
                   new_style: bool = False, double_precision: bool = False) -> None:
        self._add(S.scalar(tag, scalar_value), global_step, walltime)

    def add_scalars(self, main_tag: str, tag_scalar_dict: dict, global_step=None,
                    walltime=None) -> None:
        """Several series on one chart: each in its own run folder ``<main_tag>_<tag>``."""
        walltime = time.time() if walltime is None else walltime
        for tag, value in tag_scalar_dict.items():
            folder = os.path.join(self.log_dir, f"{main_tag}_{tag}".replace("/", "_"))
            child = self._children.get(folder)
            if child is None:
                child = self._children[folder] = EventFileWriter(folder, **self._options)
            self._add(S.scalar(main_tag, value), global_step, walltime, child)

    def add_histogram(self, tag: str, values, global_step=None, bins="tensorflow",
                      walltime=None, max_bins=None) -> None:
        self._add(S.histogram(tag, values, bins, max_bins), global_step, walltime)

    def add_image(self, tag: str, img_tensor, global_step=None, walltime=None,
                  dataformats: str = "CHW") -> None:
        """An image: float values in [0, 1] or uint8, laid out as ``dataformats``."""
        self._add(S.image(tag, S.to_hwc(img_tensor, dataformats)), global_step, walltime)

    def add_images(self, tag: str, img_tensor, global_step=None, walltime=None,
                   dataformats: str = "NCHW") -> None:
        """A batch of images, shown as one grid."""
        self.add_image(tag, img_tensor, global_step, walltime, dataformats)

    def add_figure(self, tag: str, figure, global_step=None, close: bool = True,
                   walltime=None) -> None:
        """A Matplotlib figure (or a list of them, side by side) as an image."""
        figures = figure if isinstance(figure, list) else [figure]
        images = [_render(f, close) for f in figures]
        self.add_image(tag, np.concatenate(images, axis=1), global_step, walltime, "HWC")

    def add_text(self, tag: str, text_string: str, global_step=None, walltime=None) -> None:
        self._add(S.text(tag, text_string), global_step, walltime)

    def add_pr_curve(self, tag: str, labels, predictions, global_step=None,
                     num_thresholds: int = 127, weights=None, walltime=None) -> None:
        self._add(S.pr_curve(tag, labels, predictions, num_thresholds, weights), global_step,
                  walltime)

    def add_embedding(self, mat, metadata=None, label_img=None, global_step=None,
                      tag: str = "default", metadata_header=None) -> None:
        """Points for TensorBoard's projector: ``mat`` (N, D), optional per-point labels
        (``metadata``) and thumbnails (``label_img``, N x C x H x W)."""
        mat = S.to_numpy(mat)
        if mat.ndim != 2:
            raise ValueError(f"add_embedding: mat must be (N, D), got shape {mat.shape}")
        subdir = f"{global_step or 0:05d}/{tag.replace('/', '_')}"
        folder = os.path.join(self.log_dir, subdir)
        os.makedirs(folder, exist_ok=True)
        np.savetxt(os.path.join(folder, "tensors.tsv"), mat, delimiter="\t", fmt="%.8g")
        entry = [f'tensor_name: "{tag}:{global_step or 0:05d}"',
                 f'tensor_path: "{subdir}/tensors.tsv"']
        if metadata is not None:
            labels = metadata if isinstance(metadata, list) else S.to_numpy(metadata).tolist()
            rows = ["\t".join(map(str, m)) if isinstance(m, (list, tuple)) else str(m)
                    for m in labels]
            if metadata_header is not None:
                rows.insert(0, "\t".join(metadata_header))
            with open(os.path.join(folder, "metadata.tsv"), "w") as f:
                f.write("\n".join(rows) + "\n")
            entry.append(f'metadata_path: "{subdir}/metadata.tsv"')
        if label_img is not None:
            images = S.to_numpy(label_img)
            sprite = S.to_hwc(images, "NCHW")
            from PIL import Image
            Image.fromarray(sprite.squeeze(-1) if sprite.shape[-1] == 1 else sprite).save(
                os.path.join(folder, "sprite.png"))
            h, w = images.shape[-2:]
            entry.append(f'sprite {{ image_path: "{subdir}/sprite.png" '
                         f"single_image_dim: {w} single_image_dim: {h} }}")
        with open(os.path.join(self.log_dir, "projector_config.pbtxt"), "a") as f:
            f.write("embeddings {\n  " + "\n  ".join(entry) + "\n}\n")

    def add_graph(self, model, input_to_model=None, verbose: bool = False,
                  use_strict_trace: bool = True) -> None:
        """The graph of ``model`` run once on ``input_to_model`` (a tensor or a tuple of them),
        for TensorBoard's Graphs tab. PyTorch traces the model with TorchScript; ember writes
        the autograd graph of the pass, each op in its module's scope (see ``graph.py``)."""
        graph_def = model_graph(model, input_to_model)
        if verbose:
            print(graph_def)
        event = Event(graph_def=graph_def.SerializeToString(), wall_time=time.time())
        self._file_writer().add_event(event)

    def flush(self) -> None:
        for writer in self._open_writers():
            writer.flush()

    def close(self) -> None:
        for writer in self._open_writers():
            writer.close()
        self._writer = None
        self._children = {}

    def _open_writers(self) -> list:
        return [w for w in (self._writer, *self._children.values()) if w is not None]

    def __enter__(self) -> "SummaryWriter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _render(figure, close: bool) -> np.ndarray:
    """A Matplotlib figure's pixels, HWC uint8 RGBA."""
    figure.canvas.draw()
    pixels = np.asarray(figure.canvas.buffer_rgba()).copy()
    if close:
        import matplotlib.pyplot as plt
        plt.close(figure)
    return pixels
