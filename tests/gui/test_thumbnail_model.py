"""The browser's model: filters, sorting, reviews, thumbnails made lazily off the GUI thread."""

from __future__ import annotations

import numpy as np
import pytest

from marrow_desktop.core.quality import QualityMetrics
from marrow_desktop.core.results import ImageResult
from marrow_desktop.core.review import ReviewThresholds
from marrow_desktop.core.taxonomy import SHIPPED_CLASSES
from marrow_desktop.gui.thumbnails import ThumbnailLoader, make_thumbnail
from marrow_desktop.gui.widgets.thumbnail_model import UNCLASSIFIED, BrowserFilter, ThumbnailModel


def _quality(sharpness: float) -> QualityMetrics:
    return QualityMetrics(brightness=150, too_dark=False, too_bright=False, stain_ratio=0.2,
                          stain_present=True, color_type="rgb", laplacian_var=sharpness,
                          blurry=sharpness < 8, width=250, height=250)


def _result(path: str, top: str, confidence: float, sharpness: float) -> ImageResult:
    probs = np.full(len(SHIPPED_CLASSES), (1 - confidence) / (len(SHIPPED_CLASSES) - 1),
                    np.float32)
    probs[SHIPPED_CLASSES.index(top)] = confidence
    return ImageResult(path=path, content_sha256=path, classes=SHIPPED_CLASSES,
                       probabilities=probs, quality=_quality(sharpness))


@pytest.fixture
def model(qtbot):
    loader = ThumbnailLoader()
    model = ThumbnailModel(loader)
    model.set_paths(["a.jpg", "b.jpg", "c.jpg", "d.jpg", "e.jpg"])
    model.update_results([_result("a.jpg", "BLA", 0.9, 20), _result("b.jpg", "EOS", 0.4, 5),
                          _result("c.jpg", "BLA", 0.7, 30), _result("d.jpg", "LYT", 0.95, 12)])
    model.set_thresholds(ReviewThresholds(0.5, 0.2), 8.0)
    yield model
    loader.shutdown()


def _names(model) -> list[str]:
    return [model.item(r).name for r in range(model.rowCount())]


def test_filters(model):
    model.set_filter(BrowserFilter(class_code="BLA"))
    assert _names(model) == ["a.jpg", "c.jpg"]
    model.set_filter(BrowserFilter(class_code=UNCLASSIFIED))
    assert _names(model) == ["e.jpg"]
    model.set_filter(BrowserFilter(flag="low_confidence"))
    assert _names(model) == ["b.jpg"]
    model.set_filter(BrowserFilter(flag="poor_quality"))
    assert _names(model) == ["b.jpg"]  # sharpness 5 < blur threshold 8
    model.set_filter(BrowserFilter(text="D"))
    assert _names(model) == ["d.jpg"]
    model.set_filter(BrowserFilter())
    assert model.rowCount() == 5


def test_sorting_keeps_missing_values_last(model):
    model.set_sort("confidence", descending=True)
    assert _names(model) == ["d.jpg", "a.jpg", "c.jpg", "b.jpg", "e.jpg"]
    model.set_sort("confidence")
    assert _names(model) == ["b.jpg", "c.jpg", "a.jpg", "d.jpg", "e.jpg"]
    model.set_sort("sharpness", descending=True)
    assert _names(model) == ["c.jpg", "a.jpg", "d.jpg", "b.jpg", "e.jpg"]
    model.set_sort("class")
    assert _names(model) == ["a.jpg", "c.jpg", "b.jpg", "d.jpg", "e.jpg"]


def test_reviews_filter_and_effective_class(model):
    model.set_reviews({"a.jpg": "BLA", "b.jpg": "MON"})  # a confirmed, b corrected
    model.set_filter(BrowserFilter(review="confirmed"))
    assert _names(model) == ["a.jpg"]
    model.set_filter(BrowserFilter(review="corrected"))
    assert _names(model) == ["b.jpg"]
    model.set_filter(BrowserFilter(review="unreviewed"))
    assert _names(model) == ["c.jpg", "d.jpg", "e.jpg"]
    model.set_filter(BrowserFilter(class_code="MON"))  # the reviewed class counts
    assert _names(model) == ["b.jpg"]
    assert model.reviewed_count() == 2


