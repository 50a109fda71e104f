"""The sample table: numpy columns read from a real indexed project."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from app.core.data.scan import NOT_READ, FoundFile
from app.core.data.video import frame_name
from app.core.ingest.indexing import index_job
from app.core.ingest.listing import insert_pending
from app.core.jobs import run_job
from app.core.store import catalog, folders
from app.core.store.catalog import (
    SampleTable,
    in_path_order,
    load_more,
    load_table,
    saved_selections,
    score_keys,
    scores,
    tag_members,
)
from app.core.store.db import read_snapshot
from app.core.store.project import DB_NAME, Project
from tests.factories import make_dataset, write_clip, write_image


@pytest.fixture
def project(tmp_path: Path) -> Project:
    root = make_dataset(tmp_path / "data", {"cats": 3, "dogs": 2})
    write_clip(root / "clips" / "walk.mp4", frames=12)
    (root / "dogs" / "bad.png").write_bytes(b"not a png")
    (root / "top.png").write_bytes((root / "cats" / "000.png").read_bytes())
    project = Project.for_dataset(root)
    run_job(index_job(project))
    yield project
    project.close()


def test_table_matches_project_samples(project: Project) -> None:
    table = load_table(project)
    rows = project.samples()
    assert len(table) == len(rows) == 3 + 3 + 12 + 1
    assert table.ids.tolist() == [row.id for row in rows]
    assert [table.name(i) for i in range(len(table))] == [row.name for row in rows]
    assert table.ids.dtype == np.int64 and table.file_index.dtype == np.int32
    assert table.labels == ["cats", "clips", "dogs"]
    labels = [table.labels[c] if c >= 0 else None for c in table.label_code]
    assert labels == [row.label for row in rows]
    assert table.broken.tolist() == [row.status == "broken" for row in rows]
    assert table.width.tolist() == [row.width or 0 for row in rows]


def test_video_frames_share_their_file(project: Project) -> None:
    table = load_table(project)
    frames = np.flatnonzero(table.frame >= 0)
    assert len(frames) == 12
    assert len(set(table.file_index[frames].tolist())) == 1
    assert table.relpaths[table.file_index[frames[0]]] == "clips/walk.mp4"
    assert table.n_frames[frames].tolist() == [12] * 12
    assert (
        table.name(int(frames[7])) == frame_name("clips/walk.mp4", 7, 12) == "clips/walk-07-mp4.png"
    )
    assert len(table.relpaths) == 3 + 3 + 1 + 1


def test_broken_reason_and_folders(project: Project) -> None:
    table = load_table(project)
    (bad,) = np.flatnonzero(table.broken)
    assert table.name(int(bad)) == "dogs/bad.png"
    assert table.reason[int(table.ids[bad])]
    assert table.folders == ["", "cats", "clips", "dogs"]
    top = [i for i in range(len(table)) if table.name(i) == "top.png"][0]
    assert table.folder_of(top) == "" and table.label_code[top] == -1
    assert table.folder_of(0) == "cats"


def test_row_of_maps_ids_and_unknowns(project: Project) -> None:
    table = load_table(project)
    shuffled = np.random.default_rng(1).permutation(len(table))
    assert table.row_of(table.ids[shuffled]).tolist() == shuffled.tolist()
    assert table.row_of(np.array([10_000, -5])).tolist() == [-1, -1]


def test_tags_selections_and_scores(project: Project) -> None:
    table = load_table(project)
    keep = project.create_tag("keep")
    empty = project.create_tag("empty")
    project.add_tag(keep, table.ids[[5, 1, 3]].tolist())
    members = tag_members(project)
    assert members[keep].tolist() == sorted(table.ids[[1, 3, 5]].tolist())
    assert members[empty].tolist() == []
    with project.db:
        project.db.execute("INSERT INTO selections(id, name) VALUES (1, 'picked')")
        project.db.executemany(
            "INSERT INTO selection_members VALUES (1, ?, ?, NULL)",
            [(0, int(table.ids[4])), (1, int(table.ids[2]))],
        )
        project.db.executemany(
            "INSERT INTO metadata VALUES (?, ?, ?)",
            [
                (int(table.ids[0]), "sharp", 0.5),
                (int(table.ids[2]), "sharp", 2),
                (int(table.ids[3]), "sharp", "n/a"),
                (int(table.ids[0]), "note", "hello"),
            ],
        )
    assert saved_selections(project)["picked"].tolist() == sorted(table.ids[[2, 4]].tolist())
    assert score_keys(project) == ["sharp"]
    values = scores(project, "sharp", table)
    assert values[0] == 0.5 and values[2] == 2.0
    assert np.isnan(values[1]) and np.isnan(values[3])
    assert scores(project, "missing", table) is None


def test_empty_project(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    with Project.for_dataset(tmp_path / "data") as project:
        table = load_table(project)
        assert len(table) == 0 and table.row_of(np.array([1])).tolist() == [-1]
        assert tag_members(project) == {} and score_keys(project) == []


def test_samples_of_missing_files_are_shown_but_not_usable(project: Project) -> None:
    root = project.dataset_root
    (root / "cats" / "001.png").unlink()
    (root / "dogs" / "bad.png").unlink()
    (root / "clips" / "walk.mp4").unlink()
    run_job(index_job(project))
    table = load_table(project)
    assert len(table) == 19
    missing = {table.name(int(row)) for row in np.flatnonzero(table.missing)}
    assert missing == {"cats/001.png", "dogs/bad.png"} | {
        frame_name("clips/walk.mp4", i, 12) for i in range(12)
    }
    assert not table.broken.any() and table.reason == {}
    assert table.unusable.tolist() == table.missing.tolist()
    assert table.missing.tolist() == [row.status == "missing" for row in project.samples()]


def test_the_table_is_read_from_one_snapshot_while_rows_are_added(project: Project) -> None:
    """A file and sample committed between the table's queries (an index listing rows) must not
    reach the table half-way: its sample would point past the files read."""
    writer = Project.open(project.path)
    before = len(load_table(project))
    added: list[int] = []

    def add_a_row_between_queries(statement: str) -> None:
        if "n_frames IS NOT NULL" in statement and not added:
            with writer.db:
                cursor = writer.db.execute(
                    "INSERT INTO files(relpath, kind, size, mtime_ns, status, pending) "
                    "VALUES ('zz/new.png', 'image', 1, 1, 'ok', 1)"
                )
                writer.db.execute(
                    "INSERT INTO samples(file_id, status) VALUES (?, 'ok')", (cursor.lastrowid,)
                )
            added.append(1)

    project.db.set_trace_callback(add_a_row_between_queries)
    try:
        table = load_table(project)
    finally:
        project.db.set_trace_callback(None)
        writer.close()
    assert added and len(table) == before
    assert len(load_table(project)) == before + 1


def test_long_lists_are_parsed_in_pieces_with_the_same_result() -> None:
    from app.core.store.catalog import PIECE_CHARS, _pieces, parse_ints, split_paths

    numbers = ",".join(str(i) for i in range(400_000))  # ~2.7 MB: several pieces
    assert len(_pieces(numbers, ",")) > 1 and len(numbers) > 2 * PIECE_CHARS
    assert parse_ints(numbers).tolist() == list(range(400_000))
    assert parse_ints("7").tolist() == [7] and len(parse_ints("")) == 0
    names = "\x00".join(f"class{i % 7}/img{i}.jpg" for i in range(150_000))
    assert split_paths(names.encode(), "\x00") == names.split("\x00")
    assert split_paths(b"one", "\x00") == ["one"]


def _between_snapshots(project: Project, change) -> SampleTable:
    """``load_table`` with ``change(writer)`` committed after the samples' snapshot is pinned
    and before the main connection's (its BEGIN)."""
    writer = Project.open(project.path)
    done: list[int] = []

    def hook(statement: str) -> None:
        if statement == "BEGIN" and not done:
            with writer.db:
                change(writer.db)
            done.append(1)

    project.db.set_trace_callback(hook)
    try:
        return load_table(project)
    finally:
        project.db.set_trace_callback(None)
        writer.close()


