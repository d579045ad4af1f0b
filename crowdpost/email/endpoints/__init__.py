"""The notification-settings API for requesters and Tolokers."""
