"""From a folder to a project: ``index_job`` (incremental, missing files kept), thumbnails for
what lacks them, and the bundled demo project."""
