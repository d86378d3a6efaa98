"""ember.hub: the cache folder, atomic downloads with hash checks, checkpoints by URL."""
import hashlib

import pytest

import ember
import ember.hub as hub


@pytest.fixture
def hub_dir(tmp_path):
    old = hub._hub_dir
    hub.set_dir(tmp_path / "hub")
    yield tmp_path / "hub"
    hub._hub_dir = old


def test_get_dir_follows_set_dir_and_torch_home(hub_dir, monkeypatch, tmp_path):
    assert hub.get_dir() == str(hub_dir)
    hub._hub_dir = None
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "th"))
    assert hub.get_dir() == str(tmp_path / "th" / "hub")


def test_download_checks_the_hash_and_leaves_nothing_behind(tmp_path):
    src = tmp_path / "blob.bin"
    src.write_bytes(b"ember" * 1000)
    digest = hashlib.sha256(src.read_bytes()).hexdigest()
    dst = tmp_path / "out" / "blob.bin"
    hub.download_url_to_file(src.as_uri(), dst, hash_prefix=digest[:8], progress=False)
    assert dst.read_bytes() == src.read_bytes()
    bad = tmp_path / "out" / "bad.bin"
    with pytest.raises(RuntimeError, match="invalid hash value"):
        hub.download_url_to_file(src.as_uri(), bad, hash_prefix="0000", progress=False)
    assert not bad.exists() and sorted(p.name for p in dst.parent.iterdir()) == ["blob.bin"]


def test_load_state_dict_from_url_downloads_once(hub_dir, tmp_path):
    model = ember.nn.Linear(3, 2)
    path = tmp_path / "linear.pt"
    ember.save(model.state_dict(), path)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:8]
    named = tmp_path / f"linear-{digest}.pt"
    path.rename(named)
    sd = hub.load_state_dict_from_url(named.as_uri(), check_hash=True, progress=False)
    assert ember.equal(sd["weight"], model.weight.detach())
    assert (hub_dir / "checkpoints" / named.name).exists()
    named.unlink()  # cached: no second download
    assert hub.load_state_dict_from_url(named.as_uri(), progress=False).keys() == sd.keys()


def test_repository_loading_refuses_to_run_downloaded_code():
    with pytest.raises(RuntimeError, match="does not run downloaded code"):
        hub.load("pytorch/vision", "resnet18")


def test_tqdm_is_importable_from_hub():
    pytest.importorskip("tqdm")
    from ember.hub import tqdm
    assert list(tqdm([1, 2], disable=True)) == [1, 2]
