"""Tests for stylelib.data: image sets, the checksum list, origins and the downloader."""

from __future__ import annotations

import os
import functools
import hashlib
import http.server
import threading
from pathlib import Path

import pytest
import torch

from stylelib.data import (
    ADAIN_PAIR_STYLES,
    SETS,
    ImageSet,
    Pair,
    art_contents,
    art_styles,
    available_sets,
    default_pairs,
    get_set,
    load_pair,
)
from stylelib.data.checksums import SUMS_FILE, expected_sums, parse_sums, select
from stylelib.data.download import download, main as download_main
from stylelib.data.embedded import skimage_data_dir
from stylelib.data.sources import SOURCES, origin, origin_url
from stylelib.errors import DataError

#: the benchmark images: $STYLELIB_DATA, else ../shared/data next to the checkout (as .ci/run sets it)
SHARED = Path(os.environ.get("STYLELIB_DATA") or Path(__file__).resolve().parents[1].parent / "shared" / "data")
needs_shared = pytest.mark.skipif(not (SHARED / "SHA256SUMS").is_file(), reason="shared benchmark data not present")

HINT = "set STYLELIB_DATA=... or run `make data`"


@pytest.fixture
def no_data(monkeypatch):
    monkeypatch.delenv("STYLELIB_DATA", raising=False)
    monkeypatch.delenv("STYLELIB_DATA_MIRROR", raising=False)


@pytest.fixture
def shared_data(monkeypatch):
    if not (SHARED / "SHA256SUMS").is_file():
        pytest.skip("shared benchmark data not present")
    monkeypatch.setenv("STYLELIB_DATA", str(SHARED))
    return SHARED


def check_image_tensor(x: torch.Tensor, long_side: int | None = None) -> None:
    assert x.dim() == 4 and x.shape[0] == 1 and x.shape[1] == 3
    assert x.dtype == torch.float32
    assert float(x.min()) >= 0.0 and float(x.max()) <= 1.0
    if long_side is not None:
        assert max(x.shape[-2:]) == long_side


class TestEmbeddedSet:
    def test_always_available(self, no_data):
        s = get_set("embedded")
        assert isinstance(s, ImageSet)
        assert s.name == "embedded"
        assert s.root == skimage_data_dir()
        assert len(s.pairs) >= 4 and len(s.contents) >= 4 and len(s.styles) >= 4
        assert available_sets() == ["embedded"]
        for ref in (*s.contents, *s.styles):
            assert ref.path.is_file() and ref.path.parent == s.root

    def test_pairs_are_fixed_and_unique(self, no_data):
        a, b = get_set("embedded"), get_set("embedded")
        assert [p.name for p in a.pairs] == [p.name for p in b.pairs]
        assert len({p.name for p in a.pairs}) == len(a.pairs)
        assert a.pairs[0].name == "embedded_astronaut__hubble_deep_field"
        assert all(p.content_mask is None and p.style_mask is None for p in a.pairs)
        assert all(p.content in a.contents and p.style in a.styles for p in a.pairs)

    def test_load_pair_gives_rgb_tensors(self, no_data):
        for pair in get_set("embedded").pairs:
            c, s = load_pair(pair, size=64)
            check_image_tensor(c, 64)
            check_image_tensor(s, 64)

    def test_greyscale_texture_loads_as_three_channels(self, no_data):
        brick = get_set("embedded").image("brick")
        c, s = load_pair(Pair("t", brick, brick))
        assert tuple(c.shape) == (1, 3, 512, 512)
        assert torch.equal(c[:, 0], c[:, 1]) and torch.equal(c[:, 1], c[:, 2])


