"""activity (being built)."""

import streamlit as st

st.title("activity")