def test_a_sample_added_between_the_two_snapshots_stays_out_and_labels_nothing(
    project: Project,
) -> None:
    before = load_table(project)

    def add(db) -> None:
        cursor = db.execute(
            "INSERT INTO files(relpath, kind, size, mtime_ns, status) "
            "VALUES ('zzz/new.png', 'image', 1, 1, 'ok')"
        )
        db.execute(
            "INSERT INTO samples(file_id, label, status) VALUES (?, 'zzz', 'ok')",
            (cursor.lastrowid,),
        )

    table = _between_snapshots(project, add)
    assert len(table) == len(before)
    assert table.label_code.tolist() == before.label_code.tolist()  # no row took 'zzz'
    assert len(load_table(project)) == len(before) + 1


def test_a_file_removed_between_the_two_snapshots_is_read_again_in_one(
    project: Project,
) -> None:
    before = load_table(project)
    gone = before.relpaths[before.file_index[0]]
    table = _between_snapshots(
        project, lambda db: db.execute("DELETE FROM files WHERE relpath = ?", (gone,))
    )
    assert len(table) == len(before) - 1 and gone not in table.relpaths


@pytest.mark.parametrize("first_files", [1, 4, 5, 7, 8, 100])
def test_the_first_files_read_alone_are_the_start_of_the_whole_table(
    project: Project, first_files: int
) -> None:
    full = load_table(project)
    head = load_table(project, first_files)
    rows = len(head)
    assert head.relpaths == full.relpaths[:first_files]
    assert head.file_ids.tolist() == full.file_ids[:first_files].tolist()
    assert head.ids.tolist() == full.ids[:rows].tolist()
    assert rows == len(full) or full.file_index[rows] == first_files  # whole files, in order
    assert [head.name(i) for i in range(rows)] == [full.name(i) for i in range(rows)]
    assert head.n_frames.tolist() == full.n_frames[:rows].tolist()
    assert head.broken.tolist() == full.broken[:rows].tolist()
    labels = [head.labels[c] if c >= 0 else None for c in head.label_code]
    assert labels == [full.labels[c] if c >= 0 else None for c in full.label_code[:rows]]


