"""Everything that speaks Clockwork's REST API: the contract, the httpx client, its deadline and its domain errors."""
