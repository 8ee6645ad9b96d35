"""The Gradio web chat: ui/app.py lays out the page, ui/server.py starts it."""
