"""Server-rendered pages: one more interface over the same services as the API.

app.py          mount_pages(app): routes, static files, HTML error pages, security headers
templating.py   one Jinja2 environment; a page and its htmx fragments share a template
session.py      the signed-in requester of a page request, and the CSRF check
requester/      the requester's pages (sign-in, messages, compose, profile)
"""
