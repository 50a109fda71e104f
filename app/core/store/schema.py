"""The project database schema and its migrations, versioned with ``PRAGMA user_version``.

Each migration is a SQL script that moves the schema from version ``i`` to ``i + 1``. Projects made
by any earlier release are upgraded on open; a project made by a newer Sieve is refused.
"""

from __future__ import annotations

import sqlite3

from app.core.errors import SieveError

MIGRATIONS: tuple[str, ...] = (
    # 0 -> 1: the first release.
    """
    CREATE TABLE meta (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    CREATE TABLE files (
        id        INTEGER PRIMARY KEY AUTOINCREMENT,
        relpath   TEXT NOT NULL UNIQUE,
        kind      TEXT NOT NULL CHECK (kind IN ('image', 'video')),
        size      INTEGER NOT NULL,
        mtime_ns  INTEGER NOT NULL,
        status    TEXT NOT NULL CHECK (status IN ('ok', 'broken')),
        reason    TEXT,
        n_frames  INTEGER,
        fps       REAL
    );
    CREATE TABLE samples (
        id       INTEGER PRIMARY KEY AUTOINCREMENT,
        file_id  INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
        frame    INTEGER,
        width    INTEGER,
        height   INTEGER,
        label    TEXT,
        status   TEXT NOT NULL CHECK (status IN ('ok', 'broken')),
        reason   TEXT
    );
    CREATE UNIQUE INDEX samples_file_frame ON samples(file_id, IFNULL(frame, -1));
    CREATE INDEX samples_label ON samples(label);
    CREATE INDEX samples_status ON samples(status);
    CREATE TABLE tags (
        id      INTEGER PRIMARY KEY AUTOINCREMENT,
        name    TEXT NOT NULL UNIQUE,
        color   TEXT NOT NULL DEFAULT '#4c9be8',
        created TEXT NOT NULL DEFAULT (datetime('now'))
    );
    CREATE TABLE sample_tags (
        sample_id INTEGER NOT NULL REFERENCES samples(id) ON DELETE CASCADE,
        tag_id    INTEGER NOT NULL REFERENCES tags(id) ON DELETE CASCADE,
        PRIMARY KEY (sample_id, tag_id)
    ) WITHOUT ROWID;
    CREATE INDEX sample_tags_tag ON sample_tags(tag_id);
    CREATE TABLE selections (
        id       INTEGER PRIMARY KEY AUTOINCREMENT,
        name     TEXT NOT NULL UNIQUE,
        strategy TEXT NOT NULL DEFAULT '{}',
        created  TEXT NOT NULL DEFAULT (datetime('now'))
    );
    CREATE TABLE selection_members (
        selection_id INTEGER NOT NULL REFERENCES selections(id) ON DELETE CASCADE,
        position     INTEGER NOT NULL,
        sample_id    INTEGER NOT NULL REFERENCES samples(id) ON DELETE CASCADE,
        score        REAL,
        PRIMARY KEY (selection_id, position)
    ) WITHOUT ROWID;
    CREATE TABLE runs (
        id         INTEGER PRIMARY KEY AUTOINCREMENT,
        kind       TEXT NOT NULL,
        config     TEXT NOT NULL DEFAULT '{}',
        status     TEXT NOT NULL DEFAULT 'created',
        metrics    TEXT NOT NULL DEFAULT '{}',
        checkpoint TEXT,
        created    TEXT NOT NULL DEFAULT (datetime('now')),
        updated    TEXT NOT NULL DEFAULT (datetime('now'))
    );
    CREATE TABLE metadata (
        sample_id INTEGER NOT NULL REFERENCES samples(id) ON DELETE CASCADE,
        key       TEXT NOT NULL,
        value,
        PRIMARY KEY (sample_id, key)
    ) WITHOUT ROWID;
    CREATE INDEX metadata_key ON metadata(key);
    """,
    # 1 -> 2: files no longer found are kept, marked missing, until the user prunes them.
    """
    ALTER TABLE files ADD COLUMN missing INTEGER NOT NULL DEFAULT 0;
    CREATE INDEX files_missing ON files(missing) WHERE missing;
    """,
    # 2 -> 3: progressive indexing (rows listed before their files are decoded) and the image
    # statistics measured from the same decode (brightness, sharpness, hashes, ...).
    """
    ALTER TABLE files ADD COLUMN pending INTEGER NOT NULL DEFAULT 0;
    CREATE INDEX files_pending ON files(pending) WHERE pending;
    CREATE TABLE sample_stats (
        sample_id     INTEGER PRIMARY KEY REFERENCES samples(id) ON DELETE CASCADE,
        brightness    REAL,
        contrast      REAL,
        colourfulness REAL,
        sharpness     REAL,
        entropy       REAL,
        content_hash  TEXT,
        phash         INTEGER
    );
    CREATE INDEX sample_stats_content_hash ON sample_stats(content_hash);
    """,
    # 3 -> 4: annotations: objects (boxes, optional masks, scores) from named sources.
    """
    CREATE TABLE annotation_sources (
        id      INTEGER PRIMARY KEY AUTOINCREMENT,
        name    TEXT NOT NULL UNIQUE,
        kind    TEXT NOT NULL CHECK (kind IN ('ground_truth', 'predictions')),
        format  TEXT NOT NULL,
        origin  TEXT,
        classes TEXT NOT NULL DEFAULT '[]',
        created TEXT NOT NULL DEFAULT (datetime('now'))
    );
    CREATE TABLE objects (
        id        INTEGER PRIMARY KEY AUTOINCREMENT,
        sample_id INTEGER NOT NULL REFERENCES samples(id) ON DELETE CASCADE,
        source_id INTEGER NOT NULL REFERENCES annotation_sources(id) ON DELETE CASCADE,
        label     TEXT NOT NULL,
        x         REAL NOT NULL,
        y         REAL NOT NULL,
        w         REAL NOT NULL,
        h         REAL NOT NULL,
        score     REAL,
        iscrowd   INTEGER NOT NULL DEFAULT 0,
        mask      TEXT
    );
    CREATE INDEX objects_sample ON objects(sample_id, source_id);
    CREATE INDEX objects_source_label ON objects(source_id, label);
    """,
    # 4 -> 5: selections of objects: the picked objects in pick order (their images are the
    # selection's members, so image-level exports read them as before).
    """
    ALTER TABLE selections ADD COLUMN kind TEXT NOT NULL DEFAULT 'images'
        CHECK (kind IN ('images', 'objects'));
    CREATE TABLE selection_objects (
        selection_id INTEGER NOT NULL REFERENCES selections(id) ON DELETE CASCADE,
        position     INTEGER NOT NULL,
        object_id    INTEGER NOT NULL REFERENCES objects(id) ON DELETE CASCADE,
        score        REAL,
        PRIMARY KEY (selection_id, position)
    ) WITHOUT ROWID;
    CREATE INDEX selection_objects_object ON selection_objects(object_id);
    """,
    # 5 -> 6: only broken samples are looked up by status. An index of every sample's status
    # cost a quarter of the samples' insert time at listing (1M rows), and its churn on each
    # decoded file's update.
    """
    DROP INDEX IF EXISTS samples_status;
    CREATE INDEX IF NOT EXISTS samples_broken ON samples(status) WHERE status = 'broken';
    """,
    # 6 -> 7: no index of labels. A table read takes each sample's label (its file's first
    # folder) from the paths, and the counts per label join the files anyway; the index cost a
    # tenth of a 1M listing's time (6.2-6.9 s, 5.6-5.8 without) and churned on each update.
    """
    DROP INDEX IF EXISTS samples_label;
    """,
    # 7 -> 8: labels are no longer stored. Every reader takes a sample's label from its file's
    # path (label_sql, folders.py); the label column stays, no longer written (a 1M listing
    # spent a tenth of its writer's time cutting the labels out of the paths). An older Sieve,
    # which reads the column, is refused by the version alone. And no index of pending files:
    # a listing made a million entries of it and the probe deleted them one by one (a 1M
    # listing 5.3-5.7 -> 4.7-5.0 s); a whole read finds the pending files by a scan of the
    # files (0.1 s more at 1M), a head read with its files.
    """
    DROP INDEX IF EXISTS files_pending;
    """,
)

SCHEMA_VERSION = len(MIGRATIONS)


def label_sql(path: str = "f.relpath") -> str:
    """SQL for the label of a sample whose file's relative path is the column ``path``: its
    first folder (:func:`~app.core.data.scan.label_of`), NULL for a file at the top."""
    return f"CASE WHEN instr({path}, '/') > 0 THEN substr({path}, 1, instr({path}, '/') - 1) END"


def schema_version(conn: sqlite3.Connection) -> int:
    return conn.execute("PRAGMA user_version").fetchone()[0]


def migrate(conn: sqlite3.Connection) -> int:
    """Bring ``conn``'s schema up to :data:`SCHEMA_VERSION`; return the version it had before."""
    before = schema_version(conn)
    if before > SCHEMA_VERSION:
        raise SieveError(
            f"this project was made by a newer Sieve (schema {before}, this one knows up to "
            f"{SCHEMA_VERSION}): update Sieve to open it"
        )
    for version in range(before, SCHEMA_VERSION):
        script = f"BEGIN;\n{MIGRATIONS[version]}\nPRAGMA user_version = {version + 1};\nCOMMIT;"
        try:
            conn.executescript(script)
        except sqlite3.Error:
            if conn.in_transaction:
                conn.rollback()
            raise
    return before
