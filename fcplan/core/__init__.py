"""Core: settings, the panel shape, quantiles, frequency, calendar, time, contracts.

The ground floor: imports nothing else of fcplan."""
