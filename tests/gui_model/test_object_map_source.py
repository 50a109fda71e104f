"""The object map's data: points of the active object set with their objects, colours by class,
score and IoU with the ground truth, focus records and the images of a lasso."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from app.core.errors import SieveError
from app.core.store.embedding_sets import create_embedding_set, finish_embedding_set
from app.core.store.objects import object_arrays, objects_by_id
from app.gui_model.object_map import images_of, load_object_source, object_colour_data
from tests.scenes import make_scene_project, store_scenes


def test_a_predictions_set_colours_by_score_and_iou(tmp_path: Path):
    project, scenes = make_scene_project(tmp_path / "data", n_images=4, per_image=2)
    with project:
        with pytest.raises(SieveError, match="embed PROJECT --objects"):
            load_object_source(project)
        shifted = [[(label, (x + 2, y, w, h)) for label, (x, y, w, h) in s] for s in scenes]
        source_id = store_scenes(project, shifted, "predictions", kind="predictions")
        with project.db:
            project.db.execute("UPDATE objects SET score = 0.5 WHERE source_id = ?", (source_id,))
        objects = object_arrays(project, source_id)
        config = {
            "kind": "objects",
            "objects_source_id": source_id,
            "objects_source": "predictions",
        }
        embedding_set = create_embedding_set(project, config)
        vectors = np.random.default_rng(0).standard_normal((len(objects), 4)).astype(np.float32)
        finish_embedding_set(project, embedding_set, objects.ids, vectors)
        source = load_object_source(project)
        assert source.ids.tolist() == sorted(objects.ids.tolist())
        _, scores = object_colour_data(source, "score")
        np.testing.assert_allclose(scores, 0.5)
        _, iou = object_colour_data(source, "iou")
        (x, y, w, h) = scenes[0][0][1]
        assert iou[0] == pytest.approx((w - 2) * h / ((w + 2) * h))  # shifted 2 px: a lower IoU
        names, _ = object_colour_data(source, "class")
        assert names[0] == scenes[0][0][0]
        focus = source.focus(1)
        stored = objects_by_id(project, [focus.object_id])[focus.object_id]
        assert focus.sample_id == stored.sample_id and focus.box == pytest.approx(stored.box)
        assert focus.image_size == (96, 72)
        rows = np.array([0, 1, 5])
        assert images_of(source, rows).tolist() == sorted(set(source.sample_ids[rows].tolist()))
