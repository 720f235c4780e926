"""Browse page maths on tiny hand-worked inputs: gallery filter/sort/walk, rank table,
movers, calls at fixed thresholds, the default Grad-CAM class, the browser encodings."""
from __future__ import annotations

import base64
import io

import numpy as np
import pandas as pd
import pytest

from dashboard.reading_room.browse_logic import (
    default_cam_class,
    explain,
    find_image,
    gallery_order,
    gallery_table,
    neighbours,
    ordinal,
    rank_table,
    ranks,
)
from dashboard.reading_room.viewer_component import cam_to_u8, png_data_url

CLASSES = ["No Finding", "Effusion", "Mass", "Hernia"]


def _labels() -> pd.DataFrame:
    y = np.array([[1, 0, 0, 0],       # row 0: no finding
                  [0, 1, 1, 0],       # row 1: 2 findings
                  [0, 1, 0, np.nan],  # row 2: 1 finding, Hernia not labelled
                  [0, 1, 1, 1],       # row 3: 3 findings
                  [0, 0, 1, 0]],      # row 4: 1 finding
                 dtype=np.float64)
    df = pd.DataFrame(y, columns=CLASSES)
    df.insert(0, "id", ["a0", "b1", "c2", "d3", "E4"])
    df["row"] = np.arange(5)
    df["quality"] = [0.9, 0.2, 0.5, 0.1, 0.7]
    df["label_noise"] = [False, True, False, False, True]
    return df


CORR = np.array([0.9, 0.1, np.nan, 0.3, 0.1])
PIE = np.array([False, True, False, True, True])


def _table():
    return gallery_table(_labels(), CLASSES, CORR, PIE, ["label_noise", "quality"])


def test_gallery_table_counts_findings_without_no_finding():
    t = _table()
    assert t["n_findings"].tolist() == [0, 2, 1, 3, 1]
    assert t["labels"].tolist()[:2] == ["No Finding", "Effusion, Mass"]
    assert {"quality", "label_noise"} <= set(t.columns)
    # columns of those names that the dataset does not declare are not ground truth
    assert not {"quality", "label_noise"} & set(gallery_table(_labels(), CLASSES, CORR, PIE))


def test_gallery_order_filters_and_sorts_stably():
    t, lab = _table(), _labels()
    # PIEs by correlation: rows 1 and 4 tie at 0.1 → row order; then 3
    assert gallery_order(t, which="pies").tolist() == [1, 4, 3]
    # all images: NaN correlation last
    assert gallery_order(t, which="all").tolist() == [1, 4, 3, 0, 2]
    assert gallery_order(t, which="all", sort="corr_desc").tolist() == [0, 3, 1, 4, 2]
    assert gallery_order(t, which="nonpies").tolist() == [0, 2]
    assert gallery_order(t, which="all", disease="Effusion", labels=lab).tolist() == [1, 3, 2]
    assert gallery_order(t, which="all", findings="1").tolist() == [4, 2]
    assert gallery_order(t, which="all", findings="0").tolist() == [0]
    assert gallery_order(t, which="pies", findings="4+").tolist() == []
    assert gallery_order(t, which="all", sort="findings").tolist() == [3, 1, 4, 2, 0]
    assert gallery_order(t, which="all", sort="quality").tolist() == [3, 1, 2, 4, 0]
    assert gallery_order(t, which="all", sort="noise").tolist() == [1, 4, 3, 0, 2]
    with pytest.raises(ValueError):
        gallery_order(t, which="nonsense")
    with pytest.raises(ValueError):
        gallery_order(t.drop(columns="quality"), sort="quality")


def test_neighbours_walk_the_order_and_search_starts_at_the_first():
    order = np.array([1, 4, 3])
    assert neighbours(order, 1) == (0, None, 4)
    assert neighbours(order, 4) == (1, 1, 3)
    assert neighbours(order, 3) == (2, 4, None)
    assert neighbours(order, 0) == (None, None, 1)      # reached by search
    assert neighbours(np.array([], dtype=int), 0) == (None, None, None)


def test_find_image_exact_then_case_insensitive():
    lab = _labels()
    assert find_image(lab, "c2") == 2
    assert find_image(lab, " e4 ") == 4
    assert find_image(lab, "zz") is None
    assert find_image(lab, "") is None


