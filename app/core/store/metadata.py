"""Per-sample lookups beyond :class:`SampleRow`: stored metadata (scores) and sibling frames."""

from __future__ import annotations

from app.core.store.project import Project


def sample_metadata(project: Project, sample_id: int) -> dict[str, object]:
    """Every metadata key of one sample with its value, ordered by key."""
    query = "SELECT key, value FROM metadata WHERE sample_id = ? ORDER BY key"
    return dict(project.db.execute(query, (int(sample_id),)).fetchall())


def adjacent_frame(project: Project, sample_id: int, step: int) -> int | None:
    """The sampled frame of the same video after (``step`` > 0) or before (< 0) this one.

    None for an image, or at the first / last sampled frame.
    """
    later = step > 0
    query = (
        "SELECT other.id FROM samples this JOIN samples other ON other.file_id = this.file_id "
        f"WHERE this.id = ? AND this.frame IS NOT NULL AND other.frame {'>' if later else '<'} "
        f"this.frame ORDER BY other.frame {'ASC' if later else 'DESC'} LIMIT 1"
    )
    row = project.db.execute(query, (int(sample_id),)).fetchone()
    return None if row is None else row[0]
