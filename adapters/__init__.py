"""One module per platform: each turns its platform's events into core events and
implements the `Platform` protocol. Only modules here import a platform SDK."""
