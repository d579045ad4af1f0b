"""Every statement of the workforce domain, one module per resource (mirroring `service/`).

Functions take a session and plain values and return rows or ids; they raise no API
errors (the services decide what a missing row means). `filters.py` is the compiler from
Toloka filter JSON to a SQL condition that `audience` embeds."""
