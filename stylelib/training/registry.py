"""The weights registry: trained weights by name, with their provenance and sha256.

Every network the notebooks need is trained by ``stylelib`` itself
(``stylelib train MODEL --profile PROFILE``) and registered here under a
name such as ``adain-quick``.  An entry records the file, its sha256, the
model and profile, the full configuration, the data it was trained on, the
number of iterations and the wall time, and measured figures.

Files live in the registry folder: ``$STYLELIB_WEIGHTS`` when set, else the
``weights`` folder inside the package (where the committed weights are).
Registered weights are stored in fp16 (committed files must stay under
:data:`MAX_COMMITTED_BYTES`) and loaded back as fp32.

:func:`load` refuses a file whose sha256 differs from the registry's, and a
missing file, with a one-line :class:`~stylelib.errors.WeightsError` that
names the file and the command that rebuilds it.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import torch
from safetensors.torch import load as load_bytes, save

from ..atomic import atomic_write_bytes, atomic_write_text
from ..data.checksums import file_sha256 as sha256_file
from ..errors import WeightsError

WEIGHTS_ENV = "STYLELIB_WEIGHTS"
REGISTRY_FILE = "registry.json"
#: The size limit for weights committed to the repository.
MAX_COMMITTED_BYTES = 10 * 2**20
_PACKAGE_DIR = Path(__file__).resolve().parents[1] / "weights"


def weights_dir() -> Path:
    """The registry folder: ``$STYLELIB_WEIGHTS`` or the package's ``weights`` folder."""
    value = os.environ.get(WEIGHTS_ENV, "").strip()
    return Path(value).expanduser() if value else _PACKAGE_DIR


@dataclass
class Entry:
    """One registered set of weights."""

    name: str
    file: str
    sha256: str
    model: str
    profile: str
    config: dict[str, Any]
    data: str
    iterations: int
    seconds: float
    dtype: str = "float16"
    size_bytes: int = 0
    created: str = ""
    device: str = ""
    metrics: dict[str, Any] = field(default_factory=dict)

    @property
    def command(self) -> str:
        """The command that (re)makes these weights."""
        return f"stylelib train {self.model} --profile {self.profile}"


def _read(root: Path) -> dict[str, Entry]:
    path = root / REGISTRY_FILE
    if not path.is_file():
        return {}
    try:
        raw = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise WeightsError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    return {name: Entry(**fields) for name, fields in raw.items()}


def entries(root: str | Path | None = None) -> dict[str, Entry]:
    """Every registered entry, by name."""
    return _read(Path(root) if root is not None else weights_dir())


def entry(name: str, root: str | Path | None = None) -> Entry:
    found = entries(root)
    if name not in found:
        model, _, rest = name.partition("-")
        profile = rest.split("-")[0]
        hint = f"; make them with `stylelib train {model} --profile {profile or 'quick'}`" if model else ""
        where = Path(root) if root is not None else weights_dir()
        raise WeightsError(f"no weights named {name!r} in {where / REGISTRY_FILE}{hint}")
    return found[name]


def register(name: str, state: Mapping[str, torch.Tensor], *, model: str, profile: str, config: Mapping[str, Any],
             data: str, iterations: int, seconds: float, metrics: Mapping[str, Any] | None = None,
             dtype: torch.dtype = torch.float16, root: str | Path | None = None) -> Entry:
    """Save ``state`` (floating tensors cast to ``dtype``) as ``<name>.safetensors`` and record it.

    Both the weights file and ``registry.json`` are written atomically.
    """
    folder = Path(root) if root is not None else weights_dir()
    folder.mkdir(parents=True, exist_ok=True)
    tensors = {k: (v.detach().to(dtype) if v.is_floating_point() else v.detach()).contiguous().cpu()
               for k, v in state.items()}
    blob = save(tensors, metadata={"name": name, "model": model, "profile": profile})
    fname = f"{name}.safetensors"
    atomic_write_bytes(folder / fname, blob)
    rec = Entry(
        name=name, file=fname, sha256=hashlib.sha256(blob).hexdigest(), model=model, profile=profile,
        config=json.loads(json.dumps(dict(config), default=str)), data=data, iterations=int(iterations),
        seconds=round(float(seconds), 1), dtype=str(dtype).replace("torch.", ""), size_bytes=len(blob),
        created=time.strftime("%Y-%m-%d"), device=_device_name(), metrics=dict(metrics or {}),
    )
    found = _read(folder)
    found[name] = rec
    text = json.dumps({k: asdict(v) for k, v in sorted(found.items())}, indent=2) + "\n"
    atomic_write_text(folder / REGISTRY_FILE, text)
    return rec


