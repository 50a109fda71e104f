"""Qt-free view state shared by the GUI's views: ``AppState`` (filter, selection, current sample,
highlights, colour-by), ``filtering`` (which rows a filter shows) and ``map_sources`` (what the
map panel draws). No Qt here (tested), so it is tested without a display."""