def test_quality_only_result_keeps_the_prediction(model):
    before = model.item_for("a.jpg").predicted
    model.update_results([ImageResult(path="a.jpg", content_sha256="a.jpg", quality=_quality(3))])
    item = model.item_for("a.jpg")
    assert item.predicted == before and item.sharpness == 3


def test_thumbnails_are_made_on_request_and_cached(qtbot, sample_paths):
    loader = ThumbnailLoader(size=64)
    paths = [str(p) for p in sample_paths[:5]]
    assert loader.get(paths[0]) is None  # scheduled, not made on the GUI thread
    for p in paths[1:]:
        loader.request(p)
    qtbot.waitUntil(lambda: loader.cached() == 5, timeout=10000)
    image = loader.get(paths[0])
    assert image is not None and not image.isNull()
    assert max(image.width(), image.height()) == 64
    loader.shutdown()


def test_unreadable_file_gives_a_null_thumbnail(qtbot, tmp_path):
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"not a jpeg")
    loader = ThumbnailLoader()
    loader.request(str(bad))
    qtbot.waitUntil(lambda: loader.cached() == 1, timeout=5000)
    assert loader.get(str(bad)).isNull()
    loader.shutdown()


def test_thumbnail_is_not_transposed(tmp_path):
    from PIL import Image

    rgb = np.zeros((100, 300, 3), np.uint8)  # wide image, left third red
    rgb[:, :100, 0] = 255
    Image.fromarray(rgb).save(tmp_path / "wide.png")
    image = make_thumbnail(str(tmp_path / "wide.png"), 60)
    assert (image.width(), image.height()) == (60, 20)
    assert image.pixelColor(5, 10).red() > 200 and image.pixelColor(55, 10).red() < 50


def test_queue_counts_follow_results_reviews_and_thresholds(model):
    def brute() -> tuple[int, int]:
        needs = [i for i in model.items() if model.needs_review(i)]
        return len(needs), sum(1 for i in needs if not i.review)

    # b: 0.4 confidence and blurry; a, c: predicted blasts (always queued); d: LYT 0.95
    assert model.queue_counts() == brute() == (3, 3)
    assert model.item_for("a.jpg").reasons == ("blast",)
    model.set_reviews({"b.jpg": "EOS", "a.jpg": "BLA", "c.jpg": "BLA"})
    assert model.queue_counts() == brute() == (3, 0)
    assert model.next_in_queue() == ""
    model.set_thresholds(ReviewThresholds(0.96, 0.2), 8.0)  # d (0.95) now needs review too
    assert model.queue_counts() == brute() == (4, 1) and model.next_in_queue() == "d.jpg"
    model.update_results([_result("d.jpg", "LYT", 0.99, 30)])
    assert model.queue_counts() == brute() == (3, 0)
    model.update_results([_result("e.jpg", "MON", 0.3, 30)])
    assert model.queue_counts() == brute() == (4, 1) and model.next_in_queue() == "e.jpg"


def test_a_review_keeps_the_cell_where_it_is_in_the_review_queue_sort(model):
    model.set_sort("queue")
    before = _names(model)
    first = before[0]  # needs review, least confident first
    model.set_reviews({first: "EOS"})
    assert _names(model) == before and not model._refilter_timer.isActive()
    model.set_sort("queue", descending=True)  # the next sort puts it where it now belongs
    model.set_sort("queue")
    assert _names(model).index(first) > 0
    model.set_filter(BrowserFilter(review="unreviewed"))  # a filter on review state follows
    model.set_reviews({before[1]: "BLA"})
    assert model._refilter_timer.isActive()
