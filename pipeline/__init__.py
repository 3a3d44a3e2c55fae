"""teilhabe-monitor: quarterly monitoring of integration programmes in rural districts."""
