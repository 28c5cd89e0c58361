"""Loaders in viscause_gui.core.data.readers: good files load, every bad one gives one DatasetError."""
from __future__ import annotations

import gzip
import io
import json
import os
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from viscause_gui.core.data.dataset import Dataset, DatasetError
from viscause_gui.core.data.readers import load_image_folder, load_mnist_idx, load_npz, load_path
from viscause_gui.core.experiments.registry import builtin_datasets, load_builtin


def _png(path: Path, arr: np.ndarray, mode: str = "L") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr.astype(np.uint8), mode).save(path)
    return path


def _idx(path: Path, arr: np.ndarray, magic: int, gz: bool = False) -> Path:
    data = struct.pack(">I", magic) + struct.pack(f">{arr.ndim}I", *arr.shape) + arr.astype(np.uint8).tobytes()
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


def _raises(path: Path, *needles: str, loader=load_path) -> str:
    with pytest.raises(DatasetError) as info:
        loader(path)
    msg = str(info.value)
    assert path.name in msg
    for needle in needles:
        assert needle.lower() in msg.lower(), msg
    return msg


# ---------------------------------------------------------------- good inputs

def test_npz_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    ds = Dataset(images=rng.random((6, 5, 4)).astype(np.float32), p_obs=rng.random(6),
                 t=rng.integers(0, 2, 6), obs_class=np.arange(6) % 3, causal_class=np.arange(6) % 2,
                 labels=np.arange(6), meta={"hello": [1, 2]})
    ds.save_npz(str(tmp_path / "d.npz"))
    back = load_path(tmp_path / "d.npz")
    np.testing.assert_array_equal(back.images, ds.images)
    for key in ("p_obs", "t", "obs_class", "causal_class", "labels"):
        np.testing.assert_array_equal(getattr(back, key), getattr(ds, key))
    assert back.meta == {"hello": [1, 2]} and back.name == "d"


def test_npz_uint8_colour_kept_and_scaled(tmp_path):
    rgb = np.zeros((2, 3, 3, 3), np.uint8)
    rgb[0, 0, 0] = (255, 0, 51)
    np.savez(tmp_path / "c.npz", images=rgb)
    ds = load_npz(tmp_path / "c.npz")
    assert ds.images.shape == (2, 3, 3, 3) and ds.images.dtype == np.float32 and ds.channels == 3
    assert ds.images[0, 0, 0].tolist() == pytest.approx([1.0, 0.0, 0.2])
    grey = load_npz(tmp_path / "c.npz", grey=True)
    assert grey.images.shape == (2, 3, 3) and not grey.is_colour
    assert grey.images[0, 0, 0] == pytest.approx(0.299 + 0.114 * 0.2, abs=1e-3)


def test_npz_two_channels_and_one_channel(tmp_path):
    two = np.random.default_rng(0).random((4, 5, 5, 2)).astype(np.float32)
    np.savez(tmp_path / "two.npz", images=two)
    assert load_npz(tmp_path / "two.npz").images.shape == (4, 5, 5, 2)
    np.savez(tmp_path / "one.npz", images=two[..., :1])
    assert load_npz(tmp_path / "one.npz").images.shape == (4, 5, 5)
    np.savez(tmp_path / "many.npz", images=np.zeros((2, 5, 5, 12), np.float32))
    with pytest.raises(DatasetError, match="2 to 8 channels"):
        load_npz(tmp_path / "many.npz")


def test_folder_with_label_subfolders(tmp_path):
    root = tmp_path / "digits"
    for label in ("b", "a"):
        for i in range(2):
            img = np.zeros((4, 5), np.uint8)
            img[i, :] = 255
            _png(root / label / f"{i}.png", img)
    (root / "notes.txt").write_text("ignored")
    ds = load_path(root)
    assert ds.images.shape == (4, 4, 5) and ds.meta["label_names"] == ["a", "b"]
    np.testing.assert_array_equal(ds.labels, [0, 0, 1, 1])
    assert ds.meta["inverted"] is False and ds.meta["files"][0] == "a/0.png"
    assert ds.images[0, 0].tolist() == [1.0] * 5


def test_folder_dark_ink_on_paper_is_inverted(tmp_path):
    img = np.full((6, 6), 255, np.uint8)
    img[2, :] = 0
    _png(tmp_path / "f" / "x.png", img)
    ds = load_image_folder(tmp_path / "f")
    assert ds.meta["inverted"] is True and "label_names" not in ds.meta and ds.labels is None
    assert ds.images[0, 2].tolist() == [1.0] * 6 and ds.images[0, 0].max() == 0.0


