"""OakTree's benchmarks: each prints markdown tables of ratios measured side by side in one run."""
