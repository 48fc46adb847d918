"""Todo API service."""