def test_colour_png_stays_colour_unless_grey_asked(tmp_path):
    rgb = np.zeros((3, 4, 3), np.uint8)
    rgb[0, 0] = (255, 0, 0)
    rgb[1, 1] = (0, 255, 0)
    _png(tmp_path / "col" / "c.png", rgb, "RGB")
    ds = load_image_folder(tmp_path / "col")
    assert ds.images.shape == (1, 3, 4, 3) and ds.meta["inverted"] is False
    assert ds.images[0, 0, 0].tolist() == [1.0, 0.0, 0.0] and ds.images[0, 1, 1].tolist() == [0.0, 1.0, 0.0]
    grey = load_path(tmp_path / "col", grey=True)
    assert grey.images.shape == (1, 3, 4)
    assert grey.images[0, 0, 0] == pytest.approx(0.299, abs=0.01)
    assert grey.images[0, 1, 1] == pytest.approx(0.587, abs=0.01)


def test_grey_saved_as_rgb_is_grey_and_mixed_folders_are_colour(tmp_path):
    ink = np.full((4, 4), 255, np.uint8)
    ink[1, :] = 0                                           # dark ink on white paper
    _png(tmp_path / "g" / "a.png", np.stack([ink] * 3, -1), "RGB")
    ds = load_image_folder(tmp_path / "g")
    assert ds.images.shape == (1, 4, 4) and ds.meta["inverted"] is True and ds.images[0, 1].tolist() == [1.0] * 4
    _png(tmp_path / "m" / "a.png", ink)
    red = np.zeros((4, 4, 3), np.uint8)
    red[..., 0] = 255
    _png(tmp_path / "m" / "b.png", red, "RGB")
    mixed = load_image_folder(tmp_path / "m")
    assert mixed.images.shape == (2, 4, 4, 3) and mixed.meta["inverted"] is False
    assert mixed.images[0, 1, 0].tolist() == [0.0, 0.0, 0.0] and mixed.images[1, 0, 0].tolist() == [1.0, 0.0, 0.0]


@pytest.mark.parametrize("gz", [False, True])
def test_idx_round_trip(tmp_path, gz):
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, (3, 4, 5))
    labels = np.array([7, 0, 9])
    suffix = ".gz" if gz else ""
    ip = _idx(tmp_path / f"train-images-idx3-ubyte{suffix}", images, 0x803, gz)
    _idx(tmp_path / f"train-labels-idx1-ubyte{suffix}", labels, 0x801, gz)
    ds = load_path(ip)
    np.testing.assert_allclose(ds.images, images / 255.0, atol=1e-6)
    np.testing.assert_array_equal(ds.labels, labels)
    ds2 = load_mnist_idx(ip, tmp_path / f"train-labels-idx1-ubyte{suffix}")
    np.testing.assert_array_equal(ds2.labels, labels)


def test_builtins():
    assert set(builtin_datasets()) == {"grating", "digits8x8", "mnist_subset", "colored_mnist"}
    g = load_builtin("grating", n=50, seed=3)
    assert g.images.shape == (50, 10, 10) and g.is_binary
    g2 = load_builtin("grating", n=50, seed=3, size=12)
    assert g2.images.shape == (50, 12, 12)
    d = load_builtin("digits8x8")
    assert d.images.shape == (1797, 8, 8) and d.images.min() >= 0 and d.images.max() == 1.0
    m = load_builtin("mnist_subset")
    assert m.images.shape == (5000, 28, 28) and m.images.dtype == np.float32
    assert sorted(set(m.labels.tolist())) == list(range(10))
    assert m.images.mean() < 0.5  # 1.0 = ink: mostly background


def test_builtin_errors(tmp_path, monkeypatch):
    with pytest.raises(DatasetError, match="no such built-in"):
        load_builtin("nope")
    with pytest.raises(DatasetError, match="grating"):
        load_builtin("grating", n=10, colour="red")
    monkeypatch.setenv("VISCAUSE_SAMPLE_DATA", str(tmp_path))
    with pytest.raises(DatasetError, match=r"mnist_subset\.npz.*missing"):
        load_builtin("mnist_subset")


# ---------------------------------------------------------------- bad inputs, one per case

def test_missing_file(tmp_path):
    _raises(tmp_path / "nothing.npz", "no such")
    _raises(tmp_path / "nothing.npz", "no such", loader=load_npz)
    _raises(tmp_path / "nothing-images-idx3-ubyte", "no such", loader=load_mnist_idx)
    _raises(tmp_path / "nofolder", "no such", loader=load_image_folder)


