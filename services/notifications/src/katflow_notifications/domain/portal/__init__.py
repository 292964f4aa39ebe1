"""The patient's page: signed links, the second factor, and what the page shows (pure rules)."""
