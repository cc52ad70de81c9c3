"""The money loop: the KPI-red backlog and its recovery queue, claims and payments, quarantine,
the funnel, gap analysis and origins."""