def test_truncated_npz(tmp_path):
    Dataset(images=np.random.default_rng(0).random((20, 8, 8))).save_npz(str(tmp_path / "full.npz"))
    data = (tmp_path / "full.npz").read_bytes()
    (tmp_path / "cut.npz").write_bytes(data[: len(data) // 2])
    _raises(tmp_path / "cut.npz", "npz")


def test_random_bytes_npz(tmp_path):
    (tmp_path / "junk.npz").write_bytes(np.random.default_rng(0).bytes(300))
    _raises(tmp_path / "junk.npz", "not a valid .npz")


def test_unknown_format(tmp_path):
    (tmp_path / "data.csv").write_text("1,2,3\n")
    _raises(tmp_path / "data.csv", "unknown format")


def test_mixed_sizes_in_folder(tmp_path):
    _png(tmp_path / "m" / "a.png", np.zeros((4, 4)))
    _png(tmp_path / "m" / "b.png", np.zeros((5, 4)))
    msg = _raises(tmp_path / "m" / "b.png", "one size", loader=lambda p: load_image_folder(p.parent))
    assert "a.png" in msg


def test_empty_folder(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "readme.txt").write_text("no images")
    _raises(tmp_path / "empty", "no images")


def test_nan_values(tmp_path):
    images = np.zeros((2, 3, 3), np.float32)
    images[1, 1, 1] = np.nan
    np.savez(tmp_path / "nan.npz", images=images)
    _raises(tmp_path / "nan.npz", "nan")
    images[1, 1, 1] = np.inf
    np.savez(tmp_path / "inf.npz", images=images)
    _raises(tmp_path / "inf.npz", "infinite")


def test_out_of_range_float(tmp_path):
    np.savez(tmp_path / "big.npz", images=np.full((1, 2, 2), 3.0))
    _raises(tmp_path / "big.npz", "[0, 1]")


def test_wrong_key(tmp_path):
    np.savez(tmp_path / "keys.npz", pictures=np.zeros((1, 2, 2)), y=np.zeros(1))
    _raises(tmp_path / "keys.npz", "no 'images'", "pictures", "'y'")


def test_label_array_wrong_length(tmp_path):
    np.savez(tmp_path / "lab.npz", images=np.zeros((4, 2, 2)), labels=np.arange(3))
    _raises(tmp_path / "lab.npz", "labels", "(4,)")


def test_idx_labels_wrong_length(tmp_path):
    ip = _idx(tmp_path / "x-images-idx3-ubyte", np.zeros((3, 2, 2)), 0x803)
    _idx(tmp_path / "x-labels-idx1-ubyte", np.zeros(2), 0x801)
    _raises(tmp_path / "x-labels-idx1-ubyte", "2 labels", "3 images", loader=lambda _: load_path(ip))


def test_idx_bad_magic_and_truncated(tmp_path):
    lp = _idx(tmp_path / "y-labels-idx1-ubyte", np.zeros(2), 0x801)
    _raises(lp, "magic", "labels file", loader=load_mnist_idx)
    ip = _idx(tmp_path / "z-images-idx3-ubyte", np.zeros((3, 4, 4)), 0x803)
    ip.write_bytes(ip.read_bytes()[:-5])
    _raises(ip, "truncated")
    gp = tmp_path / "g-images-idx3-ubyte.gz"
    gp.write_bytes(gzip.compress(b"\x00\x00\x08\x03" + b"\x00" * 40)[:-10])
    _raises(gp, "corrupt")


def test_text_file_named_png(tmp_path):
    _png(tmp_path / "t" / "a.png", np.zeros((3, 3)))
    (tmp_path / "t" / "x.png").write_text("this is not an image")
    _raises(tmp_path / "t" / "x.png", "not a readable image", loader=lambda p: load_path(p.parent))


def test_decompression_bomb_own_limit(tmp_path):
    _png(tmp_path / "b" / "big.png", np.zeros((40, 40)))
    _raises(tmp_path / "b" / "big.png", "decompression bomb",
            loader=lambda p: load_image_folder(p.parent, max_pixels=1000))


def test_decompression_bomb_pil_warning(tmp_path):
    """A 1-bit PNG over PIL's own limit (~89 MP) is small on disk; PIL's warning -> DatasetError."""
    path = tmp_path / "bomb" / "huge.png"
    path.parent.mkdir()
    Image.new("1", (10_000, 9_000)).save(path)
    _raises(path, "decompression bomb", loader=lambda p: load_image_folder(p.parent, max_pixels=10**9))
    _raises(path, "decompression bomb", loader=lambda p: load_image_folder(p.parent))


def test_zip_bomb(tmp_path):
    np.savez_compressed(tmp_path / "zeros.npz", images=np.zeros((100, 100, 100), np.float32))
    assert (tmp_path / "zeros.npz").stat().st_size < 100_000
    _raises(tmp_path / "zeros.npz", "zip bomb", loader=lambda p: load_npz(p, max_bytes=1_000_000))
    assert load_npz(tmp_path / "zeros.npz").images.shape == (100, 100, 100)


def test_header_claims_more_than_member_holds(tmp_path):
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": "<f4", "fortran_order": False,
                                               "shape": (10**6, 1000, 1000)})
    with zipfile.ZipFile(tmp_path / "liar.npz", "w") as zf:
        zf.writestr("images.npy", buf.getvalue() + b"\x00" * 64)
    _raises(tmp_path / "liar.npz", "corrupt")


