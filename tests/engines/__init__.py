"""Index engines that exist for the tests: small, real implementations of the protocols."""
