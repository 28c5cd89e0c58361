"""Data set readers: npz, image folder, MNIST IDX (and the npy header check the session reader shares). Qt-free.

Every bad input raises one DatasetError whose message starts with the file or folder and
says what is wrong. Nothing is ever unpickled: npz files are read with allow_pickle=False.
Only regular files are opened (core.data.user_files: a FIFO named data.npz or a link to /dev/zero
is refused before anything reads it), and each format bounds what it reads (MAX_NPZ_BYTES,
MAX_IDX_BYTES, MAX_IMAGE_PIXELS). A folder's image that cannot be used is named by its file.
"""
from __future__ import annotations

import contextlib
import gzip
import json
import os
import struct
import warnings
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageOps

from viscause_gui.core.data.dataset import OPTIONAL_ARRAYS, Dataset, DatasetError
from viscause_gui.core.data.outcomes import MAX_OUTCOMES, MIN_OUTCOMES
from viscause_gui.core.data.user_files import UserFileError, open_user_file, regular_file
from viscause_gui.core.system.memory import memory_problem

PathLike = str | os.PathLike

MAX_NPZ_BYTES = 2 * 1024**3  # total uncompressed size of an .npz archive
MAX_IDX_BYTES = 2 * 1024**3  # pixel bytes of an IDX images file
MAX_IMAGE_PIXELS = 50_000_000  # per image in a folder
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
CONVERT_CHUNK_VALUES = 1 << 24   # pixel values converted to float32 at a time (128 MiB of float64)
NPZ_KEYS = ("images", "p_obs", "t", "obs_class", "causal_class", "labels", "meta")

# What numpy / zipfile / zlib raise on damaged archives; wrapped into DatasetError.
_NPZ_ERRORS = (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error, KeyError,
               IndexError, TypeError, SyntaxError, struct.error, OverflowError,
               NotImplementedError, RuntimeError, MemoryError)
_IDX_ERRORS = (OSError, EOFError, zlib.error, ValueError, struct.error, MemoryError)
_IDX_IMAGES_MAGIC = 0x00000803  # unsigned byte, 3 dimensions
_IDX_LABELS_MAGIC = 0x00000801  # unsigned byte, 1 dimension


def file_error(path: PathLike, problem: str) -> DatasetError:
    return DatasetError(f"{path}: {problem}")


def _require_file(path: PathLike) -> Path:
    """`path` when it names a regular file; DatasetError ('no such file', 'is a named pipe (FIFO), not a
    file', ...) otherwise."""
    try:
        return regular_file(path)
    except UserFileError as exc:
        raise file_error(path, exc.problem) from None


def to_grey(arr: np.ndarray) -> np.ndarray:
    """(N, H, W, C) colour -> (N, H, W): luma (ITU-R 601) of RGB(A), alpha dropped; the mean of
    the channels for other C. Brightness is kept (1.0 = white), not turned into ink."""
    if arr.shape[-1] in (3, 4):
        grey = arr[..., :3].astype(np.float64) @ np.array([0.299, 0.587, 0.114])
    else:
        grey = arr.astype(np.float64).mean(axis=-1)
    return grey.astype(arr.dtype) if arr.dtype.kind == "f" else grey


