"""The project store: real SQLite, migrations, tags, runs, atomic arrays, read-only datasets."""

from __future__ import annotations

import os
import sqlite3
import tempfile
from pathlib import Path

import numpy as np
import pytest

from app.core.errors import SieveError
from app.core.store.db import connect, raw
from app.core.store.project import DB_NAME, Project
from app.core.store.schema import MIGRATIONS, SCHEMA_VERSION, migrate
from app.core.store.stats import read_stats
from app.core.store.thumbs import ThumbCache, ThumbReader
from tests.factories import make_dataset


def test_create_open_and_wal(tmp_path):
    data = make_dataset(tmp_path / "data", {"a": 1})
    with Project.for_dataset(data) as project:
        assert project.path == data / ".sieve"
        assert project.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert project.db.execute("PRAGMA busy_timeout").fetchone()[0] >= 5000
    with Project.open(data) as project:
        assert project.dataset_root == data.resolve()
    with Project.open(data / ".sieve") as project:
        assert project.dataset_root == data.resolve()


def test_project_inside_dataset_survives_moving_the_dataset(tmp_path):
    data = make_dataset(tmp_path / "data", {"a": 1})
    Project.for_dataset(data).close()
    moved = tmp_path / "moved"
    data.rename(moved)
    with Project.open(moved) as project:
        assert project.dataset_root == moved.resolve()


def test_external_project_folder(tmp_path):
    data = make_dataset(tmp_path / "data", {"a": 1})
    with Project.for_dataset(data, tmp_path / "elsewhere") as project:
        assert project.dataset_root == data.resolve()
    assert not (data / ".sieve").exists()
    with pytest.raises(SieveError, match="another dataset"):
        Project.for_dataset(make_dataset(tmp_path / "other", {"b": 1}), tmp_path / "elsewhere")


def test_open_missing_project_is_a_clear_error(tmp_path):
    with pytest.raises(SieveError, match="sieve index"):
        Project.open(tmp_path)


def test_migrations_from_empty_and_newer_schema_refused(tmp_path):
    conn = sqlite3.connect(tmp_path / "x.sqlite")
    assert migrate(conn) == 0
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert migrate(conn) == SCHEMA_VERSION
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"samples", "files", "tags", "sample_tags", "selections", "runs", "metadata"} <= tables
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(SieveError, match="newer Sieve"):
        migrate(conn)


def test_tags_and_runs(tmp_path):
    data = make_dataset(tmp_path / "data", {"a": 1})
    with Project.for_dataset(data) as project:
        with project.db:
            project.db.execute(
                "INSERT INTO files(relpath, kind, size, mtime_ns, status) "
                "VALUES ('a/0.png', 'image', 1, 1, 'ok')"
            )
            project.db.execute("INSERT INTO samples(file_id, status) VALUES (1, 'ok')")
        tag = project.create_tag("keep", "#ff0000")
        with pytest.raises(SieveError, match="exists"):
            project.create_tag("keep")
        project.add_tag(tag, [1])
        assert project.tags_of(1) == ["keep"] and project.tags()[0].count == 1
        project.rename_tag(tag, "good")
        assert project.tagged(project.tag_id("good")) == [1]
        project.remove_tag(tag, [1])
        assert project.tagged(tag) == []
        project.delete_tag(tag)
        assert project.tags() == []
        run = project.add_run("train", {"method": "simclr"})
        project.update_run(run, status="finished", metrics={"loss": 1.5})
        assert project.runs()[0]["metrics"] == {"loss": 1.5}
        assert project.runs()[0]["status"] == "finished"


def test_arrays_are_atomic_and_round_trip(tmp_path):
    data = make_dataset(tmp_path / "data", {"a": 1})
    with Project.for_dataset(data) as project:
        values = np.random.default_rng(0).normal(size=(10, 4)).astype(np.float32)
        project.arrays.save("embeddings", values)
        assert np.array_equal(project.arrays.load("embeddings"), values)
        assert np.array_equal(project.arrays.load("embeddings", mmap=True), values)
        assert project.arrays.load("absent") is None
        assert list(project.arrays.folder.iterdir()) == [project.arrays.path("embeddings")]
        with pytest.raises(ValueError):
            project.arrays.save("../escape", values)


def _readonly_error(dataset: Path) -> str:
    try:
        Project.for_dataset(dataset).close()
    except SieveError as error:
        return str(error)
    return "no error"


