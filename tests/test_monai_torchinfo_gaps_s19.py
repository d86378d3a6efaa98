"""What MONAI and torchinfo ask of ``torch`` besides ops: ``serialization.DEFAULT_PROTOCOL``,
the collate module's ``np_str_obj_array_pattern``, the backend flags' freeze switches, and
``sys.getsizeof`` of storages (their bytes included, torchinfo's "Input size"). Oracles: the
pickle protocol ``save`` writes, NumPy's dtype strings and the storages' byte counts.
(``torch.jit.isinstance`` and ``as_subclass`` are tested in tests/test_jit.py and
tests/test_overrides.py.)"""
from __future__ import annotations

import io
import pickletools
import sys
import warnings
import zipfile

import numpy as np

import ember
import ember.backends
from ember.serialization import DEFAULT_PROTOCOL
from ember.utils.data._utils.collate import np_str_obj_array_pattern


def test_default_protocol_is_the_protocol_save_writes():
    buffer = io.BytesIO()
    ember.save({"w": ember.ones(2)}, buffer)
    with zipfile.ZipFile(io.BytesIO(buffer.getvalue())) as archive:
        pickled = archive.read(next(n for n in archive.namelist() if n.endswith("data.pkl")))
    opcode, argument, _ = next(pickletools.genops(pickled))
    assert opcode.name == "PROTO" and argument == DEFAULT_PROTOCOL == 2


def test_np_str_obj_array_pattern_matches_arrays_that_cannot_be_tensors():
    cannot = [np.array(["a"]), np.array([b"a"]), np.array([object()], dtype=object)]
    can = [np.zeros(2, np.float32), np.zeros(2, np.int64), np.zeros(2, bool)]
    assert all(np_str_obj_array_pattern.search(a.dtype.str) for a in cannot)
    assert not any(np_str_obj_array_pattern.search(a.dtype.str) for a in can)


def test_backend_flags_freeze_and_bracketed_mutation_restore():
    allow = getattr(ember.backends, "__allow_nonbracketed_mutation")
    was_frozen = ember.backends.flags_frozen()
    try:
        ember.backends.disable_global_flags()
        assert ember.backends.flags_frozen()
        with allow():
            assert not ember.backends.flags_frozen()
            ember.backends.cudnn.deterministic = True
        assert ember.backends.flags_frozen() and ember.backends.cudnn.deterministic
    finally:
        ember.backends._allow_nonbracketed_mutation_flag = not was_frozen
        ember.backends.cudnn.deterministic = False


def test_getsizeof_a_storage_counts_its_bytes():
    storage = ember.zeros(2, 3, 16, 16).untyped_storage()
    empty = ember.zeros(0).untyped_storage()
    assert sys.getsizeof(storage) - sys.getsizeof(empty) == 2 * 3 * 16 * 16 * 4
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # TypedStorage's deprecation
        typed = ember.zeros(10, dtype=ember.float64).storage()
        typed_empty = ember.zeros(0, dtype=ember.float64).storage()
    assert sys.getsizeof(typed) - sys.getsizeof(typed_empty) == 80