def _device_name() -> str:
    if torch.cuda.is_available():
        return torch.cuda.get_device_name(0)
    return f"cpu ({os.cpu_count()} cores)"


def check(name: str, root: str | Path | None = None) -> tuple[Entry, Path]:
    """The entry and its file, after checking that the file exists and its sha256 matches."""
    rec = entry(name, root)
    path = (Path(root) if root is not None else weights_dir()) / rec.file
    if not path.is_file():
        raise WeightsError(f"{path}: weights {name!r} are missing; make them with `{rec.command}`")
    digest = sha256_file(path)
    if digest != rec.sha256:
        raise WeightsError(f"{path}: sha256 {digest[:12]}... does not match the registry's {rec.sha256[:12]}... "
                           f"(corrupt or changed file); remake it with `{rec.command}`")
    return rec, path


def load(name: str, root: str | Path | None = None, dtype: torch.dtype = torch.float32) -> tuple[dict[str, torch.Tensor], Entry]:
    """The state dict registered as ``name`` (floating tensors as ``dtype``) and its entry; hash checked."""
    rec, path = check(name, root)
    state = load_bytes(path.read_bytes())
    return {k: (v.to(dtype) if v.is_floating_point() else v) for k, v in state.items()}, rec


def verify(root: str | Path | None = None) -> list[tuple[str, bool, str]]:
    """``(name, ok, message)`` for every entry: file present, sha256 matching."""
    out = []
    for name in entries(root):
        try:
            rec, path = check(name, root)
            out.append((name, True, f"{path.name}: ok ({rec.size_bytes / 2**20:.1f} MB, sha256 {rec.sha256[:12]})"))
        except WeightsError as exc:
            out.append((name, False, str(exc)))
    return out


def history_path(name: str, root: str | Path | None = None) -> Path:
    """The loss history saved beside the weights ``name``: ``<name>-history.csv`` in the registry folder."""
    return (Path(root) if root is not None else weights_dir()) / f"{name}-history.csv"


def save_history(name: str, history, columns: Sequence[str] | None = None, root: str | Path | None = None) -> Path:
    """Write a training run's loss history (a DataFrame, one row per step) beside its weights, atomically.

    ``columns`` keeps only those (the ones present); values are written with 5 significant digits,
    which keeps the committed files small.
    """
    cols = [c for c in columns if c in history.columns] if columns is not None else list(history.columns)
    path = history_path(name, root)
    atomic_write_text(path, history[cols].to_csv(index=False, float_format="%.5g"))
    return path


def load_history(name: str, root: str | Path | None = None):
    """The loss history saved with :func:`save_history`, as a DataFrame; a one-line WeightsError when absent."""
    import pandas as pd

    path = history_path(name, root)
    if not path.is_file():
        raise WeightsError(f"{path}: no loss history for {name!r}; it is written by `stylelib train`")
    return pd.read_csv(path)


#: the columns of :func:`weights_table` every entry has
_TABLE_COLUMNS = {
    "weights": lambda e: e.name, "model": lambda e: e.model, "profile": lambda e: e.profile,
    "iterations": lambda e: e.iterations, "wall time, min": lambda e: e.seconds / 60,
    "stopped by": lambda e: e.metrics.get("stopped_by", ""), "data": lambda e: e.data,
    "device": lambda e: e.device, "created": lambda e: e.created, "file MB": lambda e: e.size_bytes / 2**20,
}


def weights_table(names: Sequence[str], extra: Mapping[str, Any] | None = None, root: str | Path | None = None):
    """The provenance of the weights ``names`` as a DataFrame, one row each (what the notebooks show).

    ``extra`` adds columns after ``model``: a column name mapped to a function
    of the :class:`Entry`, or to a key of its ``config``.  A missing entry is
    a one-line :class:`WeightsError` naming the command that makes it.
    """
    import pandas as pd

    columns = dict(_TABLE_COLUMNS)
    extras = {k: (v if callable(v) else (lambda e, key=v: e.config.get(key, ""))) for k, v in (extra or {}).items()}
    order = ["weights", "model", *extras, *[c for c in columns if c not in ("weights", "model")]]
    columns.update(extras)
    rows = [{c: columns[c](e) for c in order} for e in (entry(n, root) for n in names)]
    return pd.DataFrame(rows, columns=order)
