"""The Streamlit dashboard: customer-success staff audit and configure Clockwork Sync.

``app.py`` only routes; each script under ``app_pages/`` renders one page from the service layer.
"""