def test_ranks_and_rank_table_hand_worked():
    assert ranks([0.2, 0.9, 0.5, 0.5]).tolist() == [4, 1, 2, 3]
    dense = np.array([0.10, 0.80, 0.60, 0.05])
    pruned = np.array([0.70, 0.30, 0.50, 0.04])
    y = np.array([0, 1, np.nan, 0])
    thr = np.array([0.5, 0.5, 0.55, np.nan])
    rt = rank_table(dense, pruned, y, CLASSES, thr, n_movers=2)
    # dense order: Effusion 1, Mass 2, No Finding 3, Hernia 4
    assert rt["class"].tolist() == ["Effusion", "Mass", "No Finding", "Hernia"]
    assert rt["pruned_rank"].tolist() == [3, 2, 1, 4]
    assert rt["rank_change"].tolist() == [-2, 0, 2, 0]
    assert rt["label"].tolist() == ["positive", "not labelled", "negative", "negative"]
    # dense calls Effusion (0.8 ≥ 0.5) and Mass (0.6 ≥ 0.55); pruned calls No Finding and
    # not Effusion (0.3) nor Mass (0.5 < 0.55); Hernia has no threshold → no call
    assert rt["dense_call"].tolist()[:3] == [True, True, False]
    assert rt["pruned_call"].tolist()[:3] == [False, False, True]
    assert pd.isna(rt["dense_call"].iloc[3])
    # movers: the two largest |rank change| and every changed call (Mass: 0 places, but lost)
    assert rt["mover"].tolist() == [True, True, True, False]
    words = explain(rt, 0.1, True, 0.2, 90, "l1_global", 5.0, 100, "youden")
    text = " ".join(words)
    assert "is a PIE" in text and "0.100" in text
    assert "Effusion fell from 1st to 3rd" in text and "No Finding rose from 3rd to 1st" in text
    assert "drops Effusion, Mass and adds No Finding" in text
    assert "youden rule" in text


def test_rank_table_without_thresholds_has_no_calls():
    rt = rank_table([0.3, 0.2, 0.1, 0.0], [0.3, 0.2, 0.1, 0.0], [0, 0, 0, 0], CLASSES)
    assert "dense_call" not in rt and not rt["mover"].any()
    text = " ".join(explain(rt, 1.0, False, 0.2, 90, "random", 5.0, 100, None))
    assert "not a PIE" in text and "No class changed rank" in text
    assert "threshold" not in text


def test_default_cam_class_is_the_positive_that_changed_most():
    dense = np.array([0.1, 0.8, 0.6, 0.05])
    pruned = np.array([0.9, 0.7, 0.1, 0.05])
    assert default_cam_class(dense, pruned, [0, 1, 1, 0], CLASSES) == "Mass"
    # none positive: the dense model's top class (not No Finding's larger change)
    assert default_cam_class(dense, pruned, [0, 0, 0, np.nan], CLASSES) == "Effusion"


def test_ordinals():
    assert [ordinal(n) for n in (1, 2, 3, 4, 11, 12, 13, 21, 22, 101)] == \
        ["1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "101st"]


def test_browser_encodings_round_trip():
    from PIL import Image

    img = (np.arange(64 * 48) % 256).astype(np.uint8).reshape(48, 64)
    url = png_data_url(img)
    assert url.startswith("data:image/png;base64,")
    back = np.asarray(Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))))
    assert np.array_equal(back, img)
    assert cam_to_u8(np.array([0.0, 0.5, 1.0, 2.0])).tolist() == [0, 128, 255, 255]
    # signed: 128 = 0, ±1 → 255 / 1 (the browser reads |m − 128| / 127)
    assert cam_to_u8(np.array([-1.0, 0.0, 1.0, np.nan]), signed=True).tolist() == \
        [1, 128, 255, 128]


def test_rank_html_shows_the_hand_worked_table_literally():
    from dashboard.reading_room.browse_text import rank_html
    from tests.dashboard.htmltable import parse

    hostile = ["<img src=http://evil.example/x.png>", "Mass", '"quoted" & <b>', "Hernia"]
    dense = np.array([0.10, 0.80, 0.60, 0.05])
    pruned = np.array([0.70, 0.30, 0.50, 0.04])
    y = np.array([0, 1, np.nan, 0])
    thr = np.array([0.5, 0.5, 0.55, np.nan])
    rt = rank_table(dense, pruned, y, hostile, thr, n_movers=2)
    page = parse(rank_html(rt, 90, True))
    assert page.tags <= {"style", "div", "table", "thead", "tbody", "tr", "th", "td"}
    (t,) = page.tables
    assert t["head"] == ["finding", "dense #", "dense P", "90% #", "90% P", "moved",
                         "dense call", "90% call", "threshold"]
    # dense order as in test_ranks_and_rank_table_hand_worked; names shown as typed
    assert t["rows"] == [
        ["● Mass", "1", "0.80", "3", "0.30", "▼ 2", "positive", "", "0.50"],
        ['? "quoted" & <b>', "2", "0.60", "2", "0.50", "–", "positive", "", "0.55"],
        ["<img src=http://evil.example/x.png>", "3", "0.10", "1", "0.70", "▲ 2", "",
         "positive", "0.50"],
        ["Hernia", "4", "0.05", "4", "0.04", "–", "—", "—", "—"],
    ]
    assert t["row_classes"] == ["mv", "mv", "mv", ""]       # the movers are highlighted
    # the bars behind the probabilities are as long as the probabilities
    assert "--p: 80.0%" in rank_html(rt, 90, True)
    # without thresholds: no call columns
    (t,) = parse(rank_html(rank_table(dense, pruned, y, hostile), 90, False)).tables
    assert "dense call" not in t["head"] and len(t["rows"]) == 4
