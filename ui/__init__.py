"""Templates and static files for pods and admin pages, shipped as package data."""
