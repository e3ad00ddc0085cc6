"""Run: one execution of a plan; the only place that touches asyncio."""
