"""The reading room's two panes: each model's findings and calls, one shared Grad-CAM colour
scale, the class key C, the window presets, and the page on REAL radiographs (two NIH
ChestX-ray14 PNGs in tests/data/real-cxr, a CSV study through the `csv` dataset): the image
at its own size, both panes, maps aligned with the image, and the bad inputs (no weights,
a missing file, a huge 16-bit file)."""
from __future__ import annotations

import base64
import io
import json

import numpy as np
import pytest

from dashboard.common.imaging import window_level
from dashboard.reading_room.browse_logic import rank_table
from dashboard.reading_room.viewer_component import PRESETS
from dashboard.reading_room.viewer_panes import cycle, model_findings, scale_words, shared_scale
from tests.dashboard.component_data import component_data
from tests.dashboard.fixture_study import REAL_CXR, REAL_FILES, make_real_csv_study

PAGE = "reading_room/browse.py"


def decode(data_url: str) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(base64.b64decode(data_url.split(",", 1)[1]))))


def _open(app_test, root, study="real", **query):
    at = app_test([root], study=study, **query)
    at.run()
    at.switch_page(PAGE).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


# ------------------------------------------------------------------- pure functions
def test_model_findings_hand_worked():
    rt = rank_table(np.array([0.9, 0.2, 0.6]), np.array([0.3, 0.7, 0.5]),
                    np.array([1.0, 0.0, np.nan]), ["A", "B", "C"],
                    np.array([0.5, 0.5, np.nan]))
    dense = model_findings(rt, "dense", n=2)
    assert dense["rows"] == [["A", "P 0.90", "positive (≥ 0.50)", True],
                             ["C", "P 0.60", "no threshold", False]]
    assert dense["calls"] == "Called positive: A"
    pruned = model_findings(rt, "pruned")
    assert [r[0] for r in pruned["rows"]] == ["B", "C", "A"]
    assert pruned["rows"][0][2] == "positive (≥ 0.50)"
    assert pruned["rows"][2][2] == "negative (< 0.50)"
    assert pruned["calls"] == "Called positive: B"
    none = model_findings(rank_table(np.array([0.1, 0.2]), np.array([0.2, 0.1]),
                                     np.array([0.0, 0.0]), ["A", "B"]), "dense")
    assert none["rows"][0][2] == "" and none["calls"].startswith("No operating thresholds")


def test_shared_scale_is_one_maximum_for_both_maps():
    dense = np.array([[0.0, 2.0], [1.0, -3.0]])
    pruned = np.array([[0.5, 0.0], [4.0, 0.0]])
    a, b, top = shared_scale(dense, pruned)
    assert top == 4.0        # ReLU'd: the −3 is no evidence for the class
    np.testing.assert_allclose(a, [[0, 0.5], [0.25, 0]])
    np.testing.assert_allclose(b, [[0.125, 0], [1, 0]])
    a, b, top = shared_scale(dense, pruned * 0.5, signed=True)
    assert top == 3.0
    np.testing.assert_allclose(a, [[0, 2 / 3], [1 / 3, -1]])
    np.testing.assert_allclose(b, [[0.25 / 3, 0], [2 / 3, 0]])
    a, b, top = shared_scale(np.zeros((2, 2)), -np.ones((2, 2)))
    assert top == 0.0 and not a.any() and not b.any()
    assert "1 = 4" in scale_words(4.0, 2.0, 4.0, False)
    assert "±1 = ±3" in scale_words(3.0, 3.0, 2.0, True)
    assert "flat" in scale_words(0.0, 0.0, 0.0, False)


def test_cycle_wraps_both_ways():
    assert cycle(["a", "b", "c"], "c", 1) == "a"
    assert cycle(["a", "b", "c"], "a", -1) == "c"
    assert cycle(["a", "b", "c"], "zzz", 1) == "b"     # unknown: from the first


