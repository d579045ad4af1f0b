"""The workforce services, one module per resource: `check_*` validates and raises, `do_*`
writes (flush, never commit), `get_*`/`list_*` read through `workforce.repository`.
No SQL text here and no HTTP: endpoints, the CLI and other domains call these."""
