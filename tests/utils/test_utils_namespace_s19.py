"""``ember.utils``'s names that libraries reach without importing their modules: ``hooks`` is an
attribute after ``import ember`` (PyTorch's ``torch.utils.hooks.RemovableHandle`` annotations),
and the DataLoader's callable types are importable from ``dataloader``."""
import subprocess
import sys

from ember.utils.data.dataloader import _collate_fn_t, _worker_init_fn_t


def test_hooks_is_an_attribute_of_utils_after_import():
    code = "import ember; print(ember.utils.hooks.RemovableHandle.__name__)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.stdout.strip() == "RemovableHandle", done.stderr


def test_dataloader_callable_types_name_collate_and_worker_init():
    # Callable[[list], Any] and Callable[[int], None], as PyTorch spells them
    assert _collate_fn_t.__args__[0] is list and _worker_init_fn_t.__args__ == (int, type(None))