def test_five_presets_for_keys_one_to_five_on_a_real_radiograph():
    from PIL import Image

    assert len(PRESETS) == 5 and list(PRESETS)[0] == "default"
    img = np.asarray(Image.open(REAL_CXR / "00000001_000.png").convert("L"))
    assert img.shape == (512, 512)
    np.testing.assert_array_equal(window_level(img, *PRESETS["default"]), img)  # identity
    level, width = PRESETS["lung"]             # 85, 150: grey 10…160 → black…white
    out = window_level(img, level, width)
    # hand-worked: (v − 84.5) / 149 + 0.5, clipped, × 255, rounded down after + 0.5
    for v, want in ((0, 0), (10, 0), (85, 128), (160, 255), (255, 255)):
        ys, xs = np.nonzero(img == v)
        if len(ys):
            assert out[ys[0], xs[0]] == want, (v, out[ys[0], xs[0]])
    # on this radiograph the lung window clips the bright mediastinum and spine to white
    # and spreads the grey values inside the window by 256/150 (contrast up)
    assert (out == 255).mean() > (img == 255).mean() + 0.05
    inside = (img >= 20) & (img <= 150)
    assert inside.mean() > 0.3
    assert out[inside].std() > 1.6 * img[inside].std()


# ------------------------------------------------------------------- the page, real images
def test_csv_study_of_real_radiographs_opens_in_browse_with_both_panes(app_test, real_root):
    from dashboard.common.data import StudyData

    at = _open(app_test, real_root)
    d = StudyData(real_root / "real")
    v = component_data(at, "prunelens_viewer")
    assert v is not None, "the viewer is mounted"
    image_id = at.query_params["image"]
    image_id = image_id[0] if isinstance(image_id, list) else image_id
    row = int(np.flatnonzero(d.labels["id"].astype(str) == image_id)[0])
    name = d.labels["path"].iloc[row]
    # the file itself, at its own 512×512, not the model's 32 px input
    assert (v["image"]["w"], v["image"]["h"]) == (512, 512)
    assert "the file at 512×512" in v["image"]["caption"]
    from PIL import Image

    np.testing.assert_array_equal(decode(v["image"]["src"]),
                                  np.asarray(Image.open(REAL_CXR / name).convert("L")))
    # two panes, each with its own model's findings: the stored predictions of the ensemble
    k = d.param("pie_sparsity", 90)
    ki = d.sparsities.index(k)
    stored = [d.predictions("l1_global", s) for s in d.seeds]
    for pane, si in zip(v["panes"], (0, ki), strict=True):
        p = np.mean([x.probabilities(si, row).astype(np.float64) for x in stored], axis=0)
        top = int(np.argmax(p))
        assert pane["rows"][0][:2] == [d.classes[top], f"P {p[top]:.2f}"]
    assert v["panes"][0]["title"].startswith("dense") and "90%" in v["panes"][1]["title"]
    assert v["cam_classes"] == d.classes
    # the real label of the file shown (from the CSV through the csv dataset)
    y = d.labels.iloc[row][d.classes]
    assert y[REAL_FILES[name]] == 1


