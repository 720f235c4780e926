"""What every room of the dashboard uses: safe text, URL state, filters, sidebar, studies,
loaders, charts."""