def test_object_array_in_npz(tmp_path):
    np.savez(tmp_path / "obj.npz", images=np.zeros((1, 2, 2)),
             labels=np.array([{"a": 1}], dtype=object))
    _raises(tmp_path / "obj.npz", "pickle")


def test_bad_meta(tmp_path):
    np.savez(tmp_path / "meta.npz", images=np.zeros((1, 2, 2)), meta=np.array("{not json"))
    _raises(tmp_path / "meta.npz", "json")
    np.savez(tmp_path / "meta2.npz", images=np.zeros((1, 2, 2)), meta=np.array(json.dumps([1])))
    _raises(tmp_path / "meta2.npz", "json object")


def test_top_level_images_with_label_folders(tmp_path):
    _png(tmp_path / "mix" / "a.png", np.zeros((3, 3)))
    _png(tmp_path / "mix" / "cat" / "b.png", np.zeros((3, 3)))
    _raises(tmp_path / "mix", "sub-folders")


# ---------------------------------------------------------------- fuzzing

def _valid_png_bytes() -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.arange(64, dtype=np.uint8).reshape(8, 8)).save(buf, "PNG")
    return buf.getvalue()


def _valid_npz_bytes() -> bytes:
    buf = io.BytesIO()
    np.savez_compressed(buf, images=np.random.default_rng(0).random((3, 4, 4)).astype(np.float32),
                        labels=np.arange(3), meta=np.array("{}"))
    return buf.getvalue()


VALID = {"npz": _valid_npz_bytes(), "png": _valid_png_bytes()}


def _corruptions(kind: str):
    good = VALID[kind]
    truncated = st.integers(0, len(good) - 1).map(lambda n: good[:n])
    flipped = st.tuples(st.integers(0, len(good) - 1), st.integers(1, 255)).map(
        lambda ib: good[: ib[0]] + bytes([good[ib[0]] ^ ib[1]]) + good[ib[0] + 1:])
    return st.one_of(st.binary(max_size=300), truncated, flipped)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_fuzz_only_dataset_error(tmp_path, data):
    kind = data.draw(st.sampled_from(["npz", "png"]))
    blob = data.draw(_corruptions(kind))
    folder = tmp_path / "fuzz"
    folder.mkdir(exist_ok=True)
    path = folder / f"f.{kind}"
    path.write_bytes(blob)
    try:
        ds = load_path(path if kind == "npz" else folder)
    except DatasetError as exc:
        assert "f." in str(exc) or "fuzz" in str(exc)
    else:  # a harmless flip (e.g. in a timestamp) may still load; then it must be valid data
        assert isinstance(ds, Dataset) and ds.images.ndim == 3


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="peak memory from /proc (VmHWM)")
def test_large_uint8_images_convert_with_bounded_memory(tmp_path):
    """200 MB of uint8 pixels (a small, compressed file): the float32 images plus the stored uint8
    array, not a float64 copy on top (that peaked at 2.6 GB here before)."""
    path = tmp_path / "big.npz"
    np.savez_compressed(path, images=np.zeros((2_000_000, 10, 10), np.uint8))
    code = ("import resource, sys\nfrom viscause_gui.core.data.readers import load_npz\n"
            "d = load_npz(sys.argv[1])\nprint(d.images.dtype, d.images.shape, float(d.images.max()))\n"
            "print(next(l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM:')))")  # KiB
    result = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert lines[0] == "float32 (2000000, 10, 10) 0.0"
    assert int(lines[-1]) < 1_600_000            # KiB: 1.0 GB of arrays + the interpreter and torch-free imports


