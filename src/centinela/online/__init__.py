"""Online-market monitoring: connectors, classifier, entity extraction and leads."""
