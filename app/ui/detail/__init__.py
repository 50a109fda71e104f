"""The detail view: one sample at full resolution with its information and neighbours."""