class TestSetLookup:
    def test_set_names(self):
        assert SETS == ("embedded", "dpst", "art")

    def test_unknown_set_lists_valid_names(self):
        with pytest.raises(DataError) as info:
            get_set("wikiart")
        msg = str(info.value)
        assert "'wikiart'" in msg and all(repr(n) in msg for n in SETS) and "\n" not in msg

    def test_default_pairs_fall_back_to_embedded(self, no_data):
        pairs = default_pairs()
        assert len(pairs) == len(get_set("embedded").pairs)
        assert all(p.name.startswith("embedded_") for p in pairs)
        assert len(default_pairs(2)) == 2
        assert default_pairs(0) == []

    def test_default_pairs_prefers_dpst(self, shared_data):
        pairs = default_pairs(3)
        assert [p.name for p in pairs] == ["dpst_01", "dpst_02", "dpst_03"]
        art = default_pairs(2, prefer=("art",))
        assert [p.name for p in art] == ["art_avril__woman_with_hat_matisse", "art_avril__antimonocromatismo"]

    def test_default_pairs_rejects_unknown_set(self):
        with pytest.raises(DataError, match="unknown image set 'foo'"):
            default_pairs(prefer=("foo",))

    def test_pair_and_image_lookup(self, no_data):
        s = get_set("embedded")
        assert s.pair(s.pairs[1].name) is s.pairs[1]
        with pytest.raises(DataError, match="no pair 'x'"):
            s.pair("x")


class TestMissingData:
    @pytest.mark.parametrize("name", ["dpst", "art"])
    def test_unset_env_gives_one_line_hint(self, no_data, name):
        with pytest.raises(DataError) as info:
            get_set(name)
        assert str(info.value) == f"set '{name}' not found: {HINT}"
        assert isinstance(info.value, FileNotFoundError)

    @pytest.mark.parametrize("name", ["dpst", "art"])
    def test_empty_folder_gives_one_line_hint(self, monkeypatch, tmp_path, name):
        monkeypatch.setenv("STYLELIB_DATA", str(tmp_path))
        with pytest.raises(DataError) as info:
            get_set(name)
        msg = str(info.value)
        assert msg.startswith(f"set '{name}' not found: {HINT}")
        assert str(tmp_path / name) in msg and "\n" not in msg
        assert available_sets() == ["embedded"]

    def test_incomplete_folder_names_missing_files(self, monkeypatch, tmp_path):
        monkeypatch.setenv("STYLELIB_DATA", str(tmp_path))
        (tmp_path / "dpst" / "content").mkdir(parents=True)
        (tmp_path / "dpst" / "content" / "in1.png").write_bytes(b"x")
        with pytest.raises(DataError) as info:
            get_set("dpst")
        msg = str(info.value)
        assert "incomplete: 239 of 240 files missing" in msg
        assert "dpst/content/in10.png" in msg and "\n" not in msg
        assert available_sets() == ["embedded"]


class TestDpstSet:
    def test_sixty_pairs_with_masks(self, shared_data):
        s = get_set("dpst")
        assert s.root == shared_data / "dpst"
        assert len(s.pairs) == 60 and len(s.contents) == 60 and len(s.styles) == 60
        assert [p.name for p in s.pairs] == [f"dpst_{n:02d}" for n in range(1, 61)]
        p10 = s.pairs[9]
        assert (p10.content.name, p10.style.name) == ("in10", "tar10")
        assert p10.content_mask == shared_data / "dpst" / "segmentation" / "in10.png"
        assert p10.style_mask == shared_data / "dpst" / "segmentation" / "tar10.png"
        assert sum(p.has_masks and p.content_mask.is_file() and p.style_mask.is_file() for p in s.pairs) == 60
        assert "dpst" in available_sets()

    def test_load_first_pair(self, shared_data):
        c, s = load_pair(get_set("dpst").pairs[0], size=128)
        check_image_tensor(c, 128)
        check_image_tensor(s, 128)


class TestArtSet:
    def test_counts(self, shared_data):
        s = get_set("art")
        assert len(s.contents) == 28 and len(s.styles) == 53
        assert s.root == shared_data / "art"
        assert sum(r.path.suffix == ".png" for r in s.styles) == 1
        assert all(r.path.is_file() for r in (*s.contents, *s.styles))

    def test_style_groups(self, shared_data):
        assert len(art_styles("sb_")) == 16 == len(art_styles("stylebank"))
        assert len(art_styles("et_")) == 17 == len(art_styles("etnet"))
        assert len(art_styles("")) == 20 == len(art_styles("adain"))
        assert len(art_styles()) == 53
        assert [r.name for r in art_styles("sb")][:2] == ["sb_00", "sb_01"]
        assert len(art_contents("adain")) == 11 and len(art_contents("et_")) == 17
        with pytest.raises(DataError, match="unknown art group"):
            art_styles("xx")

    def test_pair_rule(self, shared_data):
        pairs = get_set("art").pairs
        assert len(pairs) == 11 * len(ADAIN_PAIR_STYLES) + 17 == 39
        assert len({p.name for p in pairs}) == 39
        assert pairs[0].name == "art_avril__woman_with_hat_matisse"
        assert pairs[-1].name == "art_et_venice-boat__et_style"
        assert all(p.content_mask is None for p in pairs)


