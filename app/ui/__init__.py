"""The desktop app (PySide6): the main window and menus, one package per panel (browser, detail,
map, scatter, training, selection, active, tags, dialogs) and the shared widgets."""
