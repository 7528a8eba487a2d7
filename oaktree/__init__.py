"""OakTree business logic: plain Python with no Prefect or Streamlit import.

`flows/` orchestrates these modules and `dashboards/` presents them.
"""
