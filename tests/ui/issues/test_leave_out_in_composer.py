"""The selection form can leave out a tag (e.g. ``exclude`` from the Issues tab)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from app.ui.selection.composer import StrategyComposer
from app.ui.selection.jobs import PoolInfo


def test_the_form_offers_the_tags_to_leave_out_and_its_spec_carries_the_choice(qtbot):
    composer = StrategyComposer()
    qtbot.addWidget(composer)
    composer.set_info(PoolInfo(Path("."), 10, tags=["exclude", "labelled"]))
    combo = composer.leave_out
    assert [combo.itemText(i) for i in range(combo.count())] == ["nothing", "exclude", "labelled"]
    assert composer.spec(np.empty(0, np.int64)).leave_out_tag is None
    combo.setCurrentIndex(combo.findData("exclude"))
    spec = composer.spec(np.empty(0, np.int64))
    assert spec.leave_out_tag == "exclude" and spec.exclude_tag is None
