"""Developer tools outside the app package (screenshots.py: every page in headless Chromium)."""
