"""Real-browser end-to-end tests: `streamlit run app.py` driven by Debian chromium through Playwright."""
