"""The quarterly inter-institutional report: figures, charts, HTML and PDF, delivery."""
