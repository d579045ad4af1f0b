"""The background job loop: claims job rows and runs their handlers."""
