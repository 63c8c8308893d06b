"""Everything that speaks Clockwork's REST API: the httpx client, its domain errors and the simulator."""
