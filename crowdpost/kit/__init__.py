"""Domain-free helpers: ids, money, time, JSON, pagination."""
