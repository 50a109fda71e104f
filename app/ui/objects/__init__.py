"""Objects (boxes and masks) in the GUI: the per-project object layer loaded off the GUI thread,
the object filter button, the class histogram dock and their installation in the main window."""
