"""Progressive indexing: rows first (pending), visible rows probed first, incremental refresh."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from PIL import Image

from app.core.data import scan
from app.core.data.scan import NOT_READ, FoundFile
from app.core.errors import TRANSIENT_REASON, JobCancelled
from app.core.ingest import indexing, listing
from app.core.ingest.indexing import IndexOptions, index_job
from app.core.ingest.priority import HEAVY_BYTES, ProbeQueue, VisibleFirst, is_heavy
from app.core.jobs import CancelToken, run_job
from app.core.store.db import ask_write_turn, connect
from app.core.store.embedding_sets import usable_sample_ids
from app.core.store.project import DB_NAME, Project
from tests.factories import gradient, make_dataset, write_clip, write_image


def list_only(project: Project) -> list:
    """Run an index until its rows are listed, then cancel it; return the progress seen."""
    cancel = CancelToken()
    seen = []
    with pytest.raises(JobCancelled):
        for progress in index_job(project, IndexOptions(workers=2), cancel):
            seen.append(progress)
            if progress.stage == "list" and progress.total is not None:
                cancel.cancel()
    return seen


def test_rows_are_listed_pending_before_any_file_is_decoded(tmp_path):
    root = make_dataset(tmp_path / "data", {"cats": 3, "dogs": 2})
    write_clip(root / "clips" / "walk.mp4", frames=6)
    with Project.for_dataset(root) as project:
        seen = list_only(project)
        assert [p.stage for p in seen] == ["list"] and seen[-1].done == seen[-1].total == 6
        rows = project.samples()
        assert len(rows) == 5  # the video's frames come with its probe
        assert {row.status for row in rows} == {"pending"}
        assert {row.reason for row in rows} == {"not indexed yet"}
        assert {row.label for row in rows} == {"cats", "dogs"}
        assert all(row.width is None for row in rows)
        assert project.pending_count() == 6 and project.summary()["pending"] == 6
        # unvalidated rows are not usable: nothing trains on, embeds or counts them
        assert project.samples(status="ok") == [] and project.sample_count("ok") == 0
        assert project.label_counts() == {} and project.broken() == []
        assert project.label_count() == 2, "the status bar counts the listed files' labels"
        assert project.summary()["samples"] == 0
        assert project.samples_without_thumbnails() == [] and len(usable_sample_ids(project)) == 0

        result = run_job(index_job(project, IndexOptions(workers=2)))
        assert result.added == 6 and result.unchanged == 0
        assert project.pending_count() == 0 and project.sample_count("ok") == 5 + 6
        assert all(row.width == 64 for row in project.samples(label="cats"))
        assert len(usable_sample_ids(project)) == 11


def test_broken_files_get_their_reason_when_probed(tmp_path):
    root = make_dataset(tmp_path / "data", {"a": 2})
    (root / "a" / "bad.png").write_text("not a png")
    (root / "b").mkdir()
    (root / "b" / "bad.jpg").write_bytes(b"")
    with Project.for_dataset(root) as project:
        list_only(project)
        assert project.broken() == [] and project.sample_count("pending") == 4
        assert project.label_count() == 2
        run_job(index_job(project))
        assert [entry["path"] for entry in project.broken()] == ["a/bad.png", "b/bad.jpg"]
        assert project.label_count() == 1, "a label of broken files only is not counted"
        assert project.sample_count("broken") == 2 and project.pending_count() == 0


def test_visible_rows_are_thumbnailed_first_and_scrolling_moves_the_priority(tmp_path):
    root = make_dataset(tmp_path / "data", {"a": 300}, size=(48, 32))
    visible = VisibleFirst()
    done_at: dict[str, int] = {}
    with Project.for_dataset(root) as project:
        wanted: dict[str, list[int]] = {}
        for progress in index_job(project, IndexOptions(workers=2, batch_size=16), None, visible):
            if progress.stage == "list" and progress.total is not None:
                ids = [row.id for row in project.samples()]
                wanted = {"bottom": ids[-40:], "middle": ids[150:180]}
                visible.prefer(wanted["bottom"])  # the user scrolled to the end at once
            if progress.stage != "index":
                continue
            thumbed = set(project.thumbs.get_many([row.id for row in project.samples()]))
            if 0 < progress.done <= 16:  # the first commit holds only wanted files
                assert thumbed and thumbed <= set(wanted["bottom"])
            if "bottom" not in done_at and set(wanted["bottom"]) <= thumbed:
                done_at["bottom"] = progress.done
                visible.prefer(wanted["middle"])  # ... then scrolled back to the middle
            elif "bottom" in done_at and set(wanted["middle"]) <= thumbed:
                done_at.setdefault("middle", progress.done)
        assert project.thumbs.count() == 300 and project.pending_count() == 0
    # in folder order the bottom rows come last (300) and the middle ones at ~180; a few files
    # in flight and the commit every 16 files make the margin
    assert done_at["bottom"] <= 40 + 8 + 16
    assert done_at["middle"] - done_at["bottom"] <= 30 + 8 + 16


def test_refresh_lists_new_files_probes_only_those_and_marks_removed_missing(tmp_path):
    root = make_dataset(tmp_path / "data", {"a": 20, "b": 20})
    with Project.for_dataset(root) as project:
        run_job(index_job(project))
        (root / "a" / "003.png").unlink()
        write_image(root / "b" / "new1.png")
        write_image(root / "c" / "new2.png")
        write_image(root / "a" / "005.png", gradient(30, 20, seed=5))
        os.utime(root / "a" / "005.png", ns=(2, 2))
        stages = []
        job = index_job(project)
        while True:
            try:
                stages.append(next(job))
            except StopIteration as stop:
                result = stop.value
                break
        listed = [p for p in stages if p.stage == "list"]
        probed = [p for p in stages if p.stage == "index"]
        assert listed[-1].done == 2  # only the new files get rows
        assert probed[-1].total == 3  # the new ones and the changed one are decoded
        assert (result.added, result.changed, result.missing, result.unchanged) == (2, 1, 1, 38)
        rows = {row.relpath: row for row in project.samples()}
        assert rows["a/003.png"].status == "missing" and rows["c/new2.png"].label == "c"
        assert (rows["a/005.png"].width, rows["a/005.png"].height) == (30, 20)
        again = run_job(index_job(project))
        assert again.unchanged == 41 and again.added == again.changed == 0


def test_an_index_runs_while_another_connection_reads_and_writes(tmp_path):
    root = make_dataset(tmp_path / "data", {"a": 120})
    with Project.for_dataset(root) as project, Project.open(root) as viewer:
        tag = viewer.create_tag("seen")
        slowest = 0.0
        for progress in index_job(project, IndexOptions(workers=2, batch_size=16)):
            rows = viewer.samples()  # the browser's reader: never blocked in WAL
            started = time.monotonic()
            viewer.add_tag(tag, [rows[0].id])
            slowest = max(slowest, time.monotonic() - started)
            assert progress.stage != "index" or len(rows) == 120
        assert viewer.sample_count("ok") == 120 and viewer.tagged(tag) == [rows[0].id]
        assert slowest < 1.0


def test_heavy_files_take_one_lane_while_light_files_remain():
    from app.core.data.scan import FoundFile

    heavy = [FoundFile(f"h{i}.png", "image", HEAVY_BYTES + 1, 0) for i in range(4)]
    light = [FoundFile(f"l{i}.jpg", "image", 1000, 0) for i in range(4)]
    big_jpeg = FoundFile("big.jpg", "image", HEAVY_BYTES * 4, 0)
    assert is_heavy(heavy[0]) and not is_heavy(big_jpeg)  # JPEGs decode reduced
    queue = ProbeQueue([*heavy, *light], workers=2)
    handed = [queue.next() for _ in range(4)]
    assert [is_heavy(item) for item in handed] == [True, False, False, False]
    queue.finished(handed[0])
    assert is_heavy(queue.next())  # its lane is free again
    assert [is_heavy(queue.next()) for _ in range(3)] == [False, True, True]  # light ran out
    assert queue.next() is None and len(queue) == 0


def test_a_big_png_is_indexed_beside_small_ones(tmp_path):
    root = make_dataset(tmp_path / "data", {"small": 30})
    (root / "big").mkdir()
    pixels = os.urandom(1200 * 1200 * 3)  # noise: a PNG that does not compress
    Image.frombytes("RGB", (1200, 1200), pixels).save(root / "big" / "x.png", compress_level=0)
    assert (root / "big" / "x.png").stat().st_size > HEAVY_BYTES
    with Project.for_dataset(root) as project:
        result = run_job(index_job(project, IndexOptions(workers=2)))
        assert result.samples == 31 and project.thumbs.count() == 31


def test_rows_another_process_listed_meanwhile_are_kept_once(tmp_path):
    from app.core.data.scan import scan_folder
    from app.core.ingest.listing import insert_pending

    root = make_dataset(tmp_path / "data", {"a": 3, "b": 3})
    raw_name = os.fsencode(root) + b"/caf\xe9/x\xff.png"
    write_image(Path(os.fsdecode(raw_name)))
    with Project.for_dataset(root) as project:
        found = list(scan_folder(root, exclude=[project.path]))
        assert insert_pending(project.db, found[:4]) == 4
        assert insert_pending(project.db, found) == 7  # the first four exist: left as they are
        rows = project.samples()
        assert len(rows) == 7 and {row.status for row in rows} == {"pending"}
        assert sorted({row.label for row in rows}) == sorted({"a", "b", os.fsdecode(b"caf\xe9")})


def test_rows_on_screen_are_probed_while_the_folder_is_still_listed(tmp_path):
    root = make_dataset(tmp_path / "data", {"a": 30, "b": 30})
    visible = VisibleFirst()
    with Project.for_dataset(root) as project:
        job = index_job(project, IndexOptions(workers=2), visible=visible)
        totals = []
        for progress in job:
            if progress.stage == "list" and progress.total is not None:  # listing not over
                ids = [row.id for row in project.samples()][-10:]
                visible.prefer(ids)
                deadline = time.monotonic() + 20
                while len(project.thumbs.get_many(ids)) < 10 and time.monotonic() < deadline:
                    time.sleep(0.02)
                assert project.pending_count() == 50  # done early, and committed
            elif progress.stage == "index" and progress.done == 0:
                totals.append(progress.total)
        assert totals == [50]  # the probe phase does not decode them again
        assert project.pending_count() == 0 and project.thumbs.count() == 60


def test_the_early_probe_waits_for_the_screen_to_settle(tmp_path, monkeypatch):
    """While the rows on screen keep changing (a fast scroll) it probes none of them, leaving
    the cores to the listing; the rows where the scrolling stops are probed next."""
    root = make_dataset(tmp_path / "data", {"a": 30, "b": 30})
    monkeypatch.setattr(indexing, "EARLY_SETTLE_S", 0.5)
    visible = VisibleFirst()
    with Project.for_dataset(root) as project:
        job = index_job(project, IndexOptions(workers=2), visible=visible)
        for progress in job:
            if progress.stage == "list" and progress.total is not None:  # listing not over
                ids = [row.id for row in project.samples()]
                scrolling_until = time.monotonic() + 1.0
                screen = 0
                while time.monotonic() < scrolling_until:
                    visible.prefer(ids[screen % 6 * 10 : screen % 6 * 10 + 10])
                    screen += 1
                    time.sleep(0.02)
                assert project.thumbs.count() == 0  # nothing probed mid-scroll
                stopped_on = ids[(screen - 1) % 6 * 10 : (screen - 1) % 6 * 10 + 10]
                deadline = time.monotonic() + 20
                while len(project.thumbs.get_many(stopped_on)) < 10 and time.monotonic() < deadline:
                    time.sleep(0.02)
                assert len(project.thumbs.get_many(stopped_on)) == 10
                assert project.thumbs.count() == 10
                break
        job.close()


def test_a_rerun_reports_while_checking_known_files_and_probes_rows_on_screen_meanwhile(
    tmp_path, monkeypatch
):
    root = make_dataset(tmp_path / "data", {"a": 30, "b": 30})
    monkeypatch.setattr(listing, "LIST_SECONDS", 0.0)
    monkeypatch.setattr(scan, "BATCH", 5)  # a report after every 5 files checked
    visible = VisibleFirst()
    with Project.for_dataset(root) as project:
        list_only(project)  # a stopped run: every row listed, none probed
        ids = [row.id for row in project.samples()][-5:]
        visible.prefer(ids)
        checking = []
        for progress in index_job(project, IndexOptions(workers=2), visible=visible):
            if progress.stage == "list" and progress.total is None:  # no new row, still told
                checking.append(progress.done)
                deadline = time.monotonic() + 20
                while len(project.thumbs.get_many(ids)) < 5 and time.monotonic() < deadline:
                    time.sleep(0.02)
                assert len(project.thumbs.get_many(ids)) == 5  # while known files are checked
        assert len(checking) >= 2 and set(checking) == {0}
        assert project.pending_count() == 0 and project.thumbs.count() == 60


def jpeg_dataset(root: Path) -> Path:
    for i in range(3):
        write_image(root / "a" / f"{i}.jpg", gradient(64, 48, seed=i), format="JPEG")
    write_image(root / "b" / "0.png", gradient(64, 48, seed=7))
    return root


def stored_stats(project: Project) -> dict[str, tuple[int, int]]:
    query = "SELECT relpath, size, mtime_ns FROM files"
    return {path: (size, mtime) for path, size, mtime in project.db.execute(query)}


def test_new_jpegs_are_listed_without_a_stat_and_get_it_when_probed(tmp_path):
    root = jpeg_dataset(tmp_path / "data")
    with Project.for_dataset(root, tmp_path / "stopped") as project:
        list_only(project)
        listed = stored_stats(project)
        assert {p for p, stats in listed.items() if stats == (NOT_READ, NOT_READ)} == {
            "a/0.jpg",
            "a/1.jpg",
            "a/2.jpg",
        }
        stat = (root / "b" / "0.png").stat()
        assert listed["b/0.png"] == (stat.st_size, stat.st_mtime_ns)  # its size picks its lane

    with Project.for_dataset(root, tmp_path / "whole") as project:
        result = run_job(index_job(project, IndexOptions(workers=2)))  # listed and probed
        assert result.added == 4 and project.pending_count() == 0
        for relpath, stats in stored_stats(project).items():
            stat = (root / relpath).stat()
            assert stats == (stat.st_size, stat.st_mtime_ns)
        again = run_job(index_job(project, IndexOptions(workers=2)))
        assert (again.added, again.changed, again.unchanged) == (0, 0, 4)


def test_a_rerun_stats_only_the_files_whose_stat_decides_if_they_changed(tmp_path, monkeypatch):
    """A known JPEG that is probed anyway (still pending after a stopped run) is found without a
    stat, as a new one; an indexed one is stated to see whether it changed."""
    root = jpeg_dataset(tmp_path / "data")
    with Project.for_dataset(root, tmp_path / "p") as project:
        run_job(index_job(project, IndexOptions(workers=2)))
        write_image(root / "a" / "3.jpg", gradient(64, 48, seed=3), format="JPEG")
        list_only(project)  # a/3.jpg listed, pending: the run stopped before probing it
        stated: list[str] = []
        real = scan._stated
        monkeypatch.setattr(
            scan,
            "_stated",
            lambda entry, relpath, *rest: stated.append(relpath) or real(entry, relpath, *rest),
        )
        list_only(project)
        assert sorted(stated) == ["a/0.jpg", "a/1.jpg", "a/2.jpg", "b/0.png"]
        assert project.pending_count() == 1
        result = run_job(index_job(project, IndexOptions(workers=2)))
        assert result.added == 1 and project.pending_count() == 0
        stat = (root / "a" / "3.jpg").stat()
        assert stored_stats(project)["a/3.jpg"] == (stat.st_size, stat.st_mtime_ns)


def test_known_files_are_read_as_each_row_says(tmp_path):
    root = jpeg_dataset(tmp_path / "data")
    with Project.for_dataset(root, tmp_path / "p") as project:
        assert listing.known_files(project) == {}
        run_job(index_job(project, IndexOptions(workers=2)))
        with project.db:
            project.db.execute("UPDATE files SET missing = 1 WHERE relpath = 'a/0.jpg'")
            project.db.execute("UPDATE files SET pending = 1 WHERE relpath = 'a/1.jpg'")
            reason = f"cannot read: {TRANSIENT_REASON}"
            project.db.execute(
                "UPDATE samples SET reason = ? WHERE file_id = "
                "(SELECT id FROM files WHERE relpath = 'a/2.jpg')",
                (reason,),
            )
        query = "SELECT relpath, id, size, mtime_ns FROM files"
        rows = {
            path: (file_id, size, mtime) for path, file_id, size, mtime in project.db.execute(query)
        }
        flags = {"a/0.jpg": (True, False, False), "a/1.jpg": (False, False, True)}
        flags["a/2.jpg"] = (False, True, False)
        expected = {
            path: listing.Known(*row, *flags.get(path, (False, False, False)))
            for path, row in rows.items()
        }
        assert listing.known_files(project) == expected
        assert listing.stat_decides(expected) == {"b/0.png"}


def test_the_probe_reads_the_stat_the_scan_left_unread(tmp_path):
    from app.core.data.scan import Unread, scan_folder

    write_image(tmp_path / "x.jpg", format="JPEG")
    unread = Unread(known=(), suffixes=frozenset({".jpg"}))
    (item,) = scan_folder(tmp_path, unread=unread)
    assert not item.stat_read
    read = indexing._probe_one(tmp_path, item, IndexOptions()).found
    stat = (tmp_path / "x.jpg").stat()
    assert (read.size, read.mtime_ns) == (stat.st_size, stat.st_mtime_ns)
    assert indexing._probe_one(tmp_path, read, IndexOptions()).found is read
    (tmp_path / "x.jpg").unlink()
    assert indexing._probe_one(tmp_path, item, IndexOptions()).found == item  # gone: says why


def test_broken_new_jpegs_get_their_stat_from_the_probe_and_are_not_probed_again(
    tmp_path, monkeypatch
):
    root = tmp_path / "data"
    write_image(root / "a" / "good.jpg", gradient(64, 48), format="JPEG")
    (root / "a" / "empty.jpg").write_bytes(b"")
    (root / "a" / "bad.jpg").write_bytes(b"\xff\xd8\xff not really a JPEG")
    with Project.for_dataset(root) as project:
        run_job(index_job(project, IndexOptions(workers=2)))
        for relpath, stats in stored_stats(project).items():
            stat = (root / relpath).stat()
            assert stats == (stat.st_size, stat.st_mtime_ns), relpath
        assert len(project.broken()) == 2
        probed: list[str] = []
        real_probe = indexing.probe_image
        monkeypatch.setattr(
            indexing, "probe_image", lambda path, *a: probed.append(path) or real_probe(path, *a)
        )
        again = run_job(index_job(project, IndexOptions(workers=2)))
        assert probed == [] and again.unchanged == 3


def test_unread_and_stated_rows_another_process_listed_meanwhile_are_kept_once(tmp_path):
    from app.core.data.scan import Unread, scan_folder
    from app.core.ingest.listing import insert_pending

    root = jpeg_dataset(tmp_path / "data")
    with Project.for_dataset(root) as project:
        unread = Unread(known=(), suffixes=frozenset({".jpg"}))
        found = list(scan_folder(root, exclude=[project.path], unread=unread))
        assert insert_pending(project.db, [found[1], found[3]]) == 2
        assert insert_pending(project.db, found) == 4  # two exist: left as they are
        rows = project.samples()
        assert sorted(row.relpath for row in rows) == ["a/0.jpg", "a/1.jpg", "a/2.jpg", "b/0.png"]
        assert {row.status for row in rows} == {"pending"}
        assert sorted(row.label for row in rows) == ["a", "a", "a", "b"]


def test_the_listing_lets_a_waiting_writer_of_its_process_in(tmp_path, monkeypatch):
    from app.core.ingest.listing import WriteTurns, _RowWriter

    monkeypatch.setattr(listing, "TURN_WAIT_S", 60.0)
    root = make_dataset(tmp_path / "data", {"a": 1})
    with Project.for_dataset(root) as project:
        db_path = project.path / DB_NAME
    first = [FoundFile(f"a/{i}.jpg", "image", 1, 1) for i in range(3)]
    second = [FoundFile(f"b/{i}.jpg", "image", 1, 1) for i in range(2)]
    turns = WriteTurns()
    writer = _RowWriter(db_path, turns)
    with turns.turn():  # another writer waits for the lock
        writer.put(first)
        writer.put(second)
        deadline = time.monotonic() + 20
        while writer.committed < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.3)
        assert writer.committed == 3, "the listing pauses while a turn is asked for"
    writer.close()
    assert writer.committed == 5


@pytest.mark.parametrize("since_last_gap_s, gaps", [(0.0, 1), (3600.0, 0)])
def test_the_listing_leaves_the_lock_free_when_another_process_asks(
    tmp_path, monkeypatch, since_last_gap_s, gaps
):
    """A writer of another process touches the turn file: the listing leaves a gap after its
    next commit, long before its regular gap is due, unless it gave one just before."""
    from app.core.ingest.listing import _RowWriter

    monkeypatch.setattr(listing, "OUTSIDE_GAP_EVERY_S", 3600.0)  # no regular gap in this test
    monkeypatch.setattr(listing, "ASKED_GAP_AFTER_S", since_last_gap_s)
    root = make_dataset(tmp_path / "data", {"a": 1})
    with Project.for_dataset(root) as project:
        db_path = project.path / DB_NAME
    writer = _RowWriter(db_path)
    writer.put([FoundFile(f"a/{i}.jpg", "image", 1, 1) for i in range(3)])
    deadline = time.monotonic() + 20
    while writer.committed < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert writer.gaps == 0
    other = connect(db_path)  # another process's connection
    ask_write_turn(other)
    other.close()
    writer.put([FoundFile(f"b/{i}.jpg", "image", 1, 1) for i in range(2)])
    writer.put([FoundFile(f"c/{i}.jpg", "image", 1, 1) for i in range(2)])
    writer.close()
    assert writer.committed == 7 and writer.gaps == gaps  # one gap for one request


@pytest.mark.parametrize("checkpoint_rows", [100, 10**9])
def test_the_wal_starts_over_while_a_big_folder_is_listed(tmp_path, monkeypatch, checkpoint_rows):
    """Checkpoints run beside the writer, which copies what came meanwhile: the WAL is reused
    from its start, so it stays near the size of a few commits (without them it holds all)."""
    root = tmp_path / "data"
    for folder in range(4):
        (root / f"f{folder}").mkdir(parents=True)
        for i in range(500):
            (root / f"f{folder}" / f"{i:04d}.jpg").write_bytes(b"")  # listed, never decoded
    monkeypatch.setattr(scan, "BATCH", 50)
    monkeypatch.setattr(listing, "FIRST_CHUNK", 50)
    monkeypatch.setattr(listing, "MAX_CHUNK", 50)  # 40 commits
    monkeypatch.setattr(listing, "CHECKPOINT_ROWS", checkpoint_rows)
    with Project.for_dataset(root) as project:
        job = listing.list_files(project, {}, False, CancelToken())
        for _ in job:
            time.sleep(0.002)  # the checkpoints' thread gets its turns
        wal = (project.path / f"{DB_NAME}-wal").stat().st_size
        assert project.sample_count() == 2000
    if checkpoint_rows == 100:
        assert wal < 1_000_000  # 0.3-0.5 MB
    else:
        assert wal > 1_500_000  # 1.9 MB (2.6 MB with the index of pending files before schema 8)
