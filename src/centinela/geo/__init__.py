"""Geographic analysis: regional consumption against population and facilities."""
