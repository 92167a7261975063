"""Signal pipeline: step events, loading estimates, session totals, file I/O and the live worker."""
