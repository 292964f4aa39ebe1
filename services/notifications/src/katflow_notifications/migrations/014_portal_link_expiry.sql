-- Expired page links are deleted (service_layer/link_purge.py): found by their expiry.
CREATE INDEX portal_links_expiry ON portal_links (expires_at);
