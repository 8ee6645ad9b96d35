"""From ranked passages to an answer: the Reader protocol and the extractive reader."""
