"""contacts (being built)."""

import streamlit as st

st.title("contacts")