def test_gradcam_maps_on_a_real_radiograph_share_one_scale_and_align(app_test, real_root):
    from dashboard.common.data import StudyData
    from dashboard.reading_room import browse_loaders as bl

    at = _open(app_test, real_root)
    v = component_data(at, "prunelens_viewer")
    c = component_data(at, "prunelens_viewer_cams")
    assert c is not None and c["image"] == v["token"], "the maps name the image they are for"
    d = StudyData(real_root / "real")
    image_id = at.query_params["image"]
    image_id = image_id[0] if isinstance(image_id, list) else image_id
    row = int(np.flatnonzero(d.labels["id"].astype(str) == image_id)[0])
    cls = c["cls"]
    m = bl.cam_maps(d, tuple(d.seeds), "l1_global", 90, row, d.classes.index(cls))
    dense, pruned = decode(c["maps"]["dense"]), decode(c["maps"]["pruned"])
    # the maps are on the model's input grid, the browser stretches them over the image
    assert dense.shape == pruned.shape == (d.image_size, d.image_size)
    raw_d, raw_p = np.maximum(m["raw"]["dense"], 0), np.maximum(m["raw"]["pruned"], 0)
    top = max(raw_d.max(), raw_p.max())
    assert top > 0
    # ONE maximum: the larger map reaches 255, the other stays at its share of it
    assert max(dense.max(), pruned.max()) == 255
    np.testing.assert_allclose(dense / 255, raw_d / top, atol=1 / 255)
    np.testing.assert_allclose(pruned / 255, raw_p / top, atol=1 / 255)
    assert f"{top:.3g}" in c["scale"] and f"{top:.3g}" in c["legend"]["maps"][1]
    # alignment: the map is this radiograph's (Grad-CAM of the same pixels, not flipped
    # or transposed): computed again from the image decoded at the model's size, the
    # same map comes out; and upsampled onto the 512² image its peak lands in the same
    # place (the browser's bilinear stretch keeps the grid's geometry)
    from core.data.images import decode_image
    from dashboard.common import loaders

    pixels = loaders.image(d, d.key, row)
    np.testing.assert_array_equal(pixels, decode_image(REAL_CXR / d.labels["path"].iloc[row],
                                                       d.image_size))
    assert not np.allclose(raw_d, raw_d.T) and not np.allclose(raw_d, raw_d[:, ::-1])
    from PIL import Image

    up = np.asarray(Image.fromarray(dense).resize((512, 512), Image.BILINEAR))
    py, px = np.unravel_index(np.argmax(dense), dense.shape)
    uy, ux = np.unravel_index(np.argmax(up), up.shape)
    cell = 512 / d.image_size
    assert abs((py + 0.5) * cell - uy) <= cell and abs((px + 0.5) * cell - ux) <= cell


# ------------------------------------------------------------------- bad input
def test_no_gradcam_weights_two_panes_without_overlays_and_one_line_why(app_test,
                                                                        tmp_path):
    make_real_csv_study(tmp_path / "noweights", weights=False, n_images=12)
    at = _open(app_test, tmp_path, study="noweights", show="all")
    v = component_data(at, "prunelens_viewer")
    c = component_data(at, "prunelens_viewer_cams")
    assert len(v["panes"]) == 2 and v["cam_classes"] is None
    assert c["maps"] is None
    assert c["note"].startswith("Grad-CAM is not available") and "\n" not in c["note"]


def test_missing_image_file_is_one_line_naming_it_in_place_of_the_panes(app_test, tmp_path):
    import shutil

    images = tmp_path / "images"
    images.mkdir()
    shutil.copy(REAL_CXR / "00027426_000.png", images)     # the other one is missing
    make_real_csv_study(tmp_path / "missing", image_root=images, n_images=12)
    at = _open(app_test, tmp_path, study="missing", show="all", image="00000001_000#0")
    warn = [w.value.replace("\\", "") for w in at.warning if "missing on disk" in w.value]
    assert len(warn) == 1 and "\n" not in warn[0]
    assert str(images / "00000001_000.png") in warn[0]      # the file, named in full
    assert component_data(at, "prunelens_viewer") is None
    assert component_data(at, "prunelens_viewer_cams") is None
    assert at.get("bidi_component"), "the gallery is still there"
    # the image that exists opens normally
    at = _open(app_test, tmp_path, study="missing", show="all", image="00027426_000#1")
    assert component_data(at, "prunelens_viewer") is not None


def test_huge_16_bit_image_is_downsampled_with_its_native_size_stated(app_test, tmp_path):
    from PIL import Image

    images = tmp_path / "images"
    images.mkdir()
    yy, xx = np.mgrid[0:4096, 0:4096]
    big = ((yy * 7 + xx * 3) % 4096 * 4 + 1000).astype(np.uint16)   # 12 of 16 bits used
    for name in REAL_FILES:
        Image.fromarray(big).save(images / name)
    assert Image.open(images / name).mode.startswith("I;16")
    make_real_csv_study(tmp_path / "huge", image_root=images, n_images=6)
    at = _open(app_test, tmp_path, study="huge", show="all")
    v = component_data(at, "prunelens_viewer")
    assert (v["image"]["w"], v["image"]["h"]) == (2048, 2048)
    cap = v["image"]["caption"]
    assert "the file at 4096×4096" in cap and "16-bit" in cap and "2048×2048" in cap
    shown = decode(v["image"]["src"])
    assert shown.dtype == np.uint8 and shown.max() > 200 and shown.min() < 50  # its range