def test_read_only_dataset_suggests_project_option(tmp_path):
    """A dataset the user cannot write to: a clear message, and nothing written there."""
    shared = Path(tempfile.mkdtemp(prefix="sieve-ro-"))
    try:
        shared.chmod(0o755)
        dataset = make_dataset(shared / "data", {"a": 2})
        for folder in [dataset, dataset / "a"]:
            folder.chmod(0o555)
        message = _run_as_unprivileged(_readonly_error, dataset)
        assert "--project" in message and "read-only" in message
        assert sorted(p.name for p in dataset.iterdir()) == ["a"]
        with Project.for_dataset(dataset, tmp_path / "project") as project:
            assert project.dataset_root == dataset.resolve()
    finally:
        for folder in [shared / "data", shared / "data" / "a"]:
            folder.chmod(0o755)


def _run_as_unprivileged(function, *args) -> str:
    """Call ``function`` in a forked child that cannot write the dataset (drops root first)."""
    if os.geteuid() != 0:
        return function(*args)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        try:
            os.setgid(65534)
            os.setuid(65534)
            result = function(*args)
        except BaseException as error:
            result = f"child failed: {error!r}"
        os.write(write, result.encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        output = pipe.read().decode()
    os.waitpid(pid, 0)
    return output


def test_db_file_is_in_project_folder(tmp_path):
    data = make_dataset(tmp_path / "data", {"a": 1})
    Project.for_dataset(data).close()
    assert (data / ".sieve" / DB_NAME).is_file()


def version_1_project(folder: Path, dataset: Path) -> Path:
    """A project folder as the first release wrote it: one file, one tagged sample."""
    folder.mkdir()
    conn = sqlite3.connect(folder / DB_NAME)
    conn.executescript(MIGRATIONS[0] + "PRAGMA user_version = 1;")
    with conn:
        conn.execute("INSERT INTO meta VALUES ('dataset_root', ?)", (str(dataset),))
        conn.execute(
            "INSERT INTO files(relpath, kind, size, mtime_ns, status) "
            "VALUES ('a/000.png', 'image', 1, 1, 'ok')"
        )
        conn.execute("INSERT INTO samples(file_id, label, status) VALUES (1, 'a', 'ok')")
        conn.execute("INSERT INTO tags(name) VALUES ('keep')")
        conn.execute("INSERT INTO sample_tags VALUES (1, 1)")
    conn.close()
    return folder


def test_a_first_release_project_opens_upgraded_with_its_rows(tmp_path):
    data = make_dataset(tmp_path / "data", {"a": 1})
    folder = version_1_project(tmp_path / "old", data)
    with Project.open(folder) as project:
        assert project.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert [(row.id, row.relpath, row.status) for row in project.samples()] == [
            (1, "a/000.png", "ok")
        ]
        assert project.tagged(project.tag_id("keep")) == [1]
        assert project.missing_count() == 0 and project.summary()["missing"] == 0


def test_an_upgraded_project_indexes_only_broken_samples_by_status(tmp_path):
    data = make_dataset(tmp_path / "data", {"a": 1})
    with Project.open(version_1_project(tmp_path / "old", data)) as project:
        indexes = dict(
            project.db.execute("SELECT name, sql FROM sqlite_master WHERE tbl_name = 'samples'")
        )
        assert "samples_status" not in indexes and "samples_label" not in indexes
        files = {row[1] for row in project.db.execute("PRAGMA index_list(files)")}
        assert "files_pending" not in files and "files_missing" in files  # schema 8
        assert indexes["samples_broken"].endswith("WHERE status = 'broken'")
        query = "EXPLAIN QUERY PLAN SELECT id FROM samples WHERE status = 'broken'"
        assert "samples_broken" in " ".join(row[3] for row in project.db.execute(query))


def test_the_status_index_upgrade_can_run_again(tmp_path):
    """Two processes that upgrade one project at once both run it: the second must not fail."""
    conn = sqlite3.connect(tmp_path / DB_NAME)
    migrate(conn)
    conn.executescript(MIGRATIONS[5])
    names = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert "samples_broken" in names and "samples_status" not in names
    conn.close()


def test_the_label_index_upgrade_can_run_again_and_labels_are_still_counted(tmp_path):
    data = make_dataset(tmp_path / "data", {"a": 1})
    with Project.open(version_1_project(tmp_path / "old", data)) as project:
        project.db.executescript(MIGRATIONS[6])  # a second process upgrading at once
        names = {row[0] for row in project.db.execute("SELECT name FROM sqlite_master")}
        assert "samples_label" not in names
        assert project.label_counts() == {"a": 1}
        assert [row.relpath for row in project.samples(label="a")] == ["a/000.png"]
        assert project.samples(label="b") == []


def test_labels_are_the_paths_first_folders_whatever_the_old_label_column_holds(tmp_path):
    """Schema 8 stores no labels: an older project's column (here stale) and a new row's NULL
    both read as the file's first folder, in rows, counts, the label filter and statistics."""
    odd = os.fsdecode(b"caf\xe9")
    data = make_dataset(tmp_path / "data", {"a": 1})
    with Project.open(version_1_project(tmp_path / "old", data)) as project, project.db:
        project.db.execute("UPDATE samples SET label = 'stale'")
        for number, relpath in enumerate([f"{odd}/1.png", "top.png", "b/c/2.png"], start=2):
            project.db.execute(
                "INSERT INTO files(relpath, kind, size, mtime_ns, status) "
                "VALUES (CAST(? AS TEXT), 'image', 1, 1, 'ok')",
                (raw(relpath),),
            )
            project.db.execute("INSERT INTO samples(file_id, status) VALUES (?, 'ok')", (number,))
    with Project.open(tmp_path / "old") as project:
        assert [(row.relpath, row.label) for row in project.samples()] == [
            ("a/000.png", "a"),
            ("b/c/2.png", "b"),
            (f"{odd}/1.png", odd),
            ("top.png", None),
        ]
        assert project.label_counts() == {"a": 1, "b": 1, odd: 1}
        assert project.label_count() == 3
        assert [row.relpath for row in project.samples(label=odd)] == [f"{odd}/1.png"]
        assert project.samples(label="stale") == []
        assert sorted(map(str, read_stats(project).labels)) == ["None", "a", "b", odd]


def test_text_that_is_not_utf8_round_trips_exactly(tmp_path):
    conn = connect(tmp_path / "x.sqlite")
    conn.execute("CREATE TABLE t (name TEXT UNIQUE)")
    names = [os.fsdecode(b"caf\xe9.png"), "café.png", os.fsdecode(b"\xff\xfe/\x80"), "plain"]
    conn.executemany("INSERT INTO t VALUES (CAST(? AS TEXT))", ((raw(n),) for n in names))
    stored = [row[0] for row in conn.execute("SELECT name FROM t ORDER BY rowid")]
    assert stored == names
    assert [row[0] for row in conn.execute("SELECT typeof(name) FROM t")] == ["text"] * 4
    query = "SELECT rowid FROM t WHERE name = CAST(? AS TEXT)"
    assert [conn.execute(query, (raw(n),)).fetchone()[0] for n in names] == [1, 2, 3, 4]


@pytest.mark.parametrize(
    "damage",
    [
        lambda path: path.write_bytes(b"this is not a database " * 100),
        lambda path: sqlite3.connect(path).executescript("CREATE TABLE thumbs (x);"),
        lambda path: path.write_bytes(_malformed_cache(path)),
    ],
    ids=["garbage", "wrong schema", "malformed"],
)
def test_a_broken_thumbnail_cache_is_set_aside_and_made_again(tmp_path, damage, caplog):
    path = tmp_path / "thumbs.sqlite"
    damage(path)
    cache = ThumbCache(path)
    assert cache.set_aside is not None and cache.set_aside.parent == tmp_path
    assert cache.set_aside.name.startswith("thumbs.sqlite.broken-")
    cache.put_many([(1, b"jpeg")])
    assert cache.get(1) == b"jpeg" and cache.count() == 1
    cache.close()
    assert "thumbnail cache was broken" in caplog.text
    again = ThumbCache(path)
    assert again.set_aside is None and again.get(1) == b"jpeg"
    again.close()


def _malformed_cache(path: Path) -> bytes:
    """A real cache with pages overwritten: the header is fine, the rest is not."""
    cache = ThumbCache(path)
    cache.put_many((i, os.urandom(3000)) for i in range(300))
    cache.close()
    data = bytearray(path.read_bytes())
    data[100:4096] = os.urandom(3996)
    for sidecar in ("-wal", "-shm"):
        path.with_name(path.name + sidecar).unlink(missing_ok=True)
    return bytes(data)


def test_a_thumbnail_reader_opens_nothing_until_it_reads_and_never_writes(tmp_path):
    path = tmp_path / "thumbs.sqlite"
    reader = ThumbReader(path)
    assert reader.get(1) is None and not path.exists(), "a reader never creates the cache"
    cache = ThumbCache(path)  # made after the reader, as the index process does
    cache.put_many([(1, b"jpeg")])
    assert reader.get(1) == b"jpeg" and reader.get(2) is None
    cache.close()
    reader.close()
    path.unlink()
    for sidecar in ("-wal", "-shm"):
        path.with_name(path.name + sidecar).unlink(missing_ok=True)
    path.write_bytes(b"not a database")
    broken = ThumbReader(path)
    assert broken.get(1) is None
    assert path.read_bytes() == b"not a database", "a reader neither repairs nor sets aside"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["thumbs.sqlite"]
    broken.close()
