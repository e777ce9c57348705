"""One widget per module; widgets bind to data handed to them and never read files themselves."""
