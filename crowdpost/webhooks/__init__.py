"""webhooks: Toloka's webhook subscriptions and their signed deliveries."""