def test_study_without_weights_fixture_beta_mounts_panes(app_test, studies_root):
    at = _open(app_test, studies_root, study="beta")
    assert component_data(at, "prunelens_viewer")["panes"]
    assert component_data(at, "prunelens_viewer_cams")["maps"] is None


@pytest.mark.parametrize("name", list(REAL_FILES))
def test_real_radiographs_and_their_note_are_in_the_test_data(name):
    from PIL import Image

    with Image.open(REAL_CXR / name) as im:
        assert im.size == (512, 512) and im.mode == "L"
    note = (REAL_CXR / "README.md").read_text()
    assert name in note and REAL_FILES[name] in note and "ChestX-ray14" in note


def test_findings_are_plain_json():
    rt = rank_table(np.array([0.4, 0.6]), np.array([0.5, 0.5]), np.array([1.0, 0.0]),
                    ["A", "B"], np.array([0.5, 0.5]))
    # the component's data is JSON: numpy booleans or floats would not serialise
    assert json.loads(json.dumps(model_findings(rt, "dense")))["rows"][0] == \
        ["B", "P 0.60", "positive (≥ 0.50)", False]


# ------------------------------------------------------------------- image first, next ahead
def test_first_run_sends_the_image_alone_and_the_rest_once_it_is_painted(app_test, real_root):
    """A session's first run: the viewer, its maps and the 'painted' trigger, nothing of the
    gallery, words or rank table (the browser would draw those before the image). The
    trigger (set here as the browser's callback would) brings the whole room."""
    at = app_test([real_root], held=True, study="real")
    at.run()
    at.switch_page(PAGE).run()
    assert not at.exception, [e.value for e in at.exception]
    v = component_data(at, "prunelens_viewer")
    assert v is not None and v["image"]["src"].startswith("data:image/png")
    assert component_data(at, "prunelens_viewer_cams")["image"] == v["token"]
    assert component_data(at, "prunelens_viewer_ready") == {"token": v["token"]}
    assert component_data(at, "prunelens_gallery") is None
    assert component_data(at, "prunelens_viewer_ahead") is None
    assert "Gallery" not in [s.value for s in at.subheader] and not at.text_input, \
        "the gallery's filters wait"
    assert "Rank" not in json.dumps([h.proto.body for h in at.get("html")])
    at.session_state["br_full"] = True          # viewer_ready's on_ready
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert component_data(at, "prunelens_gallery") is not None
    assert component_data(at, "prunelens_viewer_ready") is None
    assert "Gallery" in [s.value for s in at.subheader]
    # the viewer's payload was sent; this run sends only its token again
    assert component_data(at, "prunelens_viewer") == {"token": v["token"], "slim": True,
                                                      "nav": v["nav"]}


def test_the_next_image_sent_ahead_is_the_one_the_server_then_shows(app_test, real_root):
    """The browser draws → from the image sent ahead and then takes the server's reply for
    the same token as drawn: the payload sent ahead must be exactly the one the next run
    makes (same token), with the maps of the class that run explains."""
    at = _open(app_test, real_root, show="all")
    v = component_data(at, "prunelens_viewer")
    ahead = component_data(at, "prunelens_viewer_ahead")["items"]
    assert len(ahead) == 1
    nxt = ahead[0]["data"]
    assert nxt["nav"]["row"] == v["nav"]["next_row"] != v["nav"]["row"]
    assert nxt["nav"]["prev_row"] == v["nav"]["row"]
    assert nxt["token"] != v["token"] and nxt["image"]["src"].startswith("data:image/png")
    assert ahead[0]["cams"]["image"] == nxt["token"] and ahead[0]["cams"]["maps"]
    # where → leads (the nav callback's effect; the key itself is tested in Chromium)
    at.session_state["br_row"] = nxt["nav"]["row"]
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    shown = component_data(at, "prunelens_viewer")
    # sent ahead already: only the token goes again, and it is the one drawn
    assert shown["token"] == nxt["token"] and shown.get("slim")
    assert shown["nav"] == nxt["nav"]
    cams = component_data(at, "prunelens_viewer_cams")
    assert cams == ahead[0]["cams"]
