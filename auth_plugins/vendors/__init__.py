"""The built-in vendors, registered through the same hook as third-party ones."""
