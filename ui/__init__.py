"""Gradio web chat for the news QA assistant (see ui/app.py)."""
