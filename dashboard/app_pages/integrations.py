"""integrations (being built)."""

import streamlit as st

st.title("integrations")
