"""email: notification settings, e-mail addresses and their verification, the SMTP channel."""
