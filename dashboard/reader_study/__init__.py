"""The reader study: set up forms, readers and links, the reading page, results."""
