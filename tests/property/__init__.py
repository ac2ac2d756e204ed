"""Property-based tests: hostile input (config files, threshold expressions, platform JSON, remote text in
reports) never produces anything but the documented result or the documented error."""
