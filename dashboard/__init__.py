"""The Streamlit dashboard (see the dashboard issue). It reads only through modeldb.warehouse."""
