"""App-side Streamlit code of the dashboard (the frame, state, filters, data, caching, widgets)."""