class TestChecksums:
    def test_packaged_list_has_321_entries(self):
        sums = expected_sums()
        assert len(sums) == 321
        assert len(select(sums, "dpst")) == 240 and len(select(sums, "art")) == 81
        assert len(select(sums, ["art/content", "dpst/segmentation"])) == 28 + 120
        assert all(len(h) == 64 for h in sums.values())

    @needs_shared
    def test_packaged_list_equals_shared_file(self):
        assert SUMS_FILE.read_bytes() == (SHARED / "SHA256SUMS").read_bytes()

    def test_parse_formats(self):
        h = "a" * 64
        assert parse_sums(f"{h}  ./x/y.png\n{h.upper()} *z.jpg\n\n# note\n") == {"x/y.png": h, "z.jpg": h}
        with pytest.raises(DataError, match="not a sha256sum line"):
            parse_sums("abc  file\n", "list")
        with pytest.raises(DataError, match="unsafe path"):
            parse_sums(f"{h}  ../etc/passwd\n", "list")


class TestSources:
    def test_every_file_has_an_origin(self):
        assert set(SOURCES) == set(expected_sums())
        assert len(SOURCES) == 321
        assert all(u.startswith("https://raw.githubusercontent.com/") for u in SOURCES.values())

    def test_origin_rules(self):
        base = "https://raw.githubusercontent.com"
        assert origin_url("dpst/content/in7.png") == (
            f"{base}/luanfujun/deep-photo-styletransfer/master/examples/input/in7.png")
        assert origin_url("dpst/style/tar7.png").endswith("/examples/style/tar7.png")
        assert origin_url("dpst/segmentation/tar7.png").endswith("/examples/segmentation/tar7.png")
        assert origin("art/style/sb_05.jpg") == ("ichunyeh/StyleBank", "HEAD", "data/style/style/05.jpg")
        assert origin("art/content/et_sh.jpg") == ("zhijieW94/ETNet", "HEAD", "image/input/content/sh.jpg")
        assert origin("art/style/et_63_00-2.jpg")[2] == "image/input/style/63_00-2.jpg"
        assert origin("art/style/sketch.png") == ("naoto0804/pytorch-AdaIN", "master", "input/style/sketch.png")
        assert origin("art/content/lenna.jpg")[2] == "input/content/lenna.jpg"
        with pytest.raises(DataError, match="no known public origin"):
            origin("other/file.png")


# --------------------------------------------------------------------------- #
# Downloader, against a local HTTP server
# --------------------------------------------------------------------------- #

class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep pytest output clean
        pass


@pytest.fixture
def server(tmp_path):
    """Serve a small fake data tree over HTTP on 127.0.0.1 (ephemeral port)."""
    tree = tmp_path / "served"
    files = {
        "dpst/content/in1.png": b"fake content image",
        "dpst/style/tar1.png": b"fake style image",
        "art/style/sb_00.jpg": b"fake painting" * 100,
    }
    for rel, data in files.items():
        (tree / rel).parent.mkdir(parents=True, exist_ok=True)
        (tree / rel).write_bytes(data)
    sums = {rel: hashlib.sha256(data).hexdigest() for rel, data in files.items()}
    handler = functools.partial(_QuietHandler, directory=str(tree))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", tree, sums
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