def test_images_that_would_not_fit_in_memory_are_refused_before_reading(tmp_path, monkeypatch):
    import viscause_gui.core.system.memory as memory

    path = tmp_path / "d.npz"
    np.savez(path, images=np.zeros((100, 10, 10), np.uint8))
    monkeypatch.setattr(memory, "available_memory_bytes", lambda: 10_000)
    with pytest.raises(DatasetError, match=r"needs about .* GiB of memory.*refused before reading"):
        load_npz(path)


def test_a_two_dimensional_images_array_is_refused(tmp_path):
    path = tmp_path / "d.npz"
    np.savez(path, images=np.zeros((5, 3)))
    with pytest.raises(DatasetError, match=r"shape \(5, 3\); it must be \(N, H, W\)"):
        load_npz(path)


def test_a_per_image_array_longer_than_the_images_is_refused_before_reading(tmp_path, monkeypatch):
    import viscause_gui.core.data.readers as readers

    path = tmp_path / "d.npz"
    np.savez(path, images=np.zeros((4, 5, 5), np.float32), t=np.zeros(1000, np.int64))
    monkeypatch.setattr(readers, "_read_npz_arrays", lambda p: pytest.fail("read before refusing"))
    with pytest.raises(DatasetError, match=r"'t' has shape \(1000,\), expected \(4,\) — one per image"):
        load_npz(path)


# ---------------------------------------------------------------- hostile paths (issue 21, finding 6)

@pytest.mark.parametrize("mode, values, words", [
    ("I", np.arange(16, dtype=np.int32).reshape(4, 4) * 100_000,
     "is a 32-bit integer image with values from 0 to 1.5e+06"),
    ("I", -np.arange(16, dtype=np.int32).reshape(4, 4), "is a 32-bit integer image with values from -15 to 0"),
    ("F", np.full((4, 4), 255.0, np.float32), "is a 32-bit float image with values from 255 to 255"),
])
def test_a_32_bit_image_in_a_folder_is_refused_naming_the_file(tmp_path, mode, values, words):
    folder = tmp_path / "deep"
    folder.mkdir()
    for i in range(3):
        Image.fromarray(np.zeros((4, 4), np.uint8)).save(folder / f"{i}.tif")
    Image.fromarray(values, mode).save(folder / "3.tif")
    with pytest.raises(DatasetError) as info:
        load_path(folder)
    assert str(info.value).startswith(f"{folder / '3.tif'}: {words}")


def test_a_32_bit_image_within_16_bits_is_read(tmp_path):
    folder = tmp_path / "sixteen"
    folder.mkdir()
    for i in range(2):
        Image.fromarray(np.full((4, 4), 65535 * i, np.int32), "I").save(folder / f"{i}.tif")
    assert np.array_equal(load_path(folder).images[:, 0, 0], [0.0, 1.0])


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs are POSIX")
@pytest.mark.timeout(30)
@pytest.mark.parametrize("name, loader", [("data.npz", load_npz), ("data.bin", load_path), ("data.npz", load_path),
                                          ("x-images-idx3-ubyte", load_mnist_idx)])
def test_a_fifo_or_a_device_is_refused_before_anything_reads_it(tmp_path, name, loader):
    fifo = tmp_path / name
    os.mkfifo(fifo)                     # no writer: a read would block forever
    _raises(fifo, "is a named pipe (FIFO), not a file", loader=loader)
    if Path("/dev/zero").exists():
        zero = tmp_path / f"zero-{name}"
        zero.symlink_to("/dev/zero")    # a read would never end
        _raises(zero, "is a character device, not a file", loader=loader)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs are POSIX")
@pytest.mark.timeout(30)
def test_a_fifo_beside_idx_images_or_in_an_image_folder_is_passed_over(tmp_path):
    """Only what is found by name (the matching labels, a folder's images) and is a regular file is read."""
    images = _idx(tmp_path / "x-images-idx3-ubyte", np.zeros((2, 3, 3)), 0x803)
    os.mkfifo(tmp_path / "x-labels-idx1-ubyte")
    assert load_mnist_idx(images).labels is None
    with pytest.raises(DatasetError, match="x-labels-idx1-ubyte: is a named pipe"):
        load_mnist_idx(images, tmp_path / "x-labels-idx1-ubyte")          # named by the person: refused
    folder = tmp_path / "images"
    _png(folder / "a.png", np.zeros((3, 3)))
    os.mkfifo(folder / "b.png")
    assert len(load_path(folder)) == 1
