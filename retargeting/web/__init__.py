"""What the platform's web requests share: security headers, client addresses, rate limits,
the strict JSON reader."""
