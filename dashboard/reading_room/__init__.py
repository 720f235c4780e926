"""The reading room: Browse PIEs, its loaders, logic and words, and the viewer component
(its JavaScript, CSS and HTML in static/)."""