def listed_project(tmp_path: Path, names: list[str]) -> Project:
    """A project whose folder holds ``names`` (not listed yet)."""
    root = tmp_path / "data"
    for name in names:
        write_image(root / name)
    return Project.for_dataset(root, tmp_path / "project")


def list_now(project: Project, names: list[str]) -> None:
    insert_pending(project.db, [FoundFile(name, "image", NOT_READ, NOT_READ) for name in names])


def same_tables(a: SampleTable, b: SampleTable) -> None:
    assert a.ids.tolist() == b.ids.tolist() and a.relpaths == b.relpaths
    assert a.file_ids.tolist() == b.file_ids.tolist()
    assert a.file_index.tolist() == b.file_index.tolist() and a.labels == b.labels
    assert a.label_code.tolist() == b.label_code.tolist()
    assert a.broken.tolist() == b.broken.tolist() and a.missing.tolist() == b.missing.tolist()
    assert a.frame.tolist() == b.frame.tolist() and a.n_frames.tolist() == b.n_frames.tolist()
    assert a.width.tolist() == b.width.tolist() and a.height.tolist() == b.height.tolist()


def test_files_listed_after_the_shown_ones_are_read_alone_and_appended(tmp_path: Path) -> None:
    first, then = ["b/0.jpg", "b/1.jpg", "m/0.jpg"], ["m/1.jpg", "q/0.jpg", "z.jpg"]
    with listed_project(tmp_path, first + then) as project:
        list_now(project, first)
        table = load_table(project)
        assert load_more(project, table) is table  # nothing new
        list_now(project, then)
        project.db.execute("UPDATE samples SET width = 64, height = 48 WHERE file_id = 6")
        project.db.execute("UPDATE samples SET status = 'broken', reason = 'bad' WHERE id = 1")
        project.db.commit()
        more = load_more(project, table)
        assert more is not None and more is not table and len(table) == 3
        same_tables(more, load_table(project))
        assert more.labels == ["b", "m", "q"] and more.broken.tolist()[0]