def _scale_images(arr: np.ndarray, path: Path, grey: bool = False) -> np.ndarray:
    """uint8 -> [0, 1]; colour kept (or made grey when asked); other numeric dtypes are kept
    (validated later)."""
    if arr.dtype.kind not in "biuf":
        raise file_error(path, f"'images' must be numeric, got dtype {arr.dtype}")
    scale = 255.0 if arr.dtype == np.uint8 else 1.0
    if arr.ndim == 4 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    elif arr.ndim == 4 and grey:
        arr = to_grey(arr)
    if scale == 1.0:
        return arr
    out = np.empty(arr.shape, np.float32)          # in chunks: a float64 copy of it all never exists
    step = max(1, CONVERT_CHUNK_VALUES // max(1, int(np.prod(arr.shape[1:]))))
    for i in range(0, len(arr), step):
        out[i:i + step] = arr[i:i + step].astype(np.float64) / scale
    return out


def _build(path: Path, name: str, **fields: Any) -> Dataset:
    """Dataset whose validation messages name the file; its name is then the short name."""
    ds = Dataset(name=str(path), **fields)
    ds.name = name
    return ds


# ---------------------------------------------------------------- npz

def read_npy_header(f: Any) -> tuple[tuple[int, ...], bool, np.dtype]:
    """(shape, fortran_order, dtype) of a .npy stream, leaving f at the data; ValueError if unreadable."""
    version = np.lib.format.read_magic(f)
    if version == (1, 0):
        return np.lib.format.read_array_header_1_0(f)
    if version == (2, 0):
        return np.lib.format.read_array_header_2_0(f)
    raise ValueError(f"unsupported .npy format version {version}")


def npz_array_shape(path: PathLike, key: str = "images") -> tuple[int, ...] | None:
    """The shape an .npz member claims in its header, read without its data (None when the file
    or member cannot be read: load_npz then says what is wrong)."""
    try:
        with zipfile.ZipFile(path) as zf, zf.open(f"{key}.npy") as f:
            return tuple(int(s) for s in read_npy_header(f)[0])
    except (OSError, KeyError, ValueError, zipfile.BadZipFile, zlib.error, EOFError):
        return None


def _check_npz_archive(path: Path, max_bytes: int) -> None:
    """Zip-bomb guard and header check of every array we will read, before numpy reads it."""
    with zipfile.ZipFile(path) as zf:
        infos = zf.infolist()
        total = sum(info.file_size for info in infos)
        if total > max_bytes:
            raise file_error(path, f"archive would unpack to {total:,} bytes, more than the "
                              f"limit of {max_bytes:,} (zip bomb?)")
        shapes: dict[str, tuple[int, ...]] = {}
        for info in infos:
            key = info.filename[:-4] if info.filename.endswith(".npy") else None
            if key not in NPZ_KEYS:
                continue
            with zf.open(info) as f:
                shape, _, dtype = read_npy_header(f)
            shapes[key] = tuple(shape)
            if dtype.hasobject:
                raise file_error(path, f"'{key}' holds Python objects (pickle); refusing to load it")
            need = int(np.prod(shape, dtype=np.float64)) * dtype.itemsize
            if need > info.file_size:
                raise file_error(path, f"'{key}' claims shape {shape} but its member holds only "
                                  f"{info.file_size:,} bytes (corrupt file)")
            if key == "images":
                # read as stored, then kept as float32: both exist for a moment
                values = int(np.prod(shape, dtype=np.float64))
                problem = memory_problem(values * (dtype.itemsize + 4), f"'images' {tuple(shape)} {dtype}")
                if problem is not None:
                    raise file_error(path, f"{problem}; refused before reading it")
    _check_one_per_image(path, shapes)


def _check_one_per_image(path: Path, shapes: dict[str, tuple[int, ...]]) -> None:
    """Per-image arrays must hold one value per image: a larger one is refused before it is read."""
    images = shapes.get("images")
    if not images:
        return
    for key in OPTIONAL_ARRAYS:
        if key == "p_obs" and key in shapes and len(shapes[key]) == 2 and shapes[key][0] == images[0] \
                and MIN_OUTCOMES <= shapes[key][1] <= MAX_OUTCOMES:
            continue                 # P(T | I) over K outcomes, one row per image
        if key in shapes and shapes[key] != (images[0],):
            raise file_error(path, f"'{key}' has shape {shapes[key]}, expected ({images[0]},) — one per image")


def _parse_meta(raw: np.ndarray, path: Path) -> dict[str, Any]:
    if raw.shape != () or raw.dtype.kind not in "US":
        raise file_error(path, f"'meta' must be one JSON string, got dtype {raw.dtype} shape {raw.shape}")
    text = raw.item()
    try:
        meta = json.loads(text.decode("utf-8") if isinstance(text, bytes) else text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise file_error(path, f"'meta' is not valid JSON ({exc})") from exc
    if not isinstance(meta, dict):
        raise file_error(path, f"'meta' must be a JSON object, got {type(meta).__name__}")
    return meta


def _read_npz_arrays(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as npz:
        if not hasattr(npz, "files"):
            raise file_error(path, "is a single .npy array, not an .npz archive")
        if "images" not in npz.files:
            raise file_error(path, f"has no 'images' array; it holds {sorted(npz.files) or 'nothing'}")
        return {key: np.asarray(npz[key]) for key in NPZ_KEYS if key in npz.files}


def load_npz(path: PathLike, *, max_bytes: int | None = None, grey: bool = False) -> Dataset:
    """Load an .npz with `images` (required; (N, H, W) grey or (N, H, W, C) colour), optional
    per-image arrays and a JSON `meta`. grey=True turns colour images into grey ones."""
    p = _require_file(path)
    try:
        _check_npz_archive(p, MAX_NPZ_BYTES if max_bytes is None else max_bytes)
        arrays = _read_npz_arrays(p)
    except DatasetError:
        raise
    except zipfile.BadZipFile as exc:
        raise file_error(p, f"is not a valid .npz archive ({exc})") from exc
    except _NPZ_ERRORS as exc:
        raise file_error(p, f"is corrupt or unreadable ({type(exc).__name__}: {exc})") from exc
    meta = _parse_meta(arrays.pop("meta"), p) if "meta" in arrays else {}
    if arrays["images"].ndim < 3:
        raise file_error(p, f"'images' has shape {arrays['images'].shape}; it must be (N, H, W) or "
                            "(N, H, W, C): N images of H x W (save a single image with shape (1, H, W))")
    images = _scale_images(arrays.pop("images"), p, grey)
    return _build(p, p.stem, images=images, meta=meta, **arrays)


# ---------------------------------------------------------------- image folder

def _image_files(folder: Path) -> list[Path]:
    return sorted(f for f in folder.iterdir()
                  if f.suffix.lower() in IMAGE_SUFFIXES and not f.name.startswith(".") and f.is_file())


def _collect_images(folder: Path) -> tuple[list[Path], list[str], list[int]]:
    """Files in sorted order, label names and a label index per file (empty when unlabelled)."""
    top = _image_files(folder)
    subdirs = sorted(d for d in folder.iterdir() if d.is_dir() and not d.name.startswith("."))
    groups = [(d.name, _image_files(d)) for d in subdirs]
    groups = [(name, files) for name, files in groups if files]
    if not groups:
        return top, [], []
    if top:
        raise file_error(folder, f"mixes images at the top level (e.g. {top[0].name}) with labelled "
                            f"sub-folders ({', '.join(n for n, _ in groups)}); use one or the other")
    files = [f for _, fs in groups for f in fs]
    labels = [i for i, (_, fs) in enumerate(groups) for _ in fs]
    return files, [name for name, _ in groups], labels


def _pil_to_array(img: Image.Image) -> np.ndarray:
    """Brightness in [0, 1] (1.0 = white): (H, W) for grey modes, (H, W, 3) for colour ones;
    transparency is composited over white."""
    if img.mode == "F":
        return np.asarray(img, dtype=np.float32)
    if img.mode.startswith("I"):
        return np.asarray(img, dtype=np.float64) / 65535.0
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        img = Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba)
    grey_mode = img.mode in ("1", "L", "LA")
    return np.asarray(img.convert("L" if grey_mode else "RGB"), dtype=np.float64) / 255.0


def _read_image(path: Path, max_pixels: int) -> np.ndarray:
    """One image as a 2-D brightness array in [0, 1]; pixel limit checked before decoding; a value
    outside [0, 1] (a 32-bit integer or float image beyond what _pil_to_array scales) names the file."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with open_user_file(path) as f, Image.open(f) as img:
                w, h = img.size
                if w * h > max_pixels:
                    raise file_error(path, f"has {w}x{h} = {w * h:,} pixels, more than the limit "
                                      f"of {max_pixels:,} (decompression bomb?)")
                mode = img.mode
                arr = _pil_to_array(ImageOps.exif_transpose(img))
    except UserFileError as exc:
        raise file_error(path, exc.problem) from None
    except DatasetError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise file_error(path, f"is a decompression bomb ({exc})") from exc
    except Exception as exc:  # PIL's decoders raise many types on bad files
        raise file_error(path, f"is not a readable image ({type(exc).__name__}: {exc})") from exc
    if not (np.isfinite(arr).all() and arr.min(initial=0.0) >= 0.0 and arr.max(initial=0.0) <= 1.0):
        depth = {"I": "32-bit integer", "F": "32-bit float"}.get(mode, f"mode {mode}")
        raw = arr * (65535.0 if mode.startswith("I") else 1.0)
        raise file_error(path, f"is a {depth} image with values from {np.nanmin(raw):g} to {np.nanmax(raw):g}; "
                         "this reader takes 8- or 16-bit images (0 to 65535) and float images in [0, 1]: "
                         "save it as 8- or 16-bit")
    return arr


def load_image_folder(path: PathLike, *, max_pixels: int = MAX_IMAGE_PIXELS, grey: bool = False) -> Dataset:
    """Load PNG/JPEG/BMP/TIFF images of one size; one level of sub-folders gives labels.

    Colour images stay colour, (N, H, W, 3) RGB with 1.0 = full intensity, unless grey=True or
    every image is grey in fact (all channels equal, e.g. grey digits saved as RGB). Grey images
    that are mostly light (mean > 0.5: dark ink on paper) are inverted so that 1.0 = ink;
    meta["inverted"] records it.
    """
    folder = Path(path)
    if not folder.exists():
        raise file_error(folder, "no such folder")
    if not folder.is_dir():
        raise file_error(folder, "is not a folder")
    files, label_names, labels = _collect_images(folder)
    if not files:
        raise file_error(folder, f"contains no images ({', '.join(IMAGE_SUFFIXES)})")
    stack = _read_stack(files, max_pixels)
    if stack.ndim == 4 and (grey or _channels_equal(stack)):
        stack = to_grey(stack) if grey else np.ascontiguousarray(stack[..., 0])
    inverted = bool(stack.ndim == 3 and np.isfinite(stack).all() and stack.mean() > 0.5)
    if inverted:
        stack = 1.0 - stack
    meta: dict[str, Any] = {"source": str(folder), "inverted": inverted,
                            "files": [f.relative_to(folder).as_posix() for f in files]}
    if label_names:
        meta["label_names"] = label_names
    return _build(folder, folder.name, images=stack,
                  labels=np.asarray(labels, np.int64) if label_names else None, meta=meta)


def _read_stack(files: list[Path], max_pixels: int) -> np.ndarray:
    """The images as one float32 array: (N, H, W), or (N, H, W, 3) when any of them is colour."""
    first = _read_image(files[0], max_pixels)
    stack = np.empty((len(files), *first.shape), np.float32)
    stack[0] = first
    for i, f in enumerate(files[1:], start=1):
        arr = _read_image(f, max_pixels)
        if arr.shape[:2] != first.shape[:2]:
            raise file_error(f, f"is {arr.shape[0]}x{arr.shape[1]} (HxW) but {files[0].name} is "
                           f"{first.shape[0]}x{first.shape[1]}; all images must have one size")
        if arr.ndim == 3 and stack.ndim == 3:        # the first colour image: grey ones so far become RGB
            stack = np.repeat(stack[..., None], 3, axis=3)
        stack[i] = arr[..., None] if arr.ndim < stack.ndim - 1 else arr
    return stack


def _channels_equal(stack: np.ndarray) -> bool:
    """Whether every channel of every colour image is the same (grey saved as colour)."""
    return all(np.array_equal(stack[i:i + 256, ..., 0:1].repeat(stack.shape[3], axis=3), stack[i:i + 256])
               for i in range(0, len(stack), 256))


# ---------------------------------------------------------------- MNIST IDX

@contextlib.contextmanager
def _open_maybe_gz(path: Path) -> Iterator[Any]:
    """The regular file at `path` for reading, through gzip when it is gzipped (UserFileError for a FIFO,
    a device, ...: never blocks)."""
    with open_user_file(path) as f:
        is_gz = f.read(2) == b"\x1f\x8b"
        f.seek(0)
        if not is_gz:
            yield f
            return
        with gzip.GzipFile(fileobj=f, mode="rb") as gz:
            yield gz


def _read_exact(f: Any, n: int, path: Path, what: str) -> bytes:
    data = f.read(n)
    if len(data) != n:
        raise file_error(path, f"is truncated: expected {n:,} bytes of {what}, found {len(data):,}")
    return data


def _read_idx(path: Path, magic: int, kind: str) -> np.ndarray:
    """Read an unsigned-byte IDX file with the given magic number into a uint8 array."""
    try:
        return _read_idx_unchecked(path, magic, kind)
    except UserFileError as exc:
        raise file_error(path, exc.problem) from None
    except DatasetError:
        raise
    except _IDX_ERRORS as exc:
        raise file_error(path, f"is corrupt or unreadable ({type(exc).__name__}: {exc})") from exc


def _read_idx_unchecked(path: Path, magic: int, kind: str) -> np.ndarray:
    ndim = magic & 0xFF
    with _open_maybe_gz(path) as f:
        got = struct.unpack(">I", _read_exact(f, 4, path, "IDX magic number"))[0]
        if got != magic:
            other = {_IDX_IMAGES_MAGIC: "an IDX images file", _IDX_LABELS_MAGIC: "an IDX labels file"}
            raise file_error(path, f"is not an IDX {kind} file: magic number 0x{got:08x}, expected "
                              f"0x{magic:08x}" + (f" (it is {other[got]})" if got in other else ""))
        dims = struct.unpack(f">{ndim}I", _read_exact(f, 4 * ndim, path, "IDX header"))
        size = int(np.prod(dims, dtype=np.float64))
        if size > MAX_IDX_BYTES:
            raise file_error(path, f"header claims {size:,} bytes, more than the limit of {MAX_IDX_BYTES:,}")
        data = _read_exact(f, size, path, kind)
        if f.read(1):
            raise file_error(path, f"has extra bytes after the {size:,} bytes its header {dims} announces")
    return np.frombuffer(data, np.uint8).reshape(dims)


def _matching_labels(images_path: Path) -> Path | None:
    name = images_path.name.replace("images", "labels").replace("idx3", "idx1")
    base = name[:-3] if name.endswith(".gz") else name
    if name == images_path.name:
        return None
    for cand in (base, base + ".gz"):
        if (images_path.parent / cand).is_file():
            return images_path.parent / cand
    return None


def load_mnist_idx(images_path: PathLike, labels_path: PathLike | None = None) -> Dataset:
    """Load MNIST IDX files (plain or .gz); labels default to the matching *-labels-idx1-ubyte."""
    p = _require_file(images_path)
    lp = _require_file(labels_path) if labels_path is not None else _matching_labels(p)
    images = _read_idx(p, _IDX_IMAGES_MAGIC, "images")
    labels = None
    if lp is not None:
        labels = _read_idx(lp, _IDX_LABELS_MAGIC, "labels")
        if len(labels) != len(images):
            raise file_error(lp, f"has {len(labels):,} labels but {p.name} has {len(images):,} images")
    meta = {"source": str(p), "labels_file": str(lp) if lp else None}
    name = p.name.split(".")[0].replace("-images-idx3-ubyte", "")
    return _build(p, name, images=images.astype(np.float32) / np.float32(255.0),
                  labels=None if labels is None else labels.astype(np.int64), meta=meta)


# ---------------------------------------------------------------- dispatch

def _sniff(path: Path) -> str | None:
    """'npz', 'idx' or None from the name and the first bytes."""
    name = path.name.lower()
    if name.endswith(".npz"):
        return "npz"
    if "idx3" in name or "idx1" in name or name.endswith(("-ubyte", "-ubyte.gz")):
        return "idx"
    try:
        with _open_maybe_gz(path) as f:
            head = f.read(4)
    except UserFileError:
        raise
    except _IDX_ERRORS:
        return None
    if head.startswith(b"PK\x03\x04"):
        return "npz"
    if head in (b"\x00\x00\x08\x03", b"\x00\x00\x08\x01"):
        return "idx"
    return None


def load_path(path: PathLike, *, grey: bool = False) -> Dataset:
    """Load a folder of images, an .npz, or an MNIST IDX images file; grey=True turns colour into grey."""
    p = Path(path)
    if not p.exists():
        raise file_error(p, "no such file or folder")
    if p.is_dir():
        return load_image_folder(p, grey=grey)
    _require_file(p)                 # a FIFO or a device is refused here, before anything reads it
    try:
        kind = _sniff(p)
    except UserFileError as exc:
        raise file_error(p, exc.problem) from None
    if kind == "npz":
        return load_npz(p, grey=grey)
    if kind == "idx":
        return load_mnist_idx(p)
    raise file_error(p, "unknown format; expected an .npz, an MNIST IDX file "
                   "(*-images-idx3-ubyte[.gz]) or a folder of images")


# ---------------------------------------------------------------- built-in data sets

