"""sync_log (being built)."""

import streamlit as st

st.title("sync_log")
