"""Feedback: satisfaction, contact reasons, problems and the knowledge base."""
