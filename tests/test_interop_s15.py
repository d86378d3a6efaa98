"""What third-party libraries ask of ``torch`` before and around their own code: the version
(``TorchVersion``, ``torch.version``), the installed-distribution record under the alias,
``asarray`` over arrays, buffers and storages, file-mapped storages, and ``cudnn.flags``.
Oracles: ``packaging``'s version order, NumPy's memory, and the bytes written to a file."""
from __future__ import annotations

import array
import importlib.metadata

import numpy as np
import pytest
from packaging.version import Version

import ember
from ember.compat import torch_is_ember
from ember.storage import UntypedStorage
from ember.torch_version import TorchVersion


@pytest.mark.parametrize("other", ["2.9", "2.13", "2.13.0", "2.13.1", "2.14.0a0", "3.0", "1.13.1"])
def test_torch_version_orders_as_packaging_does(other):
    version = TorchVersion("2.13.0")
    assert (version < other) == (Version("2.13.0") < Version(other))
    assert (version >= other) == (Version("2.13.0") >= Version(other))
    assert (version == other) == (Version("2.13.0") == Version(other))


def test_torch_version_compares_with_tuples_and_stays_a_string():
    version = TorchVersion("2.13.0")
    assert version >= (2, 13) and version > (2, 9, 1) and version < (2, 14)
    assert isinstance(version, str) and version.split(".")[0] == "2"
    assert {version: 1}["2.13.0"] == 1
    assert (TorchVersion("parrot") > "aardvark") is True  # not a version: compared as strings


def test_version_module_and_package_version():
    assert ember.__version__ == ember.version.__version__ >= "2.0"
    assert ember.version.hip is None and ember.version.debug is False
    assert ember.version.cuda is None or ember.version.cuda.count(".") == 1
    assert isinstance(ember.version.ember, str)
    assert ember.vision.__version__ >= "0.20"


def test_alias_answers_installed_version_queries():
    with torch_is_ember():
        assert importlib.metadata.version("torch") == ember.__version__
        assert importlib.metadata.version("torchvision") == ember.vision.__version__
        assert importlib.metadata.distribution("torch").metadata["Name"] == "torch"


def test_asarray_shares_numpy_memory_unless_asked_to_copy():
    source = np.arange(3.0)
    ember.asarray(source)[0] = 9.0
    assert source[0] == 9.0
    ember.asarray(source, copy=True)[1] = 7.0
    assert source[1] == 1.0
    converted = ember.asarray(source, dtype=ember.float32)
    converted[2] = 5.0
    assert source[2] == 2.0 and converted.dtype == ember.float32


def test_asarray_of_tensor_keeps_history_and_requires_grad_choices():
    leaf = ember.ones(3)
    assert ember.asarray(leaf, requires_grad=True) is leaf and leaf.requires_grad
    product = ember.ones(3, requires_grad=True) * 2
    assert ember.asarray(product) is product
    detached = ember.asarray(product, requires_grad=False)
    assert detached.grad_fn is None and detached.data_ptr() == product.data_ptr()
    assert ember.asarray(product, copy=True).data_ptr() != product.data_ptr()


def test_asarray_refuses_aliases_it_cannot_make():
    with pytest.raises(ValueError, match="can't alias arbitrary sequence"):
        ember.asarray([1, 2], copy=False)
    with pytest.raises(ValueError, match="can't alias tensor"):
        ember.asarray(ember.ones(2), dtype=ember.int32, copy=False)


def test_asarray_reads_buffers_as_the_dtype_asked_for():
    assert ember.asarray(b"\x00\x00\x80\x3f").tolist() == [1.0]  # default dtype, float32
    assert ember.asarray(bytearray(8), dtype=ember.int16).tolist() == [0, 0, 0, 0]
    doubles = array.array("d", [1.0, 2.0])
    expected = np.frombuffer(doubles, np.float32)
    np.testing.assert_array_equal(ember.asarray(doubles).numpy(), expected)
    assert ember.asarray(np.float64(2)).dtype == ember.float64  # a NumPy scalar keeps its type
    assert ember.asarray([ember.tensor(1.0), ember.tensor(2.0)]).tolist() == [1.0, 2.0]


