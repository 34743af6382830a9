"""Back-office and tenant-admin REST API (`/admin/v1`)."""
