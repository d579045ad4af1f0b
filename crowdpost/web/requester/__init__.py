"""The requester's pages: each handler parses a form, calls one service, renders or redirects."""
