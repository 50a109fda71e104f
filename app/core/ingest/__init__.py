"""From a folder to a project: ``index_job`` (rows listed first as pending, then decoded with the
rows on screen first via ``VisibleFirst``; incremental, resumable, missing files kept),
thumbnails for what lacks them, and the bundled demo project."""