def test_asarray_reads_storage_bytes_and_slices_share_them():
    values = ember.arange(4, dtype=ember.float32)
    storage = values.untyped_storage()
    assert storage.untyped() is storage
    assert ember.asarray(storage, dtype=ember.uint8).shape == (16,)
    assert ember.asarray(storage).dtype == ember.int64  # untyped bytes without a dtype
    second = ember.asarray(storage[4:8], dtype=ember.float32)
    assert second.tolist() == [1.0]
    second[0] = 5.0
    assert values[1].item() == 5.0
    with pytest.raises(RuntimeError, match="step"):
        storage[0:8:2]


def test_storage_from_file_maps_the_file(tmp_path):
    path = tmp_path / "blob.bin"
    data = np.arange(6, dtype=np.float32)
    path.write_bytes(data.tobytes() + b"tail")
    private = UntypedStorage.from_file(str(path), shared=False, nbytes=24)
    assert private.nbytes() == 24
    view = ember.asarray(private, dtype=ember.float32)
    np.testing.assert_array_equal(view.numpy(), data)
    view[0] = 42.0  # copy-on-write: the file keeps its bytes
    assert np.frombuffer(path.read_bytes()[:4], np.float32)[0] == 0.0
    shared = UntypedStorage.from_file(str(path), shared=True, nbytes=24)
    ember.asarray(shared, dtype=ember.float32)[1] = 8.0
    del shared
    assert np.frombuffer(path.read_bytes()[4:8], np.float32)[0] == 8.0


def test_cudnn_flags_context_sets_and_restores():
    cudnn = ember.backends.cudnn
    before = (cudnn.enabled, cudnn.benchmark, cudnn.deterministic)
    with cudnn.flags(enabled=False, deterministic=True):
        assert cudnn.enabled is False and cudnn.deterministic is True
        assert cudnn.benchmark is False
    assert (cudnn.enabled, cudnn.benchmark, cudnn.deterministic) == before
    previous = cudnn.set_flags(_benchmark=True)
    assert cudnn.benchmark is True and previous[1] == before[1]
    cudnn.set_flags(*previous)
    assert cudnn.benchmark == before[1]


def test_hub_hash_regex_reads_the_hash_in_a_file_name():
    from ember.hub import HASH_REGEX, urlparse
    assert HASH_REGEX.search("resnet18-f37072fd.pth").group(1) == "f37072fd"
    assert urlparse("https://example.org/w/resnet18-f37072fd.pth").path.endswith(".pth")


def test_jit_annotations_are_typing_names_and_scripted_code_runs():
    from typing import List as TypingList

    from ember.jit.annotations import BroadcastingList2, List, Optional, Tuple
    assert List is TypingList and BroadcastingList2[int] is None

    def pair_sum(pair: Tuple[int, int], scale: Optional[List[float]] = None) -> int:
        return pair[0] + pair[1]
    assert ember.jit.script(pair_sum)((2, 3)) == 5


def test_memory_mapped_arrays_become_cpu_tensors_sharing_the_map(tmp_path):
    mapped = np.memmap(tmp_path / "m.bin", np.float32, "w+", shape=(4,))
    weights = ember.ones(4)
    for make in (ember.from_numpy, ember.as_tensor, ember.asarray):
        tensor = make(mapped)
        assert (tensor @ weights).item() == float(mapped.sum())  # one device with plain tensors
        tensor[0] = 3.0
        assert mapped[0] == 3.0
        mapped[0] = 0.0


def test_typed_storage_warns_once_and_private_form_is_silent():
    import warnings

    import ember.storage
    ember.storage._typed_storage_warned = False
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        first = ember.arange(3.0).storage()
        ember.arange(3.0).storage()
        quiet = ember.arange(4.0)._typed_storage()
    assert [str(w.message)[:30] for w in caught] == ["TypedStorage is deprecated. It"]
    assert first.size() == 3 and quiet.size() == 4 and quiet.dtype == ember.float32
