"""Browser tests: the pages in headless Chromium (Debian's `chromium`, driven by Playwright)."""