@pytest.mark.parametrize("piece", [2, 100_000])
def test_a_reread_of_unchanged_paths_shares_them_with_the_table_before(
    tmp_path: Path, piece: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A whole read while an index decodes (sizes and flags changed, paths not) takes the paths
    and folders of the table it replaces, also one grown by appending reads (its paths read in
    other pieces): none decoded again, none freed with the old table."""
    monkeypatch.setattr(catalog, "READ_PIECE_ROWS", piece)
    first, then = ["b/0.jpg", "b/1.jpg", "m/0.jpg"], ["m/1.jpg", "q/0.jpg", "z.jpg"]
    with listed_project(tmp_path, first + then) as project:
        list_now(project, first)
        table = load_table(project)
        list_now(project, then)
        grown = load_more(project, table)
        project.db.execute("UPDATE samples SET width = 64, height = 48 WHERE file_id = 2")
        project.db.execute("UPDATE files SET pending = 0 WHERE id = 2")
        project.db.commit()
        for before in (grown, load_table(project)):
            again = load_table(project, like=before)
            assert again.relpaths is before.relpaths and again._folders is before._folders
            same_tables(again, load_table(project))
            assert again.width.tolist() == [0, 64, 0, 0, 0, 0]
            assert again.file_pending.tolist() == [True, False, True, True, True, True]
        assert load_table(project, like=table).relpaths is not table.relpaths  # 3 of 6 paths


def test_a_reread_of_changed_paths_decodes_them_again(tmp_path: Path) -> None:
    names = ["b/0.jpg", "b/1.jpg", "m/0.jpg"]
    with listed_project(tmp_path, names) as project:
        list_now(project, names)
        before = load_table(project)
        project.db.execute("UPDATE files SET relpath = 'b/2.jpg' WHERE relpath = 'b/1.jpg'")
        project.db.commit()  # as many paths, as long, one byte differs
        again = load_table(project, like=before)
        assert again.relpaths is not before.relpaths
        assert again.relpaths == ["b/0.jpg", "b/2.jpg", "m/0.jpg"]
        same_tables(again, load_table(project))
        project.db.execute("UPDATE files SET relpath = 'c/1.jpg' WHERE relpath = 'b/2.jpg'")
        project.db.commit()  # another folder: the folders and labels are made again
        again = load_table(project, like=again)
        assert again.labels == ["b", "c", "m"]
        same_tables(again, load_table(project))


@pytest.mark.parametrize("piece", [1, 2, 3])
def test_a_whole_read_in_pieces_is_the_read_in_one(
    project: Project, piece: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    whole = load_table(project)
    monkeypatch.setattr(catalog, "READ_PIECE_ROWS", piece)
    same_tables(load_table(project), whole)
    assert load_table(project).file_pending.tolist() == whole.file_pending.tolist()


def test_paths_are_read_in_pieces_after_any_path_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each piece starts after the last path of the one before, compared as SQLite compares
    them (bytes): accented and stray bytes (kept as surrogate escapes) included."""
    names = [
        "a/0.jpg",
        "a b/1.jpg",
        "é/1.jpg",
        "é/2.jpg",
        "z\udcff/0.jpg",
        "z\udcff/1.jpg",
        "\uffff.jpg",
    ]
    with listed_project(tmp_path, names) as project:
        list_now(project, names)
        whole = load_table(project)
        assert whole.relpaths == sorted(names, key=folders.path_key)
        for piece in (1, 2, 4):
            monkeypatch.setattr(catalog, "READ_PIECE_ROWS", piece)
            same_tables(load_table(project), whole)


def test_joined_pieces_are_the_join_cut_evenly_however_the_texts_were_cut() -> None:
    for texts in ([b"ab", b"c", b"defgh"], [b"ab\x00c\x00defgh"], [b"ab\x00c", b"defgh"]):
        pieces = list(catalog._joined_pieces(texts, 3))
        assert b"".join(pieces) == b"\x00".join(texts) == b"ab\x00c\x00defgh"
        assert [len(p) for p in pieces] == [3, 3, 3, 1]


def test_each_files_pending_flag_is_read_with_its_path(tmp_path: Path) -> None:
    first, then = ["b/0.jpg", "b/1.jpg", "m/0.jpg"], ["m/1.jpg", "q/0.jpg", "z.jpg"]
    with listed_project(tmp_path, first + then) as project:
        list_now(project, first)
        project.db.execute("UPDATE files SET pending = 0 WHERE relpath = 'b/1.jpg'")  # decoded
        project.db.commit()
        table = load_table(project)
        list_now(project, then)
        project.db.execute("UPDATE files SET pending = 0 WHERE relpath IN ('b/0.jpg', 'q/0.jpg')")
        project.db.commit()
        flags = dict(project.db.execute("SELECT relpath, pending <> 0 FROM files").fetchall())
        for read in (load_table(project), load_table(project, 2)):
            assert read.file_pending.tolist() == [bool(flags[path]) for path in read.relpaths]
        more = load_more(project, table)
        shown = [True, False, True]  # as of the shown table's read: b/0.jpg decoded since
        assert more.file_pending.tolist() == shown + [bool(flags[path]) for path in then]


def test_pending_flags_of_another_count_are_refused() -> None:
    assert catalog.parse_flags(b"0110", 4).tolist() == [False, True, True, False]
    assert catalog.parse_flags(None, 0).tolist() == []
    with pytest.raises(ValueError, match="3 pending flags read for 4 files"):
        catalog.parse_flags(b"011", 4)


def test_files_added_out_of_browsing_order_are_appended_in_browsing_order(
    tmp_path: Path,
) -> None:
    """Appended files are read in the order they were listed (a scan's, no sort), unless that
    is not browsing order: then they are read sorted."""
    first, then = ["a/0.jpg"], ["c/0.jpg", "b/1.jpg", "b/0.jpg"]
    with listed_project(tmp_path, first + then) as project:
        list_now(project, first)
        table = load_table(project)
        list_now(project, then)  # ids in the order c, b/1, b/0
        more = load_more(project, table)
        assert more is not None and more.relpaths == ["a/0.jpg", "b/0.jpg", "b/1.jpg", "c/0.jpg"]
        same_tables(more, load_table(project))


def test_path_order_is_sqlites_byte_order() -> None:
    assert in_path_order(["a b.jpg", "a-c/1.jpg", "a/1.jpg", "z\udcff.jpg", "é/1.jpg"])
    assert not in_path_order(["a/1.jpg", "a b.jpg"])
    assert in_path_order(["\uffff.jpg", "\udcff.jpg"])  # bytes EF BF BF, then a stray FF
    assert not in_path_order(["\udcff.jpg", "\uffff.jpg"])


def test_files_listed_among_the_shown_ones_need_a_whole_read(tmp_path: Path) -> None:
    with listed_project(tmp_path, ["a/0.jpg", "c/0.jpg", "b/0.jpg"]) as project:
        list_now(project, ["a/0.jpg", "c/0.jpg"])
        table = load_table(project)
        list_now(project, ["b/0.jpg"])
        assert load_more(project, table) is None


def test_files_listed_between_a_reads_two_snapshots_come_with_the_next_read(
    tmp_path: Path,
) -> None:
    first, then = ["a/0.jpg", "a/1.jpg"], ["b/0.jpg", "b/1.jpg"]
    with listed_project(tmp_path, first + then) as project:
        list_now(project, first)
        queries = catalog._queries()
        samples = catalog._SnapshotRead(project.path / DB_NAME, queries)  # pinned
        list_now(project, then)  # committed after the samples' snapshot, before the files'
        with read_snapshot(project.db):
            table = catalog._load_table(project, samples, queries)
        assert table.relpaths == first and len(table) == 2  # no file without its samples
        more = load_more(project, table)
        assert more is not None
        same_tables(more, load_table(project))
        assert len(more) == 4


def test_paths_are_decoded_a_piece_at_a_time_as_one_decode_would(monkeypatch) -> None:
    monkeypatch.setattr(catalog, "PIECE_CHARS", 8)
    names = ["a/1.jpg", "café/2.jpg", "raw\udcff\udcfe.jpg", "z/3.jpg", "é" * 9]
    data = "\x00".join(names).encode("utf-8", "surrogateescape")
    assert catalog.split_paths(data, "\x00") == names
    assert catalog.split_paths(b"", "\x00") == [""]


def test_an_added_read_takes_the_new_files_samples_alone_and_labels_them_from_their_paths(
    tmp_path: Path, monkeypatch
) -> None:
    """The new files' samples are read by id from the first of them on: a sample added later to
    a shown file (a video's frame) is left out. Labels are the first folders of the paths
    (checked in order a piece at a time), whatever the label column says."""
    monkeypatch.setattr(folders, "ORDER_PIECE", 2)
    first, then = ["a/0.jpg"], ["b/0.jpg", "b/1.jpg", "c/0.jpg", "d.jpg"]
    with listed_project(tmp_path, first + then) as project:
        list_now(project, first)
        table = load_table(project)
        list_now(project, then)
        project.db.execute(
            "INSERT INTO samples(file_id, frame, label, status) VALUES (1, 0, 'late', 'ok')"
        )
        project.db.execute("UPDATE samples SET label = 'other' WHERE file_id = 3")
        project.db.commit()
        more = load_more(project, table)
        assert more is not None and more.relpaths == first + then
        assert more.labels == ["a", "b", "c"]
        named = [more.labels[code] if code >= 0 else None for code in more.label_code]
        assert named == ["a", "b", "b", "c", None]
