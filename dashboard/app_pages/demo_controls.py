"""demo_controls (being built)."""

import streamlit as st

st.title("demo_controls")
