"""The lab's EKS: moto's clusters and node groups plus access entries, add-ons, updates and the access configuration."""
