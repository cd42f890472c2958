"""The dashboard's pages (run through ``st.navigation`` in ``dashboard/app.py``)."""
