"""The load engine as a library: pacer (when sends are due), metrics (counters and latency
histograms), and the transport, worker, supervisor and collector modules built on them."""