def leftovers(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


class TestDownload:
    def test_downloads_verifies_and_skips(self, server, tmp_path):
        url, tree, sums = server
        dest = tmp_path / "dest"
        first = download(dest, progress=False, mirror=url, sums=sums)
        assert sorted(first.downloaded) == sorted(sums) and first.skipped == []
        for rel, digest in sums.items():
            assert hashlib.sha256((dest / rel).read_bytes()).hexdigest() == digest
        assert len(leftovers(dest)) == 3

        second = download(dest, progress=False, mirror=url, sums=sums)
        assert second.downloaded == [] and sorted(second.skipped) == sorted(sums)
        assert "0 downloaded, 3 already present" in second.summary()

    def test_replaces_a_corrupt_local_file(self, server, tmp_path):
        url, tree, sums = server
        dest = tmp_path / "dest"
        (dest / "dpst/style").mkdir(parents=True)
        (dest / "dpst/style/tar1.png").write_bytes(b"corrupt")
        res = download(dest, only="dpst", progress=False, mirror=url, sums=sums)
        assert sorted(res.downloaded) == ["dpst/content/in1.png", "dpst/style/tar1.png"]
        assert (dest / "dpst/style/tar1.png").read_bytes() == b"fake style image"
        assert not (dest / "art").exists()

    def test_wrong_hash_raises_and_leaves_nothing(self, server, tmp_path):
        url, tree, sums = server
        bad = dict(sums)
        bad["art/style/sb_00.jpg"] = "0" * 64
        dest = tmp_path / "dest"
        with pytest.raises(DataError) as info:
            download(dest, only="art", progress=False, mirror=url, sums=bad)
        msg = str(info.value)
        assert msg.startswith("art/style/sb_00.jpg: sha256 mismatch")
        assert f"expected {'0' * 64}" in msg and f"got {sums['art/style/sb_00.jpg']}" in msg
        assert "\n" not in msg
        assert not dest.exists()  # no file, no temporary file, no folder created for it

    def test_http_404_names_the_file(self, server, tmp_path):
        url, tree, sums = server
        (tree / "dpst/style/tar1.png").unlink()
        with pytest.raises(DataError) as info:
            download(tmp_path / "d", progress=False, mirror=url, sums=sums)
        msg = str(info.value)
        assert msg.startswith("dpst/style/tar1.png: cannot download") and "HTTP 404" in msg
        assert leftovers(tmp_path / "d") == ["art/style/sb_00.jpg", "dpst/content/in1.png"]

    def test_file_url_mirror_and_overrides(self, server, tmp_path):
        url, tree, sums = server
        one = {"dpst/content/in1.png": sums["dpst/content/in1.png"]}
        res = download(tmp_path / "a", progress=False, mirror=tree.as_uri(), sums=one)
        assert res.downloaded == ["dpst/content/in1.png"]
        res = download(tmp_path / "b", progress=False, sums=one,
                       urls={"dpst/content/in1.png": f"{url}/dpst/content/in1.png"})
        assert (tmp_path / "b/dpst/content/in1.png").read_bytes() == b"fake content image"

    def test_only_matching_nothing(self, tmp_path):
        with pytest.raises(DataError, match="nothing to download"):
            download(tmp_path, only="nothing/here", progress=False)


class TestDownloadCli:
    def test_error_exits_2_with_one_line(self, tmp_path, capsys, no_data):
        empty_mirror = tmp_path / "mirror"
        empty_mirror.mkdir()
        rc = download_main([str(tmp_path / "d"), "--only", "dpst/content/in1.png",
                            "--mirror", empty_mirror.as_uri(), "--quiet"])
        err = capsys.readouterr().err.strip()
        assert rc == 2
        assert err.startswith("error: dpst/content/in1.png: cannot download") and "\n" not in err
        assert not (tmp_path / "d" / "dpst").exists()

    def test_downloads_from_mirror(self, tmp_path, capsys, shared_data):
        rc = download_main([str(tmp_path / "d"), "--only", "dpst/segmentation/in1.png",
                            "--mirror", shared_data.as_uri(), "--quiet"])
        out = capsys.readouterr().out
        assert rc == 0 and "1 downloaded, 0 already present" in out
        digest = expected_sums()["dpst/segmentation/in1.png"]
        assert hashlib.sha256((tmp_path / "d/dpst/segmentation/in1.png").read_bytes()).hexdigest() == digest
