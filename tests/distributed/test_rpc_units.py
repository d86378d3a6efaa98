"""Single-process parts of RPC's additions: RemoteModule's device strings and refusal before
``init_rpc``, and the meeting of a process group's ranks inside a larger MPI world (threads
standing in for the processes)."""
import socket
import threading

import pytest

import ember
from ember import nn
from ember.distributed import _subworld
from ember.distributed.nn import RemoteModule
from ember.distributed.nn.api.remote_module import _parse_remote_device


@pytest.mark.parametrize("text, worker, device", [
    ("trainer0/cpu", "trainer0", "cpu"), ("trainer0", "trainer0", "cpu"),
    ("ps0/cuda:1", "ps0", "cuda:1"), ("rank:3/cpu", 3, "cpu"), ("rank:0", 0, "cpu")])
def test_remote_device_strings(text, worker, device):
    assert _parse_remote_device(text) == (worker, ember.device(device))


@pytest.mark.parametrize("text", ["a/b/c", "/cpu", "rank:x/cpu", "a:b:c/cpu"])
def test_bad_remote_device_strings(text):
    with pytest.raises(ValueError, match="Could not parse remote_device"):
        _parse_remote_device(text)


def test_remote_module_needs_rpc():
    with pytest.raises(RuntimeError, match="RPC has not been initialized"):
        RemoteModule("worker1/cpu", nn.Linear, args=(2, 2))


def test_group_ranks_meet_and_learn_each_others_world_ranks():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    world_ranks = {0: 5, 1: 2, 2: 7}  # group rank -> MPI world rank
    learnt = {}

    def member(rank):
        learnt[rank] = _subworld._world_ranks("127.0.0.1", port, rank, 3, world_ranks[rank], 10)

    threads = [threading.Thread(target=member, args=(r,)) for r in (1, 2, 0)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert learnt == {r: [5, 2, 7] for r in range(3)}


def test_group_address_comes_from_the_init_method(monkeypatch):
    assert _subworld._address("tcp://localhost:1234") == ("localhost", 1234)
    monkeypatch.setenv("MASTER_ADDR", "h")
    monkeypatch.setenv("MASTER_PORT", "77")
    assert _subworld._address("env://") == ("h", 77)
    with pytest.raises(ValueError, match="tcp://host:port"):
        _subworld._address("file:///tmp/x")
