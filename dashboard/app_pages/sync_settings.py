"""sync_settings (being built)."""

import streamlit as st

st.title("sync_settings")
